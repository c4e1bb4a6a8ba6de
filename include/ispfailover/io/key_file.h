// Loading the shared key file: refuses a file that others can read, or that holds no key.
#pragma once

#include <string>
#include <vector>

#include "ispfailover/core/result.h"

namespace ispf {

// The keys of `path` (see parse_key_file), or a one-line reason naming what to fix.
Result<std::vector<std::string>, std::string> load_key_file(const std::string& path);

}  // namespace ispf
