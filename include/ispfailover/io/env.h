// The one seam between the daemons and the world: clocks, randomness, sockets, netlink, files.
//
// Real side: LinuxEnv (src/io/linux_env.h), on one asio io_context. Fake side: FakeEnv
// (tests/support/fake_env.h), virtual time and in-memory kernel. Both pass the same contract
// tests (tests/kernel for the real one, tests/unit for the fake). Errors are std::error_code in
// std::system_category throughout (errno values: they compare equal to std::errc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ispfailover/core/clock.h"
#include "ispfailover/core/hooks.h"
#include "ispfailover/core/log_event.h"
#include "ispfailover/core/probe_types.h"
#include "ispfailover/core/result.h"
#include "ispfailover/core/route.h"
#include "ispfailover/core/steering.h"

namespace ispf {

template <class T>
using IoResult = Result<T, std::error_code>;

// A one-shot timer on the daemon's loop; a later wake_at replaces an earlier one.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void wake_at(TimePoint when, std::function<void()> fire) = 0;
  virtual void cancel() = 0;
};

// Status datagrams in: every datagram with its IPv4 source (host order).
class DatagramListener {
 public:
  using Handler = std::function<void(std::span<const char> bytes, std::uint32_t source)>;
  virtual ~DatagramListener() = default;
  // Datagrams the socket dropped for lack of buffer (SO_RXQ_OVFL), where the kernel says.
  virtual std::uint64_t overflows() const = 0;
  // Hands every datagram already queued to the handler now, in order, instead of when the loop
  // next looks: before a deadline is judged, so a busy loop or a flood ahead of them never makes
  // a sender that did speak look silent. Returns once nothing is queued (or after more than a
  // full receive buffer, so a flood faster than we read cannot hold the caller forever).
  virtual void read_pending() = 0;
};

// Status datagrams out, to fixed IPv4 destinations; best effort, errors returned, never thrown.
class DatagramSender {
 public:
  virtual ~DatagramSender() = default;
  virtual std::error_code send(std::string_view datagram) = 0;
};

// ICMP (or ICMPv6) echo rounds out of one uplink. `done` runs once per round, on the loop, once
// every target answered or failed or the timeout passed; never after the prober is destroyed.
class Prober {
 public:
  using RoundHandler = std::function<void(const RoundReport&)>;
  using LateReplyHandler = std::function<void(const LateReply&)>;
  virtual ~Prober() = default;
  virtual void start_round(const RoundRequest& request, RoundHandler done) = 0;
  // Replies to rounds already concluded (recent ones), each reported once, on the loop.
  virtual void on_late_reply(LateReplyHandler handler) = 0;
  // Received ICMP packets that were not answers to our requests (other hosts' pings).
  virtual std::uint64_t ignored_packets() const = 0;
};

// One interface's state, followed by name (it may not exist yet, or be deleted and made anew).
class LinkWatch {
 public:
  using Handler = std::function<void(const LinkStatus&)>;
  virtual ~LinkWatch() = default;
  virtual LinkStatus status() const = 0;
};

// The kernel's IPv4 and IPv6 routing tables, for default routes.
//
// Kernel truths the fake keeps too (and the contract tests check): an IPv4 route vanishes
// without an RTM_DELROUTE when its link goes down or its address is flushed; a replace via a
// gateway that no up link reaches fails with ENETUNREACH; deleting a route that is gone succeeds.
// IPv6 differs (tests/support/fake_kernel.h has the whole list): an unreachable gateway is
// EHOSTUNREACH, a link-local one needs its ifindex (EINVAL without), a prefsrc that is no address
// of this host is EINVAL; admin down deletes the link's IPv6 routes and addresses (with
// RTM_DELROUTE), while a flush of its addresses leaves the routes in place.
class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // Every IPv4 unicast default route of `table`, ours and foreign.
  virtual IoResult<std::vector<DefaultRoute>> default_routes(std::uint32_t table) = 0;
  // Our route in `slot` via `gateway`, one NLM_F_REPLACE: never a moment without a route.
  virtual std::error_code replace_default(const RouteSlot& slot, std::uint32_t gateway) = 0;
  // Our route in `slot` (its protocol and metric), if it is there.
  virtual std::error_code remove_default(const RouteSlot& slot) = 0;
  // Exactly this route (someone else's), if it is there.
  virtual std::error_code delete_route(const DefaultRoute& route) = 0;

  // Every IPv6 unicast default route (::/0) of `table`, ours and foreign (those learned from
  // router advertisements carry protocol kRouteProtocolRa).
  virtual IoResult<std::vector<DefaultRoute6>> default_routes6(std::uint32_t table) = 0;
  // Our IPv6 route in `slot` via `via` (gateway, RTA_OIF, RTA_PREFSRC when set), one
  // NLM_F_REPLACE. slot.metric is used as given (the engine keeps it below 1024).
  virtual std::error_code replace_default6(const RouteSlot& slot, const Route6Via& via) = 0;
  virtual std::error_code remove_default6(const RouteSlot& slot) = 0;
  // Exactly this route (someone else's: its gateway, ifindex, metric, protocol, table).
  virtual std::error_code delete_route6(const DefaultRoute6& route) = 0;
  std::error_code apply(const RouteEdit& edit);
};

