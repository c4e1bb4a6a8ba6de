// ispprobed: probes the internet through this router's uplink and tells the LAN (see
// probe_shell.h).
#include <linux/capability.h>

#include "ispfailover/io/run_daemon.h"
#include "probe_shell.h"

int main(int argc, char** argv) {
  return ispf::run_daemon("ispprobed", CAP_NET_RAW, std::vector<std::string>(argv, argv + argc),
                          [](ispf::Env& env) { return std::make_unique<ispf::ProbeShell>(env); });
}
