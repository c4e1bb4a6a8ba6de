// Loading the shared key file: refuses a file that others can read, or that holds no key.
#include "ispfailover/io/key_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ispfailover/core/auth.h"

namespace ispf {

Result<std::vector<std::string>, std::string> load_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail("cannot read " + path + ": " + std::strerror(errno));
  }
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return fail(path + " is readable by others (mode " + mode + "); chmod o-rwx " + path);
  }
  std::ifstream in(path);
  if (!in) return fail("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream content;
  content << in.rdbuf();
  auto keys = parse_key_file(content.str());
  if (!keys) return fail(path + ": " + keys.error());
  return keys;
}

}  // namespace ispf
