// Status datagram wire format v1: what ispprobed broadcasts and failoverd trusts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ispfailover/core/ip_address.h"
#include "ispfailover/core/result.h"

namespace ispf {

// Wire format v1 (docs/protocol.md has the full text and rationale).
//
// A datagram is printable ASCII, at most kMaxDatagramBytes, one field per line, every line ended
// by "\n". The first line is the magic word and the version; the rest are key=value fields in
// any order, each key at most once:
//
//   datagram = "ISPF 1" LF 1*( key "=" value LF )
//   key      = 1*( %x61-7A / DIGIT / "_" )            ; lower-case letters, digits, underscore
//   value    = *( %x21-7E )                            ; printable, no space, may be empty
//
//   ISPF 1                      magic and version; a receiver rejects any other first line
//   name=isp1                   ISP name, 1..32 of [A-Za-z0-9._-]
//   instance=9f86d081884c7d65   random per process start, 16 lower-case hex digits
//   seq=42                      grows by one per datagram for the life of the instance
//   time_ms=1795000000000       sender's wall clock (Unix ms), for humans and replay windows
//   state=up                    "up" or "down", nothing else
//   reason=probe-ok             why: probe-ok, probe-loss, link-down, no-route, starting, ...
//   heartbeat_ms=300            the sender promises a datagram at least this often (1..3600000)
//   targets_up=2                targets that answered the last round
//   targets=2                   targets probed per round (1..16)
//   rtt_last_us=11800           RTT of the last answered probe, microseconds (absent: none yet)
//   rtt_avg_us=11500            mean RTT over the window, microseconds (absent: none yet)
//   loss_pct=4.5                round-trip probe loss over the window, percent, one decimal
//   window_ms=30000             length of that window
//   epoch=1795000000            optional: the sender's start counter, persisted, never going back
//                               (with a key it orders instances, so no clock needs to agree)
//   dns=192.168.56.101,10.0.0.1 optional: the resolvers clients should use while this ISP carries
//                               their traffic, 1..kMaxDnsServers dotted-quad IPv4 addresses
//   ipv6=up,probe-ok,1/2,4.5,12000
//                               optional: the IPv6 verdict when the sender probes IPv6 targets:
//                               state, reason, targets up/targets, loss_pct[, rtt_avg_us], each
//                               as its IPv4 key (absent: IPv4's state stands for IPv6 too)
//   dns6=2001:db8:1::53         optional: IPv6 resolvers, as dns= (1..kMaxDns6Servers RFC 5952
//                               or RFC 4291 addresses, unicast, not link-local: a resolver must be
//                               reachable through a route). A key of its own so that a failoverd
//                               that predates it keeps reading dns=
//   prefix6=2001:db8:1:1::/64   optional: the LAN prefix this ISP routes back (--prefix6), so
//                               that a client picks its own address in it as the source; host
//                               bits zero, length 8..128
//   hmac=...                    reserved for the authentication tag (a later version); a v1
//                               decoder that does not check tags accepts and ignores it
//
// Unknown keys are accepted and ignored (but, like every key, at most once), so a v1 receiver
// understands newer v1 senders. All numbers are unsigned decimal without sign or leading zeros
// beyond "0" (loss_pct may have one decimal); a well-formed number too large for its field is
// out-of-range; anything else is rejected with a reason, never guessed at.

inline constexpr std::string_view kMagicLine = "ISPF 1";
inline constexpr std::size_t kMaxDatagramBytes = 512;
inline constexpr std::size_t kMaxNameLength = 32;
inline constexpr std::uint32_t kMaxTargets = 16;
// The longest heartbeat a datagram may promise and be believed (both sides keep to it): one
// datagram, forged or not, keeps an ISP fresh for at most stale_heartbeats + 1/2 times this
// (or a client's --stale-floor, if longer).
inline constexpr std::uint32_t kMaxHeartbeatMs = 10'000;
// Without a key, a sequence number this far (or farther) behind the newest is a restart of the
// numbering, not a replay: a forged datagram with a huge seq cannot lock the real sender out.
inline constexpr std::uint64_t kUnauthenticatedReplayWindow = 64;
// Resolvers a datagram may announce in dns=: glibc reads at most 3 nameserver lines, and 4 full
// addresses (63 bytes with the key) keep a signed datagram far below kMaxDatagramBytes.
inline constexpr std::size_t kMaxDnsServers = 4;
// IPv6 resolvers in dns6=: 3, as glibc reads no more, and 3 of the longest text (39 bytes each)
// still fit beside everything else.
inline constexpr std::size_t kMaxDns6Servers = 3;

enum class LinkState { kDown, kUp };

struct Status {
  std::string name;
  std::uint64_t instance = 0;
  std::uint64_t seq = 0;
  std::uint64_t time_ms = 0;
  LinkState state = LinkState::kDown;
  std::string reason;
  std::uint32_t heartbeat_ms = 0;
  std::uint32_t targets_up = 0;
  std::uint32_t targets = 0;
  std::optional<std::uint32_t> rtt_last_us;
  std::optional<std::uint32_t> rtt_avg_us;
  // Tenths of a percent (0..1000) so that the value survives the text round trip exactly.
  std::uint32_t loss_permille = 0;
  std::uint32_t window_ms = 0;
  // Grows by at least one with every start of the sender and never goes back (it is kept on
  // disk); absent from senders that predate it.
  std::optional<std::uint64_t> epoch;
  // The resolvers to use while this ISP carries the traffic (IPv4, host order), in order of
  // preference; empty when the sender announces none (or predates dns=).
  std::vector<std::uint32_t> dns;
  // dns= was there but not a list this version understands: only that key is refused (a later
  // sender may announce IPv6 resolvers there, and that must not make its routes unusable).
  bool dns_refused = false;
  // The IPv6 resolvers (dns6=), in order of preference; refused apart, as dns=.
  std::vector<Ipv6Address> dns6;
  bool dns6_refused = false;

