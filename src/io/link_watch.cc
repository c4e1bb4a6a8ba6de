// NetlinkLinkWatch: RTNLGRP_LINK events for one interface name, with its ifindex tracked so a
// rename away is seen as the link going.
#include "link_watch.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>

namespace ispf {
namespace {

LinkStatus status_of(rtnl_link* link) {
  unsigned flags = rtnl_link_get_flags(link);
  return LinkStatus{true, (flags & IFF_UP) != 0, (flags & IFF_LOWER_UP) != 0,
                    rtnl_link_get_ifindex(link)};
}

}  // namespace

IoResult<std::pair<LinkStatus, int>> query_link(nl_sock* socket, const std::string& ifname) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(socket, 0, ifname.c_str(), &raw);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return std::make_pair(LinkStatus{}, 0);
  if (err < 0) return fail(from_nle(err));
  NlLink link(raw);
  return std::make_pair(status_of(link.get()), rtnl_link_get_ifindex(link.get()));
}

IoResult<std::unique_ptr<NetlinkLinkWatch>> NetlinkLinkWatch::open(asio::io_context& io,
                                                                   const std::string& ifname,
                                                                   Handler on_change) {
  auto query_socket = open_route_socket();
  if (!query_socket) return fail(query_socket.error());
  std::unique_ptr<NetlinkLinkWatch> watch(
      new NetlinkLinkWatch(ifname, std::move(on_change), std::move(*query_socket)));
  NetlinkLinkWatch* self = watch.get();
  // Subscribe first, then read the state: a change between the two is not lost.
  auto events = NetlinkEventSocket::open(
      io, {RTNLGRP_LINK}, [self](nl_msg* msg) { self->on_message(msg); },
      [self](bool lost) { self->on_drained(lost); });
  if (!events) return fail(events.error());
  watch->events_ = std::move(*events);
  auto initial = query_link(watch->query_socket_.get(), ifname);
  if (!initial) return fail(initial.error());
  watch->status_ = initial->first;
  watch->ifindex_ = initial->second;
  return watch;
}

NetlinkLinkWatch::NetlinkLinkWatch(std::string ifname, Handler on_change, NlSocket query_socket)
    : ifname_(std::move(ifname)),
      on_change_(std::move(on_change)),
      query_socket_(std::move(query_socket)) {}

NetlinkLinkWatch::~NetlinkLinkWatch() { *alive_ = false; }

void NetlinkLinkWatch::on_message(nl_msg* msg) {
  const int type = nlmsg_hdr(msg)->nlmsg_type;
  if (type != RTM_NEWLINK && type != RTM_DELLINK) return;
  // nl_msg_parse's callback sees the object, not the message type: the context carries it.
  struct Context {
    NetlinkLinkWatch* self;
    bool deleted;
  } context{this, type == RTM_DELLINK};
  nl_msg_parse(
      msg,
      [](nl_object* object, void* arg) {
        auto* ctx = static_cast<Context*>(arg);
        NetlinkLinkWatch* self = ctx->self;
        auto* link = reinterpret_cast<rtnl_link*>(object);
        const char* name = rtnl_link_get_name(link);
        const int index = rtnl_link_get_ifindex(link);
        const bool named_ours = name && self->ifname_ == name;
        if (ctx->deleted) {
          if (index == self->ifindex_ || (named_ours && self->ifindex_ == 0)) {
            self->ifindex_ = 0;
            self->note(LinkStatus{});
          }
        } else if (named_ours) {
          self->ifindex_ = index;  // new, or made anew with another index, or renamed to us
          self->note(status_of(link));
        } else if (self->ifindex_ != 0 && index == self->ifindex_) {
          self->ifindex_ = 0;  // renamed away: for us it is gone
          self->note(LinkStatus{});
        }
      },
      &context);
}

void NetlinkLinkWatch::note(const LinkStatus& status) {
  const LinkStatus& last = noted_.empty() ? status_ : noted_.back();
  if (status != last) noted_.push_back(status);
}

void NetlinkLinkWatch::on_drained(bool lost) {
  if (lost) {
    // Events were lost: ask the kernel for the truth instead.
    if (auto now = query_link(query_socket_.get(), ifname_)) {
      ifindex_ = now->second;
      note(now->first);
    }
  }
  std::vector<LinkStatus> changes;
  changes.swap(noted_);
  auto token = alive_;
  for (const LinkStatus& status : changes) {
    status_ = status;
    on_change_(status);
    if (!*token) return;  // the handler closed the watch
  }
}

}  // namespace ispf