// Says "look again" after anything that can change what default_routes(), default_routes6() or
// ipv6_addresses() return: a route of either family added, changed or deleted in any table (one
// learned from a router advertisement too), a link going up or down, an address added, removed
// or changed (an IPv6 one turning deprecated).
// Bursts may be coalesced into one call; a lost event (buffer overrun) is reported as a change.
class TableWatch {
 public:
  using Handler = std::function<void()>;
  virtual ~TableWatch() = default;
};

// Says "look again" after any change to the nftables ruleset, by anyone (our own included);
// a lost event is reported as a change.
class NftablesWatch {
 public:
  using Handler = std::function<void()>;
  virtual ~NftablesWatch() = default;
};

// Sticky connections and resets in the kernel: our nftables table (inet failoverd), one routing
// table and fwmark rule per ISP, and the local TCP sockets of a dead ISP's connections. Touches
// nothing that is not ours.
class ConnectionSteering {
 public:
  virtual ~ConnectionSteering() = default;
  // Makes the kernel hold exactly `state`, writing only what differs from what is there now, so
  // it is safe (and cheap) to call after every change anyone makes. Returns what it wrote (e.g.
  // "nftables table inet failoverd", "rule 1500", "route in table 3151"), empty if nothing.
  virtual IoResult<std::vector<std::string>> apply(const SteeringState& state) = 0;
  // The refusing party's own words for the last failed apply (nft's message), if it said any.
  virtual std::string last_error_detail() const = 0;
  // Removes everything apply() put in place, if it is there.
  virtual std::error_code remove() = 0;
  // Ends the local TCP sockets whose connections carry the reset's mark (SOCK_DESTROY).
  virtual ResetOutcome reset(const ConnectionReset& reset) = 0;
  // Tracked connections (any protocol) per ISP of `state`, by their marks.
  virtual IoResult<std::map<std::string, ConnectionCounts>> count(const SteeringState& state) = 0;
};

// sd_notify: READY=1, STATUS=, WATCHDOG=1, RELOADING, STOPPING.
class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  virtual void ready() = 0;
  virtual void status(std::string_view line) = 0;
  virtual void reloading() = 0;
  virtual void reloaded() = 0;
  virtual void stopping() = 0;
  virtual void watchdog() = 0;
  // How often WATCHDOG=1 must come when the unit asked for it (already halved for safety).
  virtual std::optional<Duration> watchdog_period() const = 0;
};

// One running hook, in its own process group. Destroying it SIGKILLs the group and stops the
// callbacks (the exit is still reaped, by the loop or, after the daemon exits, by init).
class HookProcess {
 public:
  virtual ~HookProcess() = default;
  // SIGKILL to the whole process group: the hook and whatever it started.
  virtual void kill() = 0;
};

struct HookCallbacks {
  std::function<void(std::string_view line)> on_line;  // stdout and stderr, one line at a time
  std::function<void(const HookExit& exit)> on_exit;   // once, after the output written so far
};

class Env {
 public:
  virtual ~Env() = default;

  virtual Now now() = 0;
  virtual std::uint64_t random64() = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;

