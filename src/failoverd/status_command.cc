// `failoverd status`: the running daemon's status file, for people (or as JSON); no privileges.
#include <fstream>
#include <iostream>
#include <sstream>

#include "ispfailover/core/status_report.h"
#include "options.h"

namespace ispf {

int run_status_command(const std::string& status_file, bool json) {
  std::ifstream in(status_file);
  if (!in) {
    std::cerr << "failoverd: error: --status-file: cannot read " << status_file
              << " (is failoverd running? see systemctl status failoverd)\n";
    return kExitRuntime;
  }
  std::stringstream content;
  content << in.rdbuf();
  if (json) {
    std::cout << content.str();
    return kExitOk;
  }
  auto table = render_status_table(content.str());
  if (!table) {
    std::cerr << "failoverd: error: --status-file: " << status_file << ": " << table.error()
              << "\n";
    return kExitRuntime;
  }
  std::cout << *table;
  return kExitOk;
}

}  // namespace ispf
