// Status datagram wire format v1: encoder and defensive decoder (grammar in the header).
#include "ispfailover/core/status_message.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <string_view>
#include <vector>

namespace ispf {
namespace {

constexpr std::size_t kMaxDetail = 40;

bool is_printable(char c) { return c >= 0x20 && c <= 0x7e; }

std::string printable_detail(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxDetail)) out += is_printable(c) ? c : '?';
  return out;
}

// Unsigned decimal, no sign, no leading zeros (except "0"); too large for u64 is out of range.
Result<std::uint64_t, DecodeError> parse_unsigned(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return fail(DecodeError::kBadNumber);
  for (char c : text) {
    if (c < '0' || c > '9') return fail(DecodeError::kBadNumber);
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return fail(DecodeError::kOutOfRange);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return fail(DecodeError::kBadNumber);
  return value;
}

// "12" or "12.5": a percentage in tenths, at most 100.0.
Result<std::uint32_t, DecodeError> parse_permille(std::string_view text) {
  auto dot = text.find('.');
  auto whole = parse_unsigned(text.substr(0, dot));
  if (!whole) return fail(whole.error());
  std::uint64_t tenths = 0;
  if (dot != std::string_view::npos) {
    auto frac = text.substr(dot + 1);
    if (frac.size() != 1 || frac[0] < '0' || frac[0] > '9') return fail(DecodeError::kBadNumber);
    tenths = static_cast<std::uint64_t>(frac[0] - '0');
  }
  if (*whole > 100 || *whole * 10 + tenths > 1000) return fail(DecodeError::kOutOfRange);
  return static_cast<std::uint32_t>(*whole * 10 + tenths);
}

std::optional<std::uint64_t> parse_hex64(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

// Strict dotted quad: four decimal octets 0-255 without leading zeros (a leading zero reads as
// octal to inet_aton, so "010.1.1.1" would mean different hosts to different parsers).
std::optional<std::uint32_t> parse_dotted_quad(std::string_view text) {
  std::uint32_t address = 0;
  for (int octet = 0; octet < 4; ++octet) {
    auto end = octet < 3 ? text.find('.') : text.size();
    if (end == std::string_view::npos) return std::nullopt;
    auto value = parse_unsigned(text.substr(0, end));
    if (!value || *value > 255) return std::nullopt;
    address = (address << 8) | static_cast<std::uint32_t>(*value);
    text = octet < 3 ? text.substr(end + 1) : std::string_view{};
  }
  return address;
}

std::string format_dotted_quad(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

// "A,B,...": 1..`most` addresses, each one `parse_one` accepts, none twice. All or nothing.
template <typename Parse>
auto parse_address_list(std::string_view text, std::size_t most, Parse parse_one)
    -> std::optional<std::vector<typename decltype(parse_one(text))::value_type>> {
  std::vector<typename decltype(parse_one(text))::value_type> out;
  while (true) {
    auto comma = text.find(',');
    auto address = parse_one(text.substr(0, comma));
    if (!address || out.size() == most ||
        std::find(out.begin(), out.end(), *address) != out.end()) {
      return std::nullopt;
    }
    out.push_back(*address);
    if (comma == std::string_view::npos) return out;
    text = text.substr(comma + 1);
  }
}

// dns=: strict dotted quads.
std::optional<std::vector<std::uint32_t>> parse_dns_list(std::string_view text) {
  return parse_address_list(text, kMaxDnsServers, parse_dotted_quad);
}

// dns6=: IPv6 unicast addresses, not link-local (no zone can travel here).
std::optional<std::vector<Ipv6Address>> parse_dns6_list(std::string_view text) {
  return parse_address_list(text, kMaxDns6Servers,
                            [](std::string_view one) -> std::optional<Ipv6Address> {
                              auto address = parse_ipv6(one);
                              if (!address || !address->is_routable_unicast()) return std::nullopt;
                              return address;
                            });
}

// "A,B,...": the addresses as `format` writes them.
template <typename T, typename Format>
std::string join_addresses(const std::vector<T>& addresses, Format format) {
  std::string list;
  for (const T& address : addresses) {
    if (!list.empty()) list += ',';
    list += format(address);
  }
  return list;
}

bool is_key(std::string_view key) {
  if (key.empty() || key.size() > 32) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// The keys v1 knows; each must appear at most once, the required ones exactly once.
enum Key : std::size_t {
  kName,
  kInstance,
  kSeq,
  kTimeMs,
  kState,
  kReason,
  kHeartbeatMs,
  kTargetsUp,
  kTargets,
  kRttLastUs,
  kRttAvgUs,
  kLossPct,
  kWindowMs,
  kEpoch,
  kDns,
  kIpv6,
  kPrefix6,
  kDns6,
  kKeyCount
};
constexpr std::array<std::string_view, kKeyCount> kKeyNames = {
    "name",         "instance",   "seq",     "time_ms",     "state",      "reason",
    "heartbeat_ms", "targets_up", "targets", "rtt_last_us", "rtt_avg_us", "loss_pct",
    "window_ms",    "epoch",      "dns",     "ipv6",        "prefix6",    "dns6"};
// Required in every datagram; ipv6= and prefix6= are decoded (and refused) apart.
constexpr bool is_required_key(std::size_t key) {
  return key <= kWindowMs && key != kRttLastUs && key != kRttAvgUs;
}

// Shortest prefix a router may announce: anything wider is not one LAN's prefix.
constexpr int kMinPrefix6Length = 8;

std::string format_loss(std::uint32_t permille) {
  std::string loss = std::to_string(permille / 10);
  if (permille % 10 != 0) loss += "." + std::to_string(permille % 10);
  return loss;
}

using Values = std::array<std::optional<std::string_view>, kKeyCount>;

// "STATE,REASON,UP/TARGETS,LOSS[,RTT]" (the ipv6= value); nullopt when any part is wrong.
std::optional<Status::Ipv6Line> decode_ipv6_line(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    auto comma = text.find(',');
    parts.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos || parts.size() > 5) break;
    text = text.substr(comma + 1);
  }
  if (parts.size() < 4 || parts.size() > 5) return std::nullopt;
  Status::Ipv6Line line;
  if (parts[0] == "up") {
    line.state = LinkState::kUp;
  } else if (parts[0] != "down") {
    return std::nullopt;
  }
  line.reason = std::string(parts[1]);
  if (!is_valid_reason(line.reason)) return std::nullopt;
  auto slash = parts[2].find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto up = parse_unsigned(parts[2].substr(0, slash));
  auto targets = parse_unsigned(parts[2].substr(slash + 1));
  auto loss = parse_permille(parts[3]);
  if (!targets || *targets == 0 || *targets > kMaxTargets || !up || *up > *targets || !loss) {
    return std::nullopt;
  }
  line.targets = static_cast<std::uint32_t>(*targets);
  line.targets_up = static_cast<std::uint32_t>(*up);
  line.loss_permille = *loss;
  if (parts.size() == 5) {
    auto rtt = parse_unsigned(parts[4]);
    if (!rtt || *rtt > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    line.rtt_avg_us = static_cast<std::uint32_t>(*rtt);
  }
  return line;
}

void append_field(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append("=").append(value).append("\n");
}

}  // namespace

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kEmpty:
      return "empty";
    case DecodeError::kOversize:
      return "oversize";
    case DecodeError::kNotPrintable:
      return "not-printable";
    case DecodeError::kBadMagic:
      return "bad-magic";
    case DecodeError::kBadVersion:
      return "bad-version";
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kMalformedLine:
      return "malformed-line";
    case DecodeError::kDuplicateKey:
      return "duplicate-key";
    case DecodeError::kMissingKey:
      return "missing-key";
    case DecodeError::kBadNumber:
      return "bad-number";
    case DecodeError::kOutOfRange:
      return "out-of-range";
    case DecodeError::kBadName:
      return "bad-name";
    case DecodeError::kBadState:
      return "bad-state";
    case DecodeError::kBadReason:
      return "bad-reason";
  }
  return "unknown";
}

