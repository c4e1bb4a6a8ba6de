// Which resolvers the client should use, and when to tell it: the active ISP's announced ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ispf {

// How failoverd points the client's resolver at the active ISP's resolvers.
enum class DnsManager {
  kNone,      // it does not: DNS is someone else's business
  kFile,      // it rewrites a resolv.conf of its own (--resolv-conf)
  kResolved,  // it sets per-link DNS in systemd-resolved (D-Bus)
};
std::string_view to_string(DnsManager manager);

// glibc reads at most 3 nameserver lines (MAXNS); more would be silently ignored.
inline constexpr std::size_t kMaxResolvConfServers = 3;

// One change of the client's resolvers, for the shell to carry out.
struct DnsUpdate {
  std::string isp;                     // whose resolvers these are
  std::uint32_t gateway = 0;           // that ISP's gateway: resolved mode's link reaches it
  std::vector<std::uint32_t> servers;  // IPv4, host order, in order of preference
  std::string resolv_conf;             // the whole file, for file mode

  bool operator==(const DnsUpdate&) const = default;
};

// The resolv.conf failoverd writes: a header saying who wrote it and for which ISP, at most
// kMaxResolvConfServers nameserver lines, and options that make a dead resolver cost little.
std::string render_resolv_conf(std::string_view isp, const std::vector<std::uint32_t>& servers);

// Follows the active ISP's announced resolvers and says when they must be applied: when the
// active ISP or its list changes, never again for the same list (no write every datagram).
class DnsFollower {
 public:
  struct Step {
    std::optional<DnsUpdate> update;
    std::optional<std::string> note;  // a line for people, once per ISP that announces none
  };

  // `active`: the ISP carrying the traffic (nullopt: none), its gateway and its announced list.
  Step step(const std::optional<std::string>& active, std::uint32_t gateway,
            const std::vector<std::uint32_t>& announced);
  // Applying the last update failed: the next step tries again.
  void forget() { applied_.reset(); }
  // What is in force now (nullopt: nothing written by us yet).
  const std::optional<DnsUpdate>& applied() const { return applied_; }

 private:
  std::optional<DnsUpdate> applied_;
  std::optional<std::string> noted_none_for_;
};

}  // namespace ispf
