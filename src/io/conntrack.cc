// Conntrack dumps filtered by mark (libnetfilter_conntrack) and SOCK_DESTROY by hand (no library).
#include "conntrack.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ispf {

namespace {

std::error_code errno_code(int value) { return {value, std::system_category()}; }

struct FilterDumpDestroy {
  void operator()(nfct_filter_dump* f) const { nfct_filter_dump_destroy(f); }
};
using FilterDump = std::unique_ptr<nfct_filter_dump, FilterDumpDestroy>;

// The callback lives on the handle; a guard takes it off again on every path, so a later query
// can never call into a dead stack frame (and the library's container is freed each time).
class CallbackRegistration {
 public:
  explicit CallbackRegistration(nfct_handle* handle) : handle_(handle) {}
  ~CallbackRegistration() { nfct_callback_unregister(handle_); }
  CallbackRegistration(const CallbackRegistration&) = delete;
  CallbackRegistration& operator=(const CallbackRegistration&) = delete;

 private:
  nfct_handle* handle_;
};

struct DumpState {
  std::uint32_t mark;
  std::uint32_t mask;
  bool collect_tcp;
  ConnectionCounts entries;
  std::size_t unfiltered = 0;
  std::vector<ConnectionTuple> tcp;
};

ConnectionTuple original_tuple(const nf_conntrack* ct, int family) {
  ConnectionTuple tuple;
  tuple.family = family;
  if (family == AF_INET) {
    std::uint32_t source = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);
    std::uint32_t destination = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST);
    std::memcpy(tuple.source.data(), &source, sizeof source);
    std::memcpy(tuple.destination.data(), &destination, sizeof destination);
  } else {
    std::memcpy(tuple.source.data(), nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
    std::memcpy(tuple.destination.data(), nfct_get_attr(ct, ATTR_ORIG_IPV6_DST), 16);
  }
  tuple.source_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
  tuple.destination_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  return tuple;
}

int on_entry(nf_conntrack_msg_type, nf_conntrack* ct, void* data) {
  auto* state = static_cast<DumpState*>(data);
  // The kernel filters by mark already; this only guards against one that ignores CTA_MARK.
  if ((nfct_get_attr_u32(ct, ATTR_MARK) & state->mask) != state->mark) {
    ++state->unfiltered;
    return NFCT_CB_CONTINUE;
  }
  int family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
  if (family != AF_INET && family != AF_INET6) return NFCT_CB_CONTINUE;
  ++(family == AF_INET6 ? state->entries.ipv6 : state->entries.ipv4);
  if (!state->collect_tcp || nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != IPPROTO_TCP) {
    return NFCT_CB_CONTINUE;
  }
  if (nfct_attr_is_set(ct, ATTR_TCP_STATE) > 0) {
    auto tcp_state = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
    if (tcp_state == TCP_CONNTRACK_TIME_WAIT || tcp_state == TCP_CONNTRACK_CLOSE) {
      return NFCT_CB_CONTINUE;
    }
  }
  state->tcp.push_back(original_tuple(ct, family));
  return NFCT_CB_CONTINUE;
}

// A signal may cut a dump short; the dump is started afresh, a few times at most.
constexpr int kDumpAttempts = 3;
// SOCK_DESTROY is answered while sendto() runs; the timeout only bounds a reply that was lost.
constexpr int kAckTimeoutMs = 1000;

// Sends one request to the kernel and waits for its ACK (or error) by `sequence`. Both the
// SOCK_DESTROY and the conntrack flush are answered while sendto() runs; the timeout only bounds
// an answer that was lost.
std::error_code request_with_ack(int fd, const void* message, std::size_t length,
                                 std::uint32_t sequence) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = ::sendto(fd, message, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno_code(errno);

  // Answers to earlier requests whose wait timed out may still be queued: skip them by seq.
  alignas(nlmsghdr) char buffer[8192];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    int polled = ::poll(&ready, 1, kAckTimeoutMs);
    if (polled < 0 && errno == EINTR) continue;
    if (polled < 0) return errno_code(errno);
    if (polled == 0) return errno_code(ETIMEDOUT);
    ssize_t received = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return errno_code(errno);
    }
    int remaining = static_cast<int>(received);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_seq != sequence) continue;
      if (header->nlmsg_type != NLMSG_ERROR) return errno_code(EPROTO);
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return errno_code(EPROTO);
      const auto* answer = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
      return answer->error == 0 ? std::error_code{} : errno_code(-answer->error);
    }
  }
}

}  // namespace