std::string_view to_string(LinkState state) { return state == LinkState::kUp ? "up" : "down"; }

bool is_valid_isp_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_reason(std::string_view reason) {
  if (reason.empty() || reason.size() > 32) return false;
  for (char c : reason) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

namespace {

std::string encode_all(const Status& s) {
  std::string out;
  out.reserve(320);
  out.append(kMagicLine).append("\n");
  append_field(out, "name", s.name);
  char hex[17];
  auto [end, ec] = std::to_chars(hex, hex + 16, s.instance, 16);
  std::string instance(16 - static_cast<std::size_t>(end - hex), '0');
  instance.append(hex, end);
  append_field(out, "instance", instance);
  append_field(out, "seq", std::to_string(s.seq));
  append_field(out, "time_ms", std::to_string(s.time_ms));
  append_field(out, "state", to_string(s.state));
  append_field(out, "reason", s.reason);
  append_field(out, "heartbeat_ms", std::to_string(s.heartbeat_ms));
  append_field(out, "targets_up", std::to_string(s.targets_up));
  append_field(out, "targets", std::to_string(s.targets));
  if (s.rtt_last_us) append_field(out, "rtt_last_us", std::to_string(*s.rtt_last_us));
  if (s.rtt_avg_us) append_field(out, "rtt_avg_us", std::to_string(*s.rtt_avg_us));
  append_field(out, "loss_pct", format_loss(s.loss_permille));
  append_field(out, "window_ms", std::to_string(s.window_ms));
  if (s.epoch) append_field(out, "epoch", std::to_string(*s.epoch));
  if (!s.dns.empty()) append_field(out, "dns", join_addresses(s.dns, format_dotted_quad));
  if (s.ipv6) {
    std::string line = std::string(to_string(s.ipv6->state)) + "," + s.ipv6->reason + "," +
                       std::to_string(s.ipv6->targets_up) + "/" + std::to_string(s.ipv6->targets) +
                       "," + format_loss(s.ipv6->loss_permille);
    if (s.ipv6->rtt_avg_us) line += "," + std::to_string(*s.ipv6->rtt_avg_us);
    append_field(out, "ipv6", line);
  }
  if (s.prefix6) append_field(out, "prefix6", format_ipv6_prefix(*s.prefix6));
  if (!s.dns6.empty()) append_field(out, "dns6", join_addresses(s.dns6, format_ipv6));
  return out;
}

}  // namespace

std::string encode(const Status& status, std::size_t budget) {
  std::string text = encode_all(status);
  if (text.size() <= budget) return text;
  // Over budget only with extreme values (32-byte name and reasons, four resolvers, the longest
  // prefix text, numbers near their maximum): the figures go first, then the IPv6 part (ipv6=,
  // prefix6=, dns6=), so that the IPv4 verdict always gets through.
  Status trimmed = status;
  trimmed.rtt_last_us.reset();
  if (trimmed.ipv6) trimmed.ipv6->rtt_avg_us.reset();
  if ((text = encode_all(trimmed)).size() <= budget) return text;
  trimmed.rtt_avg_us.reset();
  if ((text = encode_all(trimmed)).size() <= budget) return text;
  trimmed.ipv6.reset();
  trimmed.prefix6.reset();
  trimmed.dns6.clear();
  return encode_all(trimmed);
}

Result<Status, DecodeFailure> decode(std::span<const char> datagram) {
  using U32 = std::numeric_limits<std::uint32_t>;
  using U64 = std::numeric_limits<std::uint64_t>;
  if (datagram.empty()) return fail(DecodeFailure{DecodeError::kEmpty, ""});
  if (datagram.size() > kMaxDatagramBytes) {
    return fail(DecodeFailure{DecodeError::kOversize, std::to_string(datagram.size()) + " bytes"});
  }
  std::string_view text(datagram.data(), datagram.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && !is_printable(text[i])) {
      return fail(DecodeFailure{DecodeError::kNotPrintable, "byte " + std::to_string(i)});
    }
  }
  if (text.back() != '\n') {
    return fail(DecodeFailure{DecodeError::kTruncated, "no newline at the end"});
  }

  auto first_end = text.find('\n');
  std::string_view first = text.substr(0, first_end);
  if (first.substr(0, 5) != "ISPF ") {
    return fail(DecodeFailure{DecodeError::kBadMagic, printable_detail(first)});
  }
  if (first != kMagicLine) {
    return fail(DecodeFailure{DecodeError::kBadVersion, printable_detail(first)});
  }

  Values values;
  std::vector<std::string_view> unknown_keys;
  std::size_t pos = first_end + 1;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);  // always found: the text ends with '\n'
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || !is_key(line.substr(0, eq))) {
      return fail(DecodeFailure{DecodeError::kMalformedLine, printable_detail(line)});
    }
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (value.find(' ') != std::string_view::npos) {
      return fail(DecodeFailure{DecodeError::kMalformedLine, printable_detail(line)});
    }
    auto known = std::find(kKeyNames.begin(), kKeyNames.end(), key);
    if (known != kKeyNames.end()) {
      auto& slot = values[static_cast<std::size_t>(known - kKeyNames.begin())];
      if (slot) return fail(DecodeFailure{DecodeError::kDuplicateKey, std::string(key)});
      slot = value;
      continue;
    }
    // Unknown keys (hmac= among them, for v1) are skipped on purpose, for forward
    // compatibility; but not twice, or a later tag check could be fooled by a second one.
    if (std::find(unknown_keys.begin(), unknown_keys.end(), key) != unknown_keys.end()) {
      return fail(DecodeFailure{DecodeError::kDuplicateKey, printable_detail(key)});
    }
    unknown_keys.push_back(key);
  }
  for (std::size_t k = 0; k < kKeyCount; ++k) {
    if (!values[k] && is_required_key(k)) {
      return fail(DecodeFailure{DecodeError::kMissingKey, std::string(kKeyNames[k])});
    }
  }

  Status s;
  auto number = [&](Key key, std::uint64_t max) -> Result<std::uint64_t, DecodeFailure> {
    auto v = parse_unsigned(*values[key]);
    if (!v) return fail(DecodeFailure{v.error(), std::string(kKeyNames[key])});
    if (*v > max) return fail(DecodeFailure{DecodeError::kOutOfRange, std::string(kKeyNames[key])});
    return *v;
  };
