// Capabilities: checking the one a daemon needs, and dropping every other.
#pragma once

#include <string>
#include <system_error>

namespace ispf {

// True if the process has `capability` (e.g. CAP_NET_RAW) in its effective set.
bool has_capability(int capability);
// Keeps only `capability` (effective, permitted) and drops the rest; a no-op without privileges.
std::error_code keep_only_capability(int capability);

}  // namespace ispf
