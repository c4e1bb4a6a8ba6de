// Authentication of status datagrams: an HMAC-SHA256 tag as the last line, keys from a file.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/result.h"
#include "ispfailover/core/status_message.h"

namespace ispf {

// With a key, a datagram ends with one more line (docs/protocol.md, "Authentication"):
//
//   tag-line = "hmac=" 64( %x30-39 / %x61-66 ) LF   ; HMAC-SHA256, lower-case hex
//
// computed with the key over every byte before the tag line (magic line included). The tag
// covers instance, seq and time_ms, which is what makes replay protection possible.
inline constexpr std::string_view kTagKey = "hmac=";
inline constexpr std::size_t kTagHexLength = 64;
// What is left of a datagram for the body once the tag line is appended.
inline constexpr std::size_t kMaxSignedBodyBytes =
    kMaxDatagramBytes - kTagKey.size() - kTagHexLength - 1;
inline constexpr std::size_t kMinKeyLength = 16;

enum class AuthError { kMissingTag, kMalformedTag, kBadTag };
std::string_view to_string(AuthError error);

// The secrets of a key file: one per line, blank lines and "#" comments skipped, surrounding
// spaces trimmed, each at least kMinKeyLength bytes. The first signs; all verify (rotation).
Result<std::vector<std::string>, std::string> parse_key_file(std::string_view content);

// `body` (an encoded datagram) with its tag line appended.
std::string sign_datagram(std::string body, std::string_view key);

// Which key's tag the datagram carries (its index), compared in constant time (sodium_memcmp).
Result<std::size_t, AuthError> verify_datagram(std::span<const char> datagram,
                                               const std::vector<std::string>& keys);

}  // namespace ispf