void NfctClose::operator()(nfct_handle* h) const { nfct_close(h); }

MarkedConnections::Fd& MarkedConnections::Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    fd = std::exchange(other.fd, -1);
  }
  return *this;
}

MarkedConnections::Fd::~Fd() {
  if (fd >= 0) ::close(fd);
}

MarkedConnections::MarkedConnections(NfctHandle conntrack, int diag)
    : conntrack_(std::move(conntrack)), diag_(diag) {}

IoResult<MarkedConnections> MarkedConnections::open() {
  NfctHandle conntrack(nfct_open(CONNTRACK, 0));
  if (!conntrack) return fail(errno_code(errno ? errno : EIO));
  int diag = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return fail(errno_code(errno));
  MarkedConnections connections(std::move(conntrack), diag);
  timeval timeout{kAckTimeoutMs / 1000, (kAckTimeoutMs % 1000) * 1000};
  if (::setsockopt(diag, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0) {
    return fail(errno_code(errno));
  }
  // Errors then come back without a copy of the request: smaller ACKs, same errno.
  int one = 1;
  (void)::setsockopt(diag, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return connections;
}

IoResult<MarkedConnections::Dump> MarkedConnections::dump(std::uint32_t mark, std::uint32_t mask,
                                                          bool collect_tcp) {
  FilterDump filter(nfct_filter_dump_create());
  if (!filter) return fail(errno_code(ENOMEM));
  nfct_filter_dump_mark filter_mark{mark, mask};
  nfct_filter_dump_set_attr(filter.get(), NFCT_FILTER_DUMP_MARK, &filter_mark);
  // No NFCT_FILTER_DUMP_L3NUM: the request goes out as AF_UNSPEC, one dump for both families.

  int error = 0;
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    DumpState state{mark, mask, collect_tcp, {}, 0, {}};
    if (nfct_callback_register(conntrack_.get(), NFCT_T_ALL, on_entry, &state) < 0) {
      return fail(errno_code(errno ? errno : ENOMEM));
    }
    CallbackRegistration registration(conntrack_.get());
    errno = 0;
    if (nfct_query(conntrack_.get(), NFCT_Q_DUMP_FILTER, filter.get()) == 0) {
      unfiltered_ = state.unfiltered;
      return Dump{state.entries, std::move(state.tcp)};
    }
    error = errno ? errno : EIO;
    if (error != EINTR) break;
  }
  return fail(errno_code(error));
}

std::error_code MarkedConnections::forget(std::uint32_t mark, std::uint32_t mask, int family) {
  // By hand, not NFCT_Q_FLUSH_FILTER: libnetfilter_conntrack before 1.0.10 (Debian 12 ships
  // 1.0.9) sends that query without the filter's attributes, and the kernel then flushes every
  // entry of every mark. The kernel applies CTA_MARK/CTA_MARK_MASK to a flush as to a dump, and
  // the message's family too, but only with version 1: with version 0 it takes any family as
  // AF_UNSPEC (both), for older tools' sake.
  struct {
    nlmsghdr header;
    nfgenmsg nfgen;
    nlattr mark_attribute;
    std::uint32_t mark;
    nlattr mask_attribute;
    std::uint32_t mask;
  } message{};
  static_assert(sizeof message == NLMSG_LENGTH(sizeof(nfgenmsg)) + 2 * (NLA_HDRLEN + 4));
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  message.header.nlmsg_seq = ++sequence_;
  message.nfgen.nfgen_family = static_cast<std::uint8_t>(family);
  message.nfgen.version = family == AF_UNSPEC ? NFNETLINK_V0 : 1;  // NFNETLINK_V1, newer headers
  message.mark_attribute = {NLA_HDRLEN + 4, CTA_MARK};
  message.mark = htonl(mark);
  message.mask_attribute = {NLA_HDRLEN + 4, CTA_MARK_MASK};
  message.mask = htonl(mask);
  return request_with_ack(nfct_fd(conntrack_.get()), &message, sizeof message,
                          message.header.nlmsg_seq);
}

IoResult<ConnectionCounts> MarkedConnections::count(std::uint32_t mark, std::uint32_t mask) {
  auto result = dump(mark, mask, false);
  if (!result) return fail(result.error());
  return result->entries;
}

IoResult<std::vector<ConnectionTuple>> MarkedConnections::tcp_connections(std::uint32_t mark,
                                                                          std::uint32_t mask,
                                                                          int family) {
  auto result = dump(mark, mask, true);
  if (!result) return fail(result.error());
  // One dump for both families (the count needs both anyway); the reset wants one of them.
  if (family != AF_UNSPEC) {
    std::erase_if(result->tcp, [&](const ConnectionTuple& t) { return t.family != family; });
  }
  return std::move(result->tcp);
}

std::error_code MarkedConnections::destroy_one(const ConnectionTuple& tuple) {
  if (tuple.family != AF_INET && tuple.family != AF_INET6) return errno_code(EAFNOSUPPORT);
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  static_assert(sizeof message == NLMSG_LENGTH(sizeof(inet_diag_req_v2)));
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DESTROY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  message.header.nlmsg_seq = ++sequence_;
  inet_diag_req_v2& request = message.request;
  request.sdiag_family = static_cast<std::uint8_t>(tuple.family);
  request.sdiag_protocol = IPPROTO_TCP;
  request.idiag_states = ~0u;
  // inet_diag_find_one_icsk looks the socket up as (id.dst -> id.src): src is the local end,
  // which is conntrack's ORIGINAL source for a connection this host opened.
  request.id.idiag_sport = htons(tuple.source_port);
  request.id.idiag_dport = htons(tuple.destination_port);
  std::size_t length = tuple.family == AF_INET ? 4 : 16;
  std::memcpy(request.id.idiag_src, tuple.source.data(), length);
  std::memcpy(request.id.idiag_dst, tuple.destination.data(), length);
  request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  return request_with_ack(diag_.fd, &message, sizeof message, message.header.nlmsg_seq);
}

ResetReport MarkedConnections::destroy_local_sockets(
    const std::vector<ConnectionTuple>& connections) {
  ResetReport report;
  report.matched = connections.size();
  for (const auto& tuple : connections) {
    std::error_code error = destroy_one(tuple);
    if (!error) {
      ++report.destroyed;
    } else if (error == std::errc::no_such_file_or_directory) {
      ++report.not_local;
    } else {
      ++report.failed;
      if (!report.first_error) report.first_error = error;
    }
  }
  return report;
}

IoResult<ConnectionCounts> count_connections_with_mark(std::uint32_t mark, std::uint32_t mask) {
  auto connections = MarkedConnections::open();
  if (!connections) return fail(connections.error());
  return connections->count(mark, mask);
}

IoResult<std::vector<ConnectionTuple>> tcp_connections_with_mark(std::uint32_t mark,
                                                                 std::uint32_t mask) {
  auto connections = MarkedConnections::open();
  if (!connections) return fail(connections.error());
  return connections->tcp_connections(mark, mask);
}

ResetReport destroy_local_sockets(const std::vector<ConnectionTuple>& connections) {
  auto opened = MarkedConnections::open();
  if (!opened) {
    ResetReport report;
    report.matched = connections.size();
    report.failed = connections.size();
    report.first_error = opened.error();
    return report;
  }
  return opened->destroy_local_sockets(connections);
}

}  // namespace ispf
