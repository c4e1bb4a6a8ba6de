// `failoverd status`: the running daemon's status file, for people (or as JSON); no privileges.
#include <iostream>

#include "ispfailover/core/status_report.h"
#include "options.h"

namespace ispf {

int run_status_command(Env& env, const std::string& status_file, bool json) {
  auto content = env.read_file(status_file);
  if (!content) {
    std::cerr << "failoverd: error: --status-file: cannot read " << status_file << ": "
              << content.error().message()
              << " (is failoverd running? see systemctl status failoverd)\n";
    return kExitRuntime;
  }
  if (json) {
    std::cout << *content;
    return kExitOk;
  }
  auto table = render_status_table(*content);
  if (!table) {
    std::cerr << "failoverd: error: --status-file: " << status_file << ": " << table.error()
              << "\n";
    return kExitRuntime;
  }
  std::cout << *table;
  return kExitOk;
}

}  // namespace ispf
