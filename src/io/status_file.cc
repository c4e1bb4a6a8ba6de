// Atomic file replacement: readers see the old content or the new, never a mix.
#include "ispfailover/io/status_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ispf {

std::error_code write_file_atomically(const std::string& path, std::string_view content) {
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return {errno, std::system_category()};
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::error_code ec{errno, std::system_category()};
      ::close(fd);
      ::unlink(temp.c_str());
      return ec;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    std::error_code ec{errno, std::system_category()};
    ::unlink(temp.c_str());
    return ec;
  }
  return {};
}

}  // namespace ispf