  virtual IoResult<std::unique_ptr<DatagramListener>> listen(std::uint16_t port,
                                                             DatagramListener::Handler handler) = 0;
  // With `device`, bound to it (SO_BINDTODEVICE) so broadcasts leave by the LAN interface only.
  virtual IoResult<std::unique_ptr<DatagramSender>> open_sender(
      std::vector<std::uint32_t> destinations, std::uint16_t port, const std::string& device) = 0;
  // EPERM without CAP_NET_RAW; ENODEV for an interface that does not exist. A prober serves one
  // family (one raw socket, ICMP or ICMPv6): a target of the other family concludes at once
  // with send_error EAFNOSUPPORT.
  virtual IoResult<std::unique_ptr<Prober>> open_prober(const std::string& uplink,
                                                        std::uint16_t identifier,
                                                        Family family) = 0;
  virtual IoResult<std::unique_ptr<LinkWatch>> watch_link(const std::string& ifname,
                                                          LinkWatch::Handler on_change) = 0;
  virtual IoResult<std::unique_ptr<RouteTable>> open_route_table() = 0;
  virtual IoResult<std::unique_ptr<TableWatch>> watch_table(TableWatch::Handler on_change) = 0;
  virtual IoResult<std::unique_ptr<NftablesWatch>> watch_nftables(
      NftablesWatch::Handler on_change) = 0;
  virtual IoResult<std::unique_ptr<ConnectionSteering>> open_steering() = 0;

  // The IPv4 broadcast address of `ifname` (host order): the configured one, or the one its
  // prefix implies; none for /31, /32, no address or no such interface.
  virtual std::optional<std::uint32_t> ipv4_broadcast_of(const std::string& ifname) = 0;
  // Whether the routing tables hold a route to `destination` (either family) out of `ifname`: a
  // FIB lookup with the interface as output (RTM_GETROUTE, RTM_F_FIB_MATCH), so the kernel's
  // "bound to a device, no route: assume on-link" fallback does not count. False for an
  // interface that does not exist.
  virtual IoResult<bool> routes_via(const std::string& ifname, const IpAddress& destination) = 0;
  // The IPv4 addresses, with their prefixes, of every link that is up and running: the nets
  // whose gateways this host can reach on-link now.
  virtual IoResult<std::vector<Ipv4Prefix>> usable_prefixes() = 0;
  // The IPv6 addresses of every link that is admin up with carrier, link-local ones included,
  // without tentative or DAD-failed ones (IFA_F_TENTATIVE, IFA_F_DADFAILED); deprecated ones
  // flagged (IFA_F_DEPRECATED). What a gateway6 is reached by, and which source to prefer.
  virtual IoResult<std::vector<Ipv6InterfaceAddress>> ipv6_addresses() = 0;
  virtual std::string host_name() = 0;

  // The whole of a small file (state, keys); ENOENT when it does not exist.
  virtual IoResult<std::string> read_file(const std::string& path) = 0;
  // Replaces `path` atomically (temporary file in the same directory, then rename), creating
  // the directory if needed; never follows a symbolic link at `path`.
  virtual std::error_code write_file_atomically(const std::string& path,
                                                std::string_view content) = 0;

  // systemd-resolved's per-link DNS (failoverd --dns-manager resolved), on the link that reaches
  // `gateway` on-link: `servers` (either family) become its DNS servers and "~." its routing
  // domain, so every lookup prefers them. ENXIO when no up link reaches the gateway (before any
  // D-Bus call); the bus's error otherwise (ENOENT or ECONNREFUSED without a bus or resolved).
  virtual std::error_code set_link_dns(std::uint32_t gateway,
                                       const std::vector<IpAddress>& servers) = 0;
  // Gives the DNS of the link that reaches `gateway` back to resolved (RevertLink); errors as
  // set_link_dns.
  virtual std::error_code revert_link_dns(std::uint32_t gateway) = 0;

  // A hook directory as it is now (stat of the directory and of each entry, not following
  // symbolic links, and our euid); ENOENT when it does not exist.
  virtual IoResult<HookListing> list_hooks(const std::string& dir) = 0;
  // Runs `path` with exactly `environment`, stdin /dev/null, no capabilities, its own session.
  virtual IoResult<std::unique_ptr<HookProcess>> run_hook(
      const std::string& path, const std::vector<std::string>& environment,
      HookCallbacks callbacks) = 0;

  virtual bool has_capability(int capability) = 0;
  // Keeps only `capability` (effective, permitted, ambient, bounding where allowed).
  virtual std::error_code keep_only_capability(int capability) = 0;

  virtual ServiceNotifier& notifier() = 0;

  // One line per event: the journal under systemd (with the event's fields), stderr otherwise.
  virtual void log(const LogEvent& event) = 0;
  // "trace", "debug", "info", "warning", "error", "critical", "off" (checked by the options).
  virtual void set_log_level(std::string_view level) = 0;
};

}  // namespace ispf
