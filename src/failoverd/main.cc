// failoverd: keeps this host's default route on the best ISP that is up (see failover_shell.h).
#include <linux/capability.h>

#include "failover_shell.h"
#include "ispfailover/io/run_daemon.h"

int main(int argc, char** argv) {
  return ispf::run_daemon(
      "failoverd", CAP_NET_ADMIN, std::vector<std::string>(argv, argv + argc),
      [](ispf::Env& env) { return std::make_unique<ispf::FailoverShell>(env); });
}