  // The IPv6 verdict and its figures, when the sender probes IPv6 targets.
  struct Ipv6Line {
    LinkState state = LinkState::kDown;
    std::string reason;
    std::uint32_t targets_up = 0;
    std::uint32_t targets = 0;
    std::optional<std::uint32_t> rtt_avg_us;
    std::uint32_t loss_permille = 0;

    bool operator==(const Ipv6Line&) const = default;
  };
  std::optional<Ipv6Line> ipv6;
  // The LAN prefix the ISP routes back (prefix6=), if it announces one.
  std::optional<Ipv6Prefix> prefix6;
  // The IPv6 keys were there but not understood: as with dns=, only they are refused (ipv6 and
  // prefix6 stay empty) and the datagram still counts for IPv4. Decoded apart from the IPv4
  // part so that a later sender changing them cannot take IPv4 failover away from older peers.
  bool ipv6_refused = false;

  bool operator==(const Status&) const = default;
};

enum class DecodeError {
  kEmpty,
  kOversize,
  kNotPrintable,
  kBadMagic,
  kBadVersion,
  kTruncated,      // last line not terminated by LF
  kMalformedLine,  // no '=', empty or bad key
  kDuplicateKey,
  kMissingKey,
  kBadNumber,
  kOutOfRange,
  kBadName,
  kBadState,
  kBadReason,
};

// A short stable token for counters and logs, e.g. "duplicate-key".
std::string_view to_string(DecodeError error);
std::string_view to_string(LinkState state);

struct DecodeFailure {
  DecodeError error;
  std::string detail;  // the offending key or line, truncated and made printable
};

// True for a name that may appear in name= (also used to validate --name).
bool is_valid_isp_name(std::string_view name);
// True for a reason token: 1..32 of [a-z0-9-].
bool is_valid_reason(std::string_view reason);

// At most `budget` bytes (leave room for the tag line when signing): with extreme values the
// optional figures are left out first (rtt_last_us, the IPv6 RTT, rtt_avg_us), then the IPv6
// keys, never the IPv4 verdict.
std::string encode(const Status& status, std::size_t budget = kMaxDatagramBytes);
Result<Status, DecodeFailure> decode(std::span<const char> datagram);

}  // namespace ispf
