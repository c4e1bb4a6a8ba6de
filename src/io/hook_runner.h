// The real side of hooks: reading a hook directory, and running a hook without our privileges.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "ispfailover/io/env.h"

namespace ispf {

IoResult<HookListing> list_hook_dir(const std::string& dir);

// fork+execve with `environment` only, stdin /dev/null, stdout and stderr into a pipe read on
// `io`, in a new session (its own process group), with no capabilities (ambient, effective,
// permitted, inheritable, and the bounding set where we may drop it, so that not even a root
// daemon's hook regains any at exec) and no_new_privs. The exit is learnt through a pidfd.
IoResult<std::unique_ptr<HookProcess>> start_hook(asio::io_context& io, const std::string& path,
                                                  const std::vector<std::string>& environment,
                                                  HookCallbacks callbacks);

}  // namespace ispf
