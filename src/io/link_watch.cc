// Netlink link events (RTNLGRP_LINK) for one interface, read on the io_context's thread.
#include "ispfailover/io/link_watch.h"

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <unistd.h>

namespace ispf {
namespace {

LinkStatus status_of(rtnl_link* link) {
  unsigned flags = rtnl_link_get_flags(link);
  return LinkStatus{true, (flags & IFF_UP) != 0, (flags & IFF_LOWER_UP) != 0};
}

struct ParseContext {
  const std::string* ifname;
  bool deleted;
  std::optional<LinkStatus> status;
};

}  // namespace

Result<LinkStatus, std::error_code> query_link(const std::string& ifname) {
  auto socket = open_route_socket();
  if (!socket) return fail(socket.error());
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(socket->get(), 0, ifname.c_str(), &raw);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return LinkStatus{};
  if (err < 0) return fail(netlink_error(err));
  NlLink link(raw);
  return status_of(link.get());
}

Result<std::unique_ptr<LinkWatch>, std::error_code> LinkWatch::open(asio::io_context& io,
                                                                    const std::string& ifname,
                                                                    Handler on_change) {
  // Subscribe first, then read the state: a change between the two is not lost.
  auto socket = open_route_socket({RTNLGRP_LINK});
  if (!socket) return fail(socket.error());
  auto initial = query_link(ifname);
  if (!initial) return fail(initial.error());
  std::unique_ptr<LinkWatch> watch(
      new LinkWatch(io, std::move(*socket), ifname, std::move(on_change)));
  watch->status_ = *initial;
  watch->wait();
  return watch;
}

LinkWatch::LinkWatch(asio::io_context& io, NlSocket socket, std::string ifname, Handler on_change)
    : socket_(std::move(socket)),
      descriptor_(io, ::dup(nl_socket_get_fd(socket_.get()))),
      ifname_(std::move(ifname)),
      on_change_(std::move(on_change)) {
  nl_socket_modify_cb(socket_.get(), NL_CB_VALID, NL_CB_CUSTOM, &LinkWatch::on_message, this);
}

LinkWatch::~LinkWatch() {
  std::error_code ignored;
  descriptor_.cancel(ignored);
}

void LinkWatch::wait() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    on_readable();
    wait();
  });
}

void LinkWatch::on_readable() {
  int err = 0;
  while ((err = nl_recvmsgs_default(socket_.get())) >= 0) {
  }
  if (err != -NLE_AGAIN) {
    // Lost events (buffer overrun) or a read error: ask the kernel for the truth instead.
    if (auto now = query_link(ifname_)) apply(*now);
  }
}

int LinkWatch::on_message(nl_msg* msg, void* self_ptr) {
  auto* self = static_cast<LinkWatch*>(self_ptr);
  ParseContext context{&self->ifname_, nlmsg_hdr(msg)->nlmsg_type == RTM_DELLINK, std::nullopt};
  nl_msg_parse(
      msg,
      [](nl_object* object, void* arg) {
        auto* ctx = static_cast<ParseContext*>(arg);
        auto* link = reinterpret_cast<rtnl_link*>(object);
        const char* name = rtnl_link_get_name(link);
        if (!name || *ctx->ifname != name) return;
        ctx->status = ctx->deleted ? LinkStatus{} : status_of(link);
      },
      &context);
  if (context.status) self->apply(*context.status);
  return NL_OK;
}

void LinkWatch::apply(const LinkStatus& status) {
  bool changed = status.exists != status_.exists || status.admin_up != status_.admin_up ||
                 status.carrier != status_.carrier;
  status_ = status;
  if (changed) on_change_(status_);
}

}  // namespace ispf
