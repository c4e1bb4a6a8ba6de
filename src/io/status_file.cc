// Atomic file replacement: readers see the old content or the new, never a mix.
#include "status_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace ispf {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

// An unguessable name next to `path`, so two writers or a planted file never collide with it.
std::string temp_name(const std::string& path) {
  std::uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce)) {
    nonce = static_cast<std::uint64_t>(::getpid()) ^ reinterpret_cast<std::uintptr_t>(&nonce);
  }
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp.%016llx", static_cast<unsigned long long>(nonce));
  return path + suffix;
}

std::error_code write_all(int fd, std::string_view content) {
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    written += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

std::error_code write_file_atomically(const std::string& path, std::string_view content) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return {ec.value(), std::system_category()};
  }
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temp = temp_name(path);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) return last_error();
  }
  if (fd < 0) return last_error();
  // The umask must not make the file unreadable for `failoverd status` run by others.
  std::error_code ec;
  if (::fchmod(fd, 0644) != 0) ec = last_error();
  if (!ec) ec = write_all(fd, content);
  if (::close(fd) != 0 && !ec) ec = last_error();
  // rename(2) replaces a symbolic link at `path` itself; it never follows it.
  if (!ec && ::rename(temp.c_str(), path.c_str()) != 0) ec = last_error();
  if (ec) ::unlink(temp.c_str());
  return ec;
}

}  // namespace ispf
