// Loading the shared key file: refuses a file that others can read or that someone other than
// root or us could rewrite, or that holds no key.
#include "ispfailover/io/key_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ispfailover/core/auth.h"

namespace ispf {
namespace {

std::string user_name(uid_t uid) {
  passwd* entry = getpwuid(uid);
  return entry ? std::string(entry->pw_name) : "uid " + std::to_string(uid);
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::vector<std::string>, std::string> load_key_file(const std::string& path) {
  // One open file for the checks and the read: what is checked is what is read.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (file.fd < 0) return fail("cannot read " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) return fail("cannot read " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fail(path + " is not a regular file; give the key file itself");
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return fail(path + " is readable by others (mode " + mode + "); chmod o-rwx " + path);
  }
  // Whoever owns the file can rewrite the key: only root, or the user the daemon runs as.
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return fail(path + " is owned by " + user_name(st.st_uid) +
                ", who could change the key; chown root " + path +
                " (or to the daemon's own user)");
  }
  std::string content;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(file.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > (1u << 20)) return fail(path + " is larger than 1 MiB: not a key file");
  }
  auto keys = parse_key_file(content);
  if (!keys) return fail(path + ": " + keys.error());
  return keys;
}

}  // namespace ispf
