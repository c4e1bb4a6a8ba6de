// libFuzzer target: ispf::decode on arbitrary bytes; accepted datagrams must round-trip.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_check.h"
#include "ispfailover/core/status_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const char> datagram(reinterpret_cast<const char*>(data), size);
  auto decoded = ispf::decode(datagram);
  if (!decoded) {
    // A refusal names a known error and its detail stays short (and printable) for the logs.
    FUZZ_CHECK(ispf::to_string(decoded.error().error) != "unknown");
    FUZZ_CHECK(decoded.error().detail.size() <= 64);
    for (char c : decoded.error().detail) FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
    return 0;
  }
  const ispf::Status& status = *decoded;

  // What the header promises about an accepted datagram.
  FUZZ_CHECK(size <= ispf::kMaxDatagramBytes);
  FUZZ_CHECK(ispf::is_valid_isp_name(status.name));
  FUZZ_CHECK(status.name.size() <= ispf::kMaxNameLength);
  FUZZ_CHECK(ispf::is_valid_reason(status.reason));
  FUZZ_CHECK(status.heartbeat_ms >= 1 && status.heartbeat_ms <= 3'600'000);
  FUZZ_CHECK(status.targets >= 1 && status.targets <= ispf::kMaxTargets);
  FUZZ_CHECK(status.targets_up <= status.targets);
  FUZZ_CHECK(status.loss_permille <= 1000);

  // Re-encoding gives a datagram that fits, decodes to the same Status, and is canonical.
  std::string encoded = ispf::encode(status);
  FUZZ_CHECK(encoded.size() <= ispf::kMaxDatagramBytes);
  auto again = ispf::decode(std::span<const char>(encoded.data(), encoded.size()));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == status);
  FUZZ_CHECK(ispf::encode(*again) == encoded);
  return 0;
}