#define ISPF_TRY_NUMBER(field, key, max, type) \
  do {                                         \
    auto parsed = number(key, max);            \
    if (!parsed) return fail(parsed.error());  \
    field = static_cast<type>(*parsed);        \
  } while (false)

  s.name = std::string(*values[kName]);
  if (!is_valid_isp_name(s.name)) {
    return fail(DecodeFailure{DecodeError::kBadName, printable_detail(s.name)});
  }
  auto instance = parse_hex64(*values[kInstance]);
  if (!instance) return fail(DecodeFailure{DecodeError::kBadNumber, "instance"});
  s.instance = *instance;
  ISPF_TRY_NUMBER(s.seq, kSeq, U64::max(), std::uint64_t);
  ISPF_TRY_NUMBER(s.time_ms, kTimeMs, U64::max(), std::uint64_t);
  if (*values[kState] == "up") {
    s.state = LinkState::kUp;
  } else if (*values[kState] == "down") {
    s.state = LinkState::kDown;
  } else {
    return fail(DecodeFailure{DecodeError::kBadState, printable_detail(*values[kState])});
  }
  s.reason = std::string(*values[kReason]);
  if (!is_valid_reason(s.reason)) {
    return fail(DecodeFailure{DecodeError::kBadReason, printable_detail(s.reason)});
  }
  ISPF_TRY_NUMBER(s.heartbeat_ms, kHeartbeatMs, 3'600'000, std::uint32_t);
  if (s.heartbeat_ms == 0) return fail(DecodeFailure{DecodeError::kOutOfRange, "heartbeat_ms"});
  ISPF_TRY_NUMBER(s.targets, kTargets, kMaxTargets, std::uint32_t);
  if (s.targets == 0) return fail(DecodeFailure{DecodeError::kOutOfRange, "targets"});
  ISPF_TRY_NUMBER(s.targets_up, kTargetsUp, s.targets, std::uint32_t);
  if (values[kRttLastUs]) {
    std::uint32_t v = 0;
    ISPF_TRY_NUMBER(v, kRttLastUs, U32::max(), std::uint32_t);
    s.rtt_last_us = v;
  }
  if (values[kRttAvgUs]) {
    std::uint32_t v = 0;
    ISPF_TRY_NUMBER(v, kRttAvgUs, U32::max(), std::uint32_t);
    s.rtt_avg_us = v;
  }
  auto loss = parse_permille(*values[kLossPct]);
  if (!loss) return fail(DecodeFailure{loss.error(), "loss_pct"});
  s.loss_permille = *loss;
  ISPF_TRY_NUMBER(s.window_ms, kWindowMs, U32::max(), std::uint32_t);
  if (values[kEpoch]) {
    std::uint64_t v = 0;
    ISPF_TRY_NUMBER(v, kEpoch, U64::max(), std::uint64_t);
    if (v == 0) return fail(DecodeFailure{DecodeError::kOutOfRange, "epoch"});
    s.epoch = v;
  }
