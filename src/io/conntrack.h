// Ends the connections that went out through a dead ISP: conntrack entries by ct mark, and
// SOCK_DESTROY (as `ss -K`) for the local TCP sockets behind them.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "ispfailover/io/env.h"

struct nfct_handle;

namespace ispf {

// One connection as conntrack's ORIGINAL direction saw it: for a locally originated connection
// the source is this host's socket and the destination the remote one.
struct ConnectionTuple {
  int family = 0;                              // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> source{};       // network order; IPv4 in the first 4 bytes
  std::array<std::uint8_t, 16> destination{};  // network order; IPv4 in the first 4 bytes
  std::uint16_t source_port = 0;               // host order
  std::uint16_t destination_port = 0;          // host order

  friend bool operator==(const ConnectionTuple&, const ConnectionTuple&) = default;
};

// What one destroy_local_sockets() did, tuple by tuple.
struct ResetReport {
  std::size_t matched = 0;    // tuples asked for
  std::size_t destroyed = 0;  // local sockets the kernel aborted
  // ENOENT: no local socket has this tuple (a forwarded connection, or the socket is gone
  // already). Not an error: conntrack outlives sockets, and a router's entries are not ours.
  std::size_t not_local = 0;
  std::size_t failed = 0;       // any other answer
  std::error_code first_error;  // the first of those, for the log
};

struct NfctClose {
  void operator()(nfct_handle* h) const;
};
using NfctHandle = std::unique_ptr<nfct_handle, NfctClose>;

// The two netlink sockets (NETLINK_NETFILTER for conntrack, NETLINK_SOCK_DIAG for the destroy),
// opened once: the count runs every second and the reset at each failover, and a socket() pair
// per call would be waste. Both are bound to the network namespace of the thread that opens
// them. Needs CAP_NET_ADMIN (conntrack dumps and SOCK_DESTROY both check it; without it a dump
// fails with EPERM, and a destroy still answers ENOENT where no socket matches, for the kernel
// looks the socket up before it checks, but EPERM where one does). Not thread-safe.
//
// Conntrack absent: the kernel's errno comes back unchanged (EOPNOTSUPP when nfnetlink has no
// conntrack subsystem and cannot load one, EPROTONOSUPPORT when there is no nfnetlink at all).
// It is not folded into "no entries": the marks this counts are set by a `ct mark set` rule,
// which needs conntrack, so its absence is a configuration fault the log should name.
class MarkedConnections {
 public:
  static IoResult<MarkedConnections> open();

  // How many conntrack entries (any protocol, any state) of each family have
  // ct mark & mask == mark.
  IoResult<ConnectionCounts> count(std::uint32_t mark, std::uint32_t mask);
  // The TCP entries of `family` (AF_INET, AF_INET6; AF_UNSPEC: both) with ct mark & mask == mark,
  // but none in TIME_WAIT or CLOSE: their sockets are gone or going, and destroying them would
  // only miscount.
  IoResult<std::vector<ConnectionTuple>> tcp_connections(std::uint32_t mark, std::uint32_t mask,
                                                         int family = AF_UNSPEC);
  // Deletes every conntrack entry of `family` (any protocol) with ct mark & mask == mark, in one
  // filtered flush: their next packets start new entries. One family's entries only: an ISP's
  // IPv6 may die while its IPv4 connections, with the same mark, go on.
  std::error_code forget(std::uint32_t mark, std::uint32_t mask, int family = AF_UNSPEC);
  // SOCK_DESTROY for each tuple's local socket: applications blocked on it get ECONNABORTED.
  ResetReport destroy_local_sockets(const std::vector<ConnectionTuple>& connections);

  // Entries the last dump returned although their mark did not match: 0 while the kernel does
  // the filtering (CTA_MARK/CTA_MARK_MASK in the dump request); the userspace check is a guard.
  std::size_t unfiltered_entries() const { return unfiltered_; }

 private:
  MarkedConnections(NfctHandle conntrack, int diag);

  struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(Fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
    Fd& operator=(Fd&& other) noexcept;
    ~Fd();
  };

  // One filtered dump: every matching entry counted, the live TCP ones collected if asked.
  struct Dump {
    ConnectionCounts entries;  // by the entry's family
    std::vector<ConnectionTuple> tcp;
  };
  IoResult<Dump> dump(std::uint32_t mark, std::uint32_t mask, bool collect_tcp);
  std::error_code destroy_one(const ConnectionTuple& tuple);

  NfctHandle conntrack_;
  Fd diag_;
  std::uint32_t sequence_ = 0;
  std::size_t unfiltered_ = 0;
};

// One-shot forms that open the sockets for a single call (tools, tests); a daemon keeps a
// MarkedConnections instead.
IoResult<ConnectionCounts> count_connections_with_mark(std::uint32_t mark, std::uint32_t mask);
IoResult<std::vector<ConnectionTuple>> tcp_connections_with_mark(std::uint32_t mark,
                                                                 std::uint32_t mask);
ResetReport destroy_local_sockets(const std::vector<ConnectionTuple>& connections);

}  // namespace ispf
