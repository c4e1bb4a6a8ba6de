// HMAC-SHA256 tags on status datagrams (libsodium), constant-time verification.
#include "ispfailover/core/auth.h"

#include <sodium.h>

#include <array>

namespace ispf {
namespace {

using Mac = std::array<unsigned char, 32>;

Mac hmac_sha256(std::string_view key, std::string_view data) {
  // sodium_init() is idempotent and thread-safe; HMAC needs nothing else from it.
  static const bool initialised = sodium_init() >= 0;
  (void)initialised;
  static_assert(crypto_auth_hmacsha256_BYTES == std::tuple_size_v<Mac>);
  Mac mac{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

std::string to_hex(const Mac& mac) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : mac) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::string_view to_string(AuthError error) {
  switch (error) {
    case AuthError::kMissingTag:
      return "no-tag";
    case AuthError::kMalformedTag:
      return "malformed-tag";
    case AuthError::kBadTag:
      return "bad-tag";
  }
  return "unknown";
}

Result<std::vector<std::string>, std::string> parse_key_file(std::string_view content) {
  std::vector<std::string> keys;
  std::size_t line_number = 0;
  while (!content.empty()) {
    auto end = content.find('\n');
    std::string_view line = trim(content.substr(0, end));
    content = end == std::string_view::npos ? std::string_view{} : content.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    if (line.size() < kMinKeyLength) {
      return fail("line " + std::to_string(line_number) + ": a key must be at least " +
                  std::to_string(kMinKeyLength) +
                  " characters; make one with `head -c 32 /dev/urandom | base64`");
    }
    keys.emplace_back(line);
  }
  if (keys.empty()) {
    return fail(
        std::string("no key in the file; put one per line, e.g. from "
                    "`head -c 32 /dev/urandom | base64`"));
  }
  return keys;
}

std::string sign_datagram(std::string body, std::string_view key) {
  std::string tag = to_hex(hmac_sha256(key, body));
  body.append(kTagKey).append(tag).append("\n");
  return body;
}

Result<std::size_t, AuthError> verify_datagram(std::span<const char> datagram,
                                               const std::vector<std::string>& keys) {
  std::string_view text(datagram.data(), datagram.size());
  constexpr std::size_t kTagLine = kTagKey.size() + kTagHexLength + 1;
  // The tag line is the last line; the one before it ends with '\n'.
  auto tag_start = text.size() >= 1 ? text.rfind('\n', text.size() - 2) : std::string_view::npos;
  if (text.size() < 2 || tag_start == std::string_view::npos) return fail(AuthError::kMissingTag);
  ++tag_start;
  std::string_view tag_line = text.substr(tag_start);
  if (tag_line.substr(0, kTagKey.size()) != kTagKey) return fail(AuthError::kMissingTag);
  if (tag_line.size() != kTagLine || tag_line.back() != '\n') {
    return fail(AuthError::kMalformedTag);
  }
  std::string_view hex = tag_line.substr(kTagKey.size(), kTagHexLength);
  Mac claimed{};
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int high = nibble(hex[2 * i]);
    int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return fail(AuthError::kMalformedTag);
    claimed[i] = static_cast<unsigned char>(high << 4 | low);
  }
  std::string_view body = text.substr(0, tag_start);
  for (std::size_t k = 0; k < keys.size(); ++k) {
    Mac expected = hmac_sha256(keys[k], body);
    if (sodium_memcmp(expected.data(), claimed.data(), expected.size()) == 0) return k;
  }
  return fail(AuthError::kBadTag);
}

}  // namespace ispf