#undef ISPF_TRY_NUMBER
  // A resolver list that does not parse refuses that key only: taken as none, said in *refused.
  auto take_list = [](const std::optional<std::string_view>& value, auto parse, auto& list,
                      bool& refused) {
    if (!value) return;
    auto parsed = parse(*value);
    if (parsed) {
      list = std::move(*parsed);
    } else {
      refused = true;
    }
  };
  take_list(values[kDns], parse_dns_list, s.dns, s.dns_refused);
  take_list(values[kDns6], parse_dns6_list, s.dns6, s.dns6_refused);
  std::optional<Status::Ipv6Line> ipv6;
  if (values[kIpv6]) ipv6 = decode_ipv6_line(*values[kIpv6]);
  std::optional<Ipv6Prefix> prefix6;
  if (values[kPrefix6]) prefix6 = parse_ipv6_prefix(*values[kPrefix6]);
  bool prefix6_ok = !values[kPrefix6] || (prefix6 && prefix6->length >= kMinPrefix6Length &&
                                          prefix6->address.is_routable_unicast());
  if ((values[kIpv6] && !ipv6) || !prefix6_ok) {
    s.ipv6_refused = true;
  } else {
    s.ipv6 = std::move(ipv6);
    s.prefix6 = prefix6;
  }
  return s;
}

}  // namespace ispf
