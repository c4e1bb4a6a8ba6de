// Writing a file atomically (temporary file in the same directory, then rename).
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace ispf {

// Replaces `path` with `content` (mode 0644), creating missing parent directories. A
// symbolic link at `path` is replaced, never written through; the temporary file is created
// exclusively (O_EXCL|O_NOFOLLOW), so a link planted at its name cannot redirect the write.
std::error_code write_file_atomically(const std::string& path, std::string_view content);

}  // namespace ispf
