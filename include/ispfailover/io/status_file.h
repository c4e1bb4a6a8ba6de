// Writing a file atomically (temp file in the same directory, then rename).
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace ispf {

std::error_code write_file_atomically(const std::string& path, std::string_view content);

}  // namespace ispf
