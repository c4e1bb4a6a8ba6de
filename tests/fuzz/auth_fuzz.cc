// libFuzzer target: HMAC tag verification, key-file parsing, and tampering with a signed datagram.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "ispfailover/core/auth.h"
#include "ispfailover/core/status_message.h"

namespace {

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = {"correct horse battery staple",
                                                "another sixteen+ character key"};
  return keys;
}

std::string SignedDatagram() {
  ispf::Status s;
  s.name = "isp1";
  s.instance = 0x0123456789abcdefULL;
  s.seq = 7;
  s.time_ms = 1795000000000ULL;
  s.state = ispf::LinkState::kUp;
  s.reason = "probe-ok";
  s.heartbeat_ms = 300;
  s.targets = 2;
  s.targets_up = 2;
  s.rtt_avg_us = 11500;
  s.window_ms = 30000;
  return ispf::sign_datagram(ispf::encode(s), Keys()[0]);
}

std::span<const char> Span(std::string_view text) { return {text.data(), text.size()}; }

// Arbitrary bytes as a datagram: a tag that verifies must be the one sign_datagram makes.
void VerifyArbitrary(std::string_view input) {
  auto verified = ispf::verify_datagram(Span(input), Keys());
  if (!verified) {
    FUZZ_CHECK(ispf::to_string(verified.error()) != "unknown");
    return;
  }
  FUZZ_CHECK(*verified < Keys().size());
  std::size_t body_size = input.size() - (ispf::kTagKey.size() + ispf::kTagHexLength + 1);
  std::string body(input.substr(0, body_size));
  FUZZ_CHECK(ispf::sign_datagram(body, Keys()[*verified]) == input);
}

// Arbitrary bytes as a key file: what it accepts are trimmed keys of the minimum length.
void ParseKeyFile(std::string_view input) {
  auto keys = ispf::parse_key_file(input);
  if (!keys) {
    FUZZ_CHECK(!keys.error().empty());
    return;
  }
  FUZZ_CHECK(!keys->empty());
  for (const std::string& key : *keys) {
    FUZZ_CHECK(key.size() >= ispf::kMinKeyLength);
    FUZZ_CHECK(key.size() <= input.size());
    FUZZ_CHECK(key.front() != '#' && key.front() != ' ' && key.front() != '\t');
    FUZZ_CHECK(key.back() != ' ' && key.back() != '\t' && key.back() != '\r');
    FUZZ_CHECK(key.find('\n') == std::string::npos);
  }
}

// Arbitrary bytes as a body: signed with the second key, a line-terminated body verifies as 1.
void SignArbitrary(std::string_view input) {
  std::string signed_input = ispf::sign_datagram(std::string(input), Keys()[1]);
  auto verified = ispf::verify_datagram(Span(signed_input), Keys());
  if (!input.empty() && input.back() == '\n') {
    FUZZ_CHECK(verified.has_value());
    FUZZ_CHECK(*verified == 1);
  }
}

// The input as edits to a good signed datagram, 3 bytes each: a position (2 bytes, big endian)
// and an op byte whose top two bits choose flip bits / insert / delete / cut short. The edited
// datagram must verify exactly when it is byte for byte the original.
void TamperWithSigned(std::string_view input) {
  static const std::string original = SignedDatagram();
  std::string edited = original;
  for (std::size_t i = 0; i + 3 <= input.size(); i += 3) {
    auto pos_raw = (static_cast<std::size_t>(static_cast<std::uint8_t>(input[i])) << 8) |
                   static_cast<std::uint8_t>(input[i + 1]);
    auto op = static_cast<std::uint8_t>(input[i + 2]);
    std::size_t pos = pos_raw % (edited.size() + 1);
    switch (op >> 6) {
      case 0:  // flip bits of one byte (op's low 6 bits, at least one bit)
        if (pos < edited.size()) edited[pos] = static_cast<char>(edited[pos] ^ ((op & 0x3f) | 1));
        break;
      case 1:  // insert a byte
        edited.insert(pos, 1, static_cast<char>((op & 0x3f) | 0x20));
        break;
      case 2:  // delete a byte
        if (pos < edited.size()) edited.erase(pos, 1);
        break;
      default:  // cut the datagram short
        edited.resize(pos);
        break;
    }
  }
  auto verified = ispf::verify_datagram(Span(edited), Keys());
  FUZZ_CHECK(verified.has_value() == (edited == original));
  if (verified) FUZZ_CHECK(*verified == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  VerifyArbitrary(input);
  ParseKeyFile(input);
  SignArbitrary(input);
  TamperWithSigned(input);
  return 0;
}
