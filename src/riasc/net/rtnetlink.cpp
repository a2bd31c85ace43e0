#include "riasc/net/rtnetlink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/veth.h>
#include <unistd.h>
#include <array>
#include <functional>

#include <cerrno>
#include <cstring>
#include <functional>
#include <span>
#include <utility>

#include "riasc/core/unique_fd.hpp"
#include "riasc/net/attributes.hpp"

namespace riasc::net {

namespace {

using detail::Attr;
using detail::AttrWriter;

constexpr std::size_t kReceiveBuffer = 64 * 1024;  // more than the kernel's largest dump chunk (32 KiB)
constexpr int kAttempts = 3;                       // for EAGAIN (module just loaded) and interrupted dumps

// TC_H_MAKE(prio << 16, htons(protocol)), as tc fills tcm_info.
std::uint32_t filter_info(std::uint16_t priority, std::uint16_t protocol) {
  return (std::uint32_t{priority} << 16) | htons(protocol);
}

std::span<const std::uint8_t> after(std::span<const std::uint8_t> payload, std::size_t header) {
  const std::size_t skip = detail::align4(header);
  return skip <= payload.size() ? payload.subspan(skip) : std::span<const std::uint8_t>{};
}

template <class T>
std::optional<T> header_of(std::span<const std::uint8_t> payload) {
  return Attr{0, payload}.as<T>();
}

// The kernel's extended-ack messages that mean "no such kind": the qdisc, classifier, action or
// link type is not built in and no module for it could be loaded.
bool says_unknown_kind(const std::string& extack) {
  for (const char* text : {"kind is unknown", "classifier not found", "Unknown device type", "action module",
                           "Unknown action", "Unknown qdisc"}) {
    if (extack.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string qdisc_module(const std::string& kind) {
  if (kind == "clsact" || kind == "ingress") return "sch_ingress";
  if (kind == "pfifo" || kind == "bfifo") return "sch_fifo";
  return "sch_" + kind;
}

std::vector<std::uint8_t> address_bytes(const IpAddress& address) {
  const std::size_t size = address.family == Family::V4 ? 4 : 16;
  return {address.bytes.begin(), address.bytes.begin() + static_cast<std::ptrdiff_t>(size)};
}

std::optional<IpAddress> address_from(Family family, std::span<const std::uint8_t> payload) {
  const std::size_t size = family == Family::V4 ? 4 : 16;
  if (payload.size() < size) return std::nullopt;
  IpAddress address;
  address.family = family;
  std::memcpy(address.bytes.data(), payload.data(), size);
  return address;
}

}  // namespace

std::string format_tc_handle(std::uint32_t handle) {
  if (handle == kTcRoot) return "root";
  const std::uint32_t major = handle >> 16, minor = handle & 0xffff;
  return minor == 0 ? fmt::format("{:x}:", major) : fmt::format("{:x}:{:x}", major, minor);
}

// One request: the family header and attributes after the nlmsghdr, what to do with each reply,
// and what to say when it fails.
struct Rtnetlink::Request {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;  // besides NLM_F_REQUEST; NLM_F_ACK is added unless NLM_F_DUMP is set
  AttrWriter body;
  std::function<std::string()> describe;  // called only on failure ("adding qdisc netem 1: on eth0...")
  std::string module;                     // the kind's module, for missing_module()
  std::string action_module;              // the action's module, when the request carries one
  std::function<void()> restart;          // forget partial results before the request is repeated
  std::function<void(std::uint16_t type, std::span<const std::uint8_t> payload)> on_reply;

  template <class Header>
  Request(std::uint16_t message_type, std::uint16_t message_flags, const Header& header)
      : type(message_type), flags(message_flags) {
    body.append(header);
  }
};

Rtnetlink::Rtnetlink() {
  socket_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (socket_ == nullptr) throw NetlinkError("opening a NETLINK_ROUTE socket", errno, {});
  if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    mnl_socket_close(socket_);
    throw NetlinkError("binding a NETLINK_ROUTE socket", error, {});
  }
  port_id_ = mnl_socket_get_portid(socket_);
  // Extended acks carry the kernel's reason ("Specified qdisc kind is unknown"); capped acks do not
  // echo our (possibly 8 KiB, with a distribution table) request back. Kernels without them
  // simply ignore the options.
  int on = 1;
  mnl_socket_setsockopt(socket_, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(socket_, NETLINK_CAP_ACK, &on, sizeof on);
}

Rtnetlink::~Rtnetlink() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
}

Rtnetlink::Rtnetlink(Rtnetlink&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)), port_id_(other.port_id_), sequence_(other.sequence_) {}

Rtnetlink& Rtnetlink::operator=(Rtnetlink&& other) noexcept {
  if (this != &other) {
    if (socket_ != nullptr) mnl_socket_close(socket_);
    socket_ = std::exchange(other.socket_, nullptr);
    port_id_ = other.port_id_;
    sequence_ = other.sequence_;
  }
  return *this;
}

void Rtnetlink::execute(Request& request) {
  const bool dump = (request.flags & NLM_F_DUMP) == NLM_F_DUMP;
  const auto flags = static_cast<std::uint16_t>(NLM_F_REQUEST | request.flags | (dump ? 0 : NLM_F_ACK));
  std::vector<std::uint8_t> buffer(kReceiveBuffer);
  for (int attempt = 1;; ++attempt) {
    if (request.restart) request.restart();
    const unsigned sequence = ++sequence_;
    nlmsghdr header{};
    header.nlmsg_len = static_cast<std::uint32_t>(sizeof header + request.body.bytes().size());
    header.nlmsg_type = request.type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = sequence;
    std::vector<std::uint8_t> message(header.nlmsg_len);
    std::memcpy(message.data(), &header, sizeof header);
    std::memcpy(message.data() + sizeof header, request.body.bytes().data(), request.body.bytes().size());
    if (mnl_socket_sendto(socket_, message.data(), message.size()) < 0) {
      throw NetlinkError(request.describe(), errno, {});
    }

    int error = 0;
    std::string extack;
    bool interrupted = false, done = false;
    while (!done) {
      const ssize_t received = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
      if (received < 0) {
        if (errno == EINTR) continue;
        throw NetlinkError(request.describe(), errno, {});
      }
      const std::span<const std::uint8_t> data(buffer.data(), static_cast<std::size_t>(received));
      for (std::size_t at = 0; !done && data.size() - at >= sizeof(nlmsghdr);) {
        nlmsghdr reply{};
        std::memcpy(&reply, data.data() + at, sizeof reply);
        if (reply.nlmsg_len < sizeof reply || reply.nlmsg_len > data.size() - at) {
          throw NetlinkError(request.describe(), EBADMSG, {});
        }
        const auto payload = data.subspan(at + sizeof reply, reply.nlmsg_len - sizeof reply);
        at += detail::align4(reply.nlmsg_len);
        if (reply.nlmsg_seq != sequence || reply.nlmsg_pid != port_id_) continue;  // a stale reply
        if ((reply.nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
        if (reply.nlmsg_type == NLMSG_ERROR || reply.nlmsg_type == NLMSG_DONE) {
          // NLMSG_ERROR: struct nlmsgerr (error 0 = ack); NLMSG_DONE: an int, an error when < 0.
          // Either may be followed by extended-ack attributes.
          std::size_t tlvs = sizeof(int);
          if (reply.nlmsg_type == NLMSG_ERROR) {
            const auto header_copy = header_of<nlmsgerr>(payload);
            if (!header_copy) throw NetlinkError(request.describe(), EBADMSG, {});
            error = -header_copy->error;
            tlvs = sizeof(nlmsgerr);
            if ((reply.nlmsg_flags & NLM_F_CAPPED) == 0)
              tlvs += header_copy->msg.nlmsg_len - sizeof(nlmsghdr);
          } else if (const auto status = header_of<int>(payload); status && *status < 0) {
            error = -*status;
          }
          if ((reply.nlmsg_flags & NLM_F_ACK_TLVS) != 0 && tlvs <= payload.size()) {
            detail::for_each_attr(payload.subspan(tlvs), [&](const Attr& attr) {
              if (attr.type == NLMSGERR_ATTR_MSG) extack = attr.as_string();
            });
          }
          done = true;
        } else if (reply.nlmsg_type >= NLMSG_MIN_TYPE && request.on_reply && !interrupted) {
          request.on_reply(reply.nlmsg_type, payload);
        }
      }
    }
    if (error == 0 && !interrupted) return;
    if ((error == EAGAIN || (error == 0 && interrupted)) && attempt < kAttempts) continue;
    if (error == 0) error = EINTR;  // the dump kept changing under us
    std::string module;
    if ((error == ENOENT || error == EOPNOTSUPP) && !request.module.empty() &&
        (extack.empty() || says_unknown_kind(extack))) {
      const bool action = !request.action_module.empty() && extack.find("action") != std::string::npos;
      module = action ? request.action_module : request.module;
    }
    throw NetlinkError(request.describe(), error, std::move(extack), std::move(module));
  }
}

std::string Rtnetlink::link_label(int ifindex) {
  try {
    if (auto found = link(ifindex)) return found->name;
  } catch (const NetlinkError&) {
  }
  return fmt::format("ifindex {}", ifindex);
}

// --- links

namespace {

std::optional<Link> parse_link(std::span<const std::uint8_t> payload) {
  const auto info = header_of<ifinfomsg>(payload);
  if (!info) return std::nullopt;
  Link link;
  link.index = info->ifi_index;
  link.up = (info->ifi_flags & IFF_UP) != 0;
  detail::for_each_attr(after(payload, sizeof(ifinfomsg)), [&](const Attr& attr) {
    if (attr.type == IFLA_IFNAME) link.name = attr.as_string();
    if (attr.type == IFLA_MTU) link.mtu = static_cast<int>(attr.as<std::uint32_t>().value_or(0));
    if (attr.type == IFLA_LINK) link.peer_index = static_cast<int>(attr.as<std::uint32_t>().value_or(0));
    if (attr.type == IFLA_LINK_NETNSID) link.peer_netnsid = attr.as<std::int32_t>().value_or(-1);
    if (attr.type == IFLA_LINKINFO) {
      detail::for_each_attr(attr.payload, [&](const Attr& nested) {
        if (nested.type == IFLA_INFO_KIND) link.kind = nested.as_string();
      });
    }
  });
  return link;
}

}  // namespace

std::vector<Link> Rtnetlink::links() {
  std::vector<Link> out;
  Request request(RTM_GETLINK, NLM_F_DUMP, ifinfomsg{});
  request.describe = [] { return std::string("listing links"); };
  request.restart = [&] { out.clear(); };
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    if (type != RTM_NEWLINK) return;
    if (auto parsed = parse_link(payload)) out.push_back(std::move(*parsed));
  };
  execute(request);
  return out;
}

std::optional<Link> Rtnetlink::lookup_link(Request& request) {
  std::optional<Link> out;
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    if (type == RTM_NEWLINK) out = parse_link(payload);
  };
  try {
    execute(request);
  } catch (const NetlinkError& error) {
    if (error.error_code() == ENODEV) return std::nullopt;
    throw;
  }
  return out;
}

std::optional<Link> Rtnetlink::link(const std::string& name) {
  Request request(RTM_GETLINK, 0, ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, name);
  request.describe = [&] { return fmt::format("looking up link {}", name); };
  return lookup_link(request);
}

std::optional<Link> Rtnetlink::link(int ifindex) {
  ifinfomsg header{};
  header.ifi_index = ifindex;
  Request request(RTM_GETLINK, 0, header);
  request.describe = [&] { return fmt::format("looking up link with ifindex {}", ifindex); };
  return lookup_link(request);
}

int Rtnetlink::create_ifb(const std::string& name) {
  ifinfomsg header{};
  header.ifi_flags = IFF_UP;  // created up, as `ip link add NAME up type ifb`
  header.ifi_change = IFF_UP;
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, header);
  request.body.put_string(IFLA_IFNAME, name);
  const auto info = request.body.begin_nest(IFLA_LINKINFO);
  request.body.put_string(IFLA_INFO_KIND, "ifb");
  request.body.end_nest(info);
  request.describe = [&] { return fmt::format("creating link {} (ifb)", name); };
  request.module = "ifb";
  execute(request);
  const auto created = link(name);
  if (!created) throw NetlinkError(fmt::format("looking up link {} after creating it", name), ENODEV, {});
  return created->index;
}

std::pair<int, int> Rtnetlink::create_veth(const std::string& name, const std::string& peer_name) {
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, name);
  const auto info = request.body.begin_nest(IFLA_LINKINFO);
  request.body.put_string(IFLA_INFO_KIND, "veth");
  const auto data = request.body.begin_nest(IFLA_INFO_DATA);
  const auto peer = request.body.begin_nest(VETH_INFO_PEER);  // an ifinfomsg, then the peer's attributes
  request.body.append(ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, peer_name);
  request.body.end_nest(peer);
  request.body.end_nest(data);
  request.body.end_nest(info);
  request.describe = [&] { return fmt::format("creating veth pair {} / {}", name, peer_name); };
  request.module = "veth";
  execute(request);
  const auto first = link(name), second = link(peer_name);
  if (!first || !second) {
    throw NetlinkError(fmt::format("looking up veth pair {} / {} after creating it", name, peer_name), ENODEV,
                       {});
  }
  return {first->index, second->index};
}

int Rtnetlink::create_veth_into(const std::string& name, const std::string& peer_name, int peer_netns_fd) {
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, name);
  const auto info = request.body.begin_nest(IFLA_LINKINFO);
  request.body.put_string(IFLA_INFO_KIND, "veth");
  const auto data = request.body.begin_nest(IFLA_INFO_DATA);
  const auto peer = request.body.begin_nest(VETH_INFO_PEER);
  request.body.append(ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, peer_name);
  request.body.put(IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns_fd));
  request.body.end_nest(peer);
  request.body.end_nest(data);
  request.body.end_nest(info);
  request.describe = [&] {
    return fmt::format("creating veth pair {} / {} (in another namespace)", name, peer_name);
  };
  request.module = "veth";
  execute(request);
  const auto created = link(name);
  if (!created) throw NetlinkError(fmt::format("looking up link {} after creating it", name), ENODEV, {});
  return created->index;
}

int Rtnetlink::create_bridge(const std::string& name) {
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg{});
  request.body.put_string(IFLA_IFNAME, name);
  // A bridge without an address of its own takes the lowest of its ports' and changes it as
  // ports come and go; neighbours that cached the old one (pods, for their gateway) then lose
  // the host. A fixed, locally administered address (02:52:49 = "RI", then a hash of the name).
  const std::size_t hash = std::hash<std::string>{}(name);
  const std::array<std::uint8_t, 6> mac{0x02,
                                        0x52,
                                        0x49,
                                        static_cast<std::uint8_t>(hash >> 16),
                                        static_cast<std::uint8_t>(hash >> 8),
                                        static_cast<std::uint8_t>(hash)};
  request.body.put(IFLA_ADDRESS, mac);
  const auto info = request.body.begin_nest(IFLA_LINKINFO);
  request.body.put_string(IFLA_INFO_KIND, "bridge");
  request.body.end_nest(info);
  request.describe = [&] { return fmt::format("creating link {} (bridge)", name); };
  request.module = "bridge";
  execute(request);
  const auto created = link(name);
  if (!created) throw NetlinkError(fmt::format("looking up link {} after creating it", name), ENODEV, {});
  return created->index;
}

void Rtnetlink::set_master(int ifindex, int master_ifindex) {
  ifinfomsg header{};
  header.ifi_index = ifindex;
  Request request(RTM_NEWLINK, 0, header);
  request.body.put(IFLA_MASTER, static_cast<std::uint32_t>(master_ifindex));
  request.describe = [&] {
    return fmt::format("attaching link {} to {}", link_label(ifindex), link_label(master_ifindex));
  };
  execute(request);
}

void Rtnetlink::set_link_up(int ifindex, bool up) {
  ifinfomsg header{};
  header.ifi_index = ifindex;
  header.ifi_flags = up ? unsigned{IFF_UP} : 0U;
  header.ifi_change = IFF_UP;
  Request request(RTM_NEWLINK, 0, header);
  request.describe = [&] {
    return fmt::format("setting link {} {}", link_label(ifindex), up ? "up" : "down");
  };
  execute(request);
}

void Rtnetlink::move_link(int ifindex, const std::string& netns_path) {
  const UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) {
    throw NetlinkError(
        fmt::format("opening network namespace {} to move link {}", netns_path, link_label(ifindex)), errno,
        {});
  }
  ifinfomsg header{};
  header.ifi_index = ifindex;
  Request request(RTM_NEWLINK, 0, header);
  request.body.put(IFLA_NET_NS_FD, static_cast<std::uint32_t>(netns.get()));
  request.describe = [&] { return fmt::format("moving link {} to {}", link_label(ifindex), netns_path); };
  execute(request);
}

int Rtnetlink::netnsid_of(const std::string& netns_path) {
  const UniqueFd netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) throw NetlinkError(fmt::format("opening network namespace {}", netns_path), errno, {});
  rtgenmsg header{};
  header.rtgen_family = AF_UNSPEC;
  Request request(RTM_GETNSID, 0, header);
  request.body.put(NETNSA_FD, static_cast<std::uint32_t>(netns.get()));
  request.describe = [&] { return fmt::format("asking the id of network namespace {}", netns_path); };
  int id = -1;
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    if (type != RTM_NEWNSID) return;
    detail::for_each_attr(after(payload, detail::align4(sizeof(rtgenmsg))), [&](const Attr& attr) {
      if (attr.type == NETNSA_NSID) id = attr.as<std::int32_t>().value_or(-1);
    });
  };
  execute(request);
  return id;
}

void Rtnetlink::delete_link(int ifindex) {
  ifinfomsg header{};
  header.ifi_index = ifindex;
  Request request(RTM_DELLINK, 0, header);
  // The name is looked up before: after a failed delete it may be gone for another reason.
  const std::string label = link_label(ifindex);
  request.describe = [&] { return fmt::format("deleting link {}", label); };
  execute(request);
}

// --- addresses and routes

std::vector<Address> Rtnetlink::addresses() {
  std::vector<Address> out;
  Request request(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg{});
  request.describe = [] { return std::string("listing addresses"); };
  request.restart = [&] { out.clear(); };
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto header = header_of<ifaddrmsg>(payload);
    if (type != RTM_NEWADDR || !header || (header->ifa_family != AF_INET && header->ifa_family != AF_INET6))
      return;
    const Family family = header->ifa_family == AF_INET ? Family::V4 : Family::V6;
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on point-to-point links.
    std::optional<IpAddress> local, address;
    detail::for_each_attr(after(payload, sizeof(ifaddrmsg)), [&](const Attr& attr) {
      if (attr.type == IFA_LOCAL) local = address_from(family, attr.payload);
      if (attr.type == IFA_ADDRESS) address = address_from(family, attr.payload);
    });
    if (!local) local = address;
    if (local)
      out.push_back(Address{static_cast<int>(header->ifa_index), IpPrefix{*local, header->ifa_prefixlen}});
  };
  execute(request);
  return out;
}

void Rtnetlink::add_address(int ifindex, const IpPrefix& address) {
  ifaddrmsg header{};
  header.ifa_family = address.address.family == Family::V4 ? AF_INET : AF_INET6;
  header.ifa_prefixlen = static_cast<std::uint8_t>(address.length);
  header.ifa_flags = address.address.family == Family::V6 ? std::uint8_t{IFA_F_NODAD} : std::uint8_t{0};
  header.ifa_index = static_cast<std::uint32_t>(ifindex);
  Request request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, header);
  const auto bytes = address_bytes(address.address);
  request.body.put(IFA_LOCAL, bytes.data(), bytes.size());
  request.body.put(IFA_ADDRESS, bytes.data(), bytes.size());
  request.describe = [&] {
    return fmt::format("adding address {} to {}", address.to_string(), link_label(ifindex));
  };
  execute(request);
}

void Rtnetlink::add_route(const IpPrefix& destination, int ifindex, const std::optional<IpAddress>& gateway) {
  rtmsg header{};
  header.rtm_family = destination.address.family == Family::V4 ? AF_INET : AF_INET6;
  header.rtm_dst_len = static_cast<std::uint8_t>(destination.length);
  header.rtm_table = RT_TABLE_MAIN;
  header.rtm_protocol = RTPROT_BOOT;  // what `ip route add` uses
  header.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  header.rtm_type = RTN_UNICAST;
  Request request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, header);
  if (destination.length > 0) {
    const auto bytes = address_bytes(destination.address);
    request.body.put(RTA_DST, bytes.data(), bytes.size());
  }
  if (gateway) {
    const auto bytes = address_bytes(*gateway);
    request.body.put(RTA_GATEWAY, bytes.data(), bytes.size());
  }
  request.body.put(RTA_OIF, static_cast<std::uint32_t>(ifindex));
  request.describe = [&] {
    return fmt::format("adding route {}{} dev {}", destination.to_string(),
                       gateway ? " via " + gateway->to_string() : std::string(), link_label(ifindex));
  };
  execute(request);
}

std::optional<int> Rtnetlink::default_route_interface() {
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    std::optional<int> best;
    std::uint32_t best_metric = 0;
    rtmsg header{};
    header.rtm_family = family;
    Request request(RTM_GETROUTE, NLM_F_DUMP, header);
    request.describe = [&] { return fmt::format("listing IPv{} routes", family == AF_INET ? 4 : 6); };
    request.restart = [&] { best.reset(); };
    request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
      const auto route = header_of<rtmsg>(payload);
      if (type != RTM_NEWROUTE || !route || route->rtm_family != family || route->rtm_dst_len != 0 ||
          route->rtm_type != RTN_UNICAST) {
        return;
      }
      std::uint32_t table = route->rtm_table, metric = 0;
      std::optional<int> oif;
      detail::for_each_attr(after(payload, sizeof(rtmsg)), [&](const Attr& attr) {
        if (attr.type == RTA_TABLE) table = attr.as<std::uint32_t>().value_or(table);
        if (attr.type == RTA_PRIORITY) metric = attr.as<std::uint32_t>().value_or(0);
        if (attr.type == RTA_OIF) {
          if (const auto value = attr.as<std::uint32_t>()) oif = static_cast<int>(*value);
        }
        if (attr.type == RTA_MULTIPATH && !oif) {  // struct rtnexthop entries: the first one's ifindex
          if (const auto hop = attr.as<rtnexthop>()) oif = hop->rtnh_ifindex;
        }
      });
      if (table != RT_TABLE_MAIN || !oif) return;
      if (!best || metric < best_metric) {
        best = oif;
        best_metric = metric;
      }
    };
    execute(request);
    if (best) return best;
  }
  return std::nullopt;
}

// --- qdiscs

std::vector<Qdisc> Rtnetlink::qdiscs(int ifindex) {
  std::vector<Qdisc> out;
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  Request request(RTM_GETQDISC, NLM_F_DUMP, header);
  request.describe = [&] { return fmt::format("listing qdiscs on {}", link_label(ifindex)); };
  request.restart = [&] { out.clear(); };
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto tc = header_of<tcmsg>(payload);
    if (type != RTM_NEWQDISC || !tc || tc->tcm_ifindex != ifindex) return;
    Qdisc qdisc;
    qdisc.ifindex = tc->tcm_ifindex;
    qdisc.handle = tc->tcm_handle;
    qdisc.parent = tc->tcm_parent;
    detail::for_each_attr(after(payload, sizeof(tcmsg)), [&](const Attr& attr) {
      if (attr.type == TCA_KIND) qdisc.kind = attr.as_string();
      if (attr.type == TCA_OPTIONS) qdisc.options.assign(attr.payload.begin(), attr.payload.end());
      if (attr.type == TCA_STATS) {
        if (const auto stats = attr.as<tc_stats>()) {
          qdisc.bytes = stats->bytes;
          qdisc.packets = stats->packets;
          qdisc.drops = stats->drops;
        }
      }
    });
    out.push_back(std::move(qdisc));
  };
  execute(request);
  return out;
}

void Rtnetlink::modify_qdisc(const char* verb, std::uint16_t flags, int ifindex, std::uint32_t handle,
                             std::uint32_t parent, const std::string& kind,
                             const std::vector<std::uint8_t>& options) {
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_handle = handle;
  header.tcm_parent = parent;
  Request request(RTM_NEWQDISC, flags, header);
  request.body.put_string(TCA_KIND, kind);
  if (!options.empty()) request.body.put(TCA_OPTIONS, options.data(), options.size());
  request.describe = [&] {
    return fmt::format("{} qdisc {} {} on {} (parent {})", verb, kind, format_tc_handle(handle),
                       link_label(ifindex), format_tc_handle(parent));
  };
  request.module = qdisc_module(kind);
  execute(request);
}

void Rtnetlink::add_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent,
                          const PrioOptions& options) {
  modify_qdisc("adding", NLM_F_CREATE | NLM_F_EXCL, ifindex, handle, parent, "prio", encode_prio(options));
}

void Rtnetlink::replace_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent,
                              const NetemOptions& options) {
  modify_qdisc("replacing", NLM_F_CREATE | NLM_F_REPLACE, ifindex, handle, parent, "netem",
               encode_netem(options, NetemEncoding::Complete));
}

void Rtnetlink::change_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent,
                             const NetemOptions& options) {
  modify_qdisc("changing", 0, ifindex, handle, parent, "netem",
               encode_netem(options, NetemEncoding::Complete));
}

void Rtnetlink::replace_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent,
                              const PfifoOptions& options) {
  modify_qdisc("replacing", NLM_F_CREATE | NLM_F_REPLACE, ifindex, handle, parent, "pfifo",
               encode_pfifo(options));
}

void Rtnetlink::add_clsact(int ifindex) {
  modify_qdisc("adding", NLM_F_CREATE | NLM_F_EXCL, ifindex, kTcClsactHandle, kTcClsact, "clsact", {});
}

void Rtnetlink::delete_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent) {
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_handle = handle;
  header.tcm_parent = parent;
  Request request(RTM_DELQDISC, 0, header);
  const std::string label = link_label(ifindex);
  request.describe = [&] {
    return fmt::format("deleting qdisc {} on {} (parent {})", format_tc_handle(handle), label,
                       format_tc_handle(parent));
  };
  execute(request);
}

// --- filters

void Rtnetlink::add_filter(int ifindex, const FwFilter& filter) {
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_handle = filter.mark & filter.mask;  // fw compares mark & mask with the handle
  header.tcm_parent = filter.parent;
  header.tcm_info = filter_info(filter.priority, ETH_P_ALL);
  Request request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, header);
  request.body.put_string(TCA_KIND, "fw");
  const auto options = request.body.begin_nest(TCA_OPTIONS);
  request.body.put(TCA_FW_CLASSID, filter.classid);
  if (filter.mask != 0xffffffff)
    request.body.put(TCA_FW_MASK, filter.mask);  // as tc: only when not the default
  request.body.end_nest(options);
  request.describe = [&] {
    return fmt::format("adding filter fw mark {:#x}/{:#x} -> {} prio {} on {} (parent {})", filter.mark,
                       filter.mask, format_tc_handle(filter.classid), filter.priority, link_label(ifindex),
                       format_tc_handle(filter.parent));
  };
  request.module = "cls_fw";
  execute(request);
}

void Rtnetlink::add_filter(int ifindex, const RedirectAllFilter& filter) {
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_parent = kTcIngressHook;
  header.tcm_info = filter_info(filter.priority, ETH_P_ALL);
  Request request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, header);
  request.body.put_string(TCA_KIND, "matchall");
  const auto options = request.body.begin_nest(TCA_OPTIONS);
  const auto actions = request.body.begin_nest(TCA_MATCHALL_ACT);
  const auto first = request.body.begin_nest(1);  // actions are numbered from 1, in order
  request.body.put_string(TCA_ACT_KIND, "mirred");
  const auto action_options = request.body.begin_nest(TCA_ACT_OPTIONS);
  tc_mirred mirred{};
  mirred.action = TC_ACT_STOLEN;  // the packet leaves this device's ingress for good
  mirred.eaction = TCA_EGRESS_REDIR;
  mirred.ifindex = static_cast<std::uint32_t>(filter.target_ifindex);
  request.body.put(TCA_MIRRED_PARMS, mirred);
  request.body.end_nest(action_options);
  request.body.end_nest(first);
  request.body.end_nest(actions);
  request.body.end_nest(options);
  request.describe = [&] {
    return fmt::format("adding filter matchall prio {} on {} (parent {}) redirecting to {}", filter.priority,
                       link_label(ifindex), format_tc_handle(kTcIngressHook),
                       link_label(filter.target_ifindex));
  };
  request.module = "cls_matchall";
  request.action_module = "act_mirred";
  execute(request);
}

void Rtnetlink::delete_filter(int ifindex, std::uint32_t parent, std::uint16_t priority,
                              std::uint32_t handle_or_0) {
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_handle = handle_or_0;
  header.tcm_parent = parent;
  header.tcm_info = filter_info(priority, 0);  // protocol 0: whichever the filter has
  Request request(RTM_DELTFILTER, 0, header);
  const std::string label = link_label(ifindex);
  request.describe = [&] {
    return fmt::format("deleting filter prio {} handle {:#x} on {} (parent {})", priority, handle_or_0, label,
                       format_tc_handle(parent));
  };
  execute(request);
}

std::vector<Filter> Rtnetlink::filters(int ifindex, std::uint32_t parent) {
  std::vector<Filter> out;
  tcmsg header{};
  header.tcm_ifindex = ifindex;
  header.tcm_parent = parent;
  Request request(RTM_GETTFILTER, NLM_F_DUMP, header);
  request.describe = [&] {
    return fmt::format("listing filters on {} (parent {})", link_label(ifindex), format_tc_handle(parent));
  };
  request.restart = [&] { out.clear(); };
  request.on_reply = [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto tc = header_of<tcmsg>(payload);
    if (type != RTM_NEWTFILTER || !tc || tc->tcm_ifindex != ifindex) return;
    Filter filter;
    filter.ifindex = tc->tcm_ifindex;
    filter.parent = tc->tcm_parent;
    filter.priority = static_cast<std::uint16_t>(tc->tcm_info >> 16);
    filter.protocol = ntohs(static_cast<std::uint16_t>(tc->tcm_info & 0xffff));
    filter.handle = tc->tcm_handle;
    detail::for_each_attr(after(payload, sizeof(tcmsg)), [&](const Attr& attr) {
      if (attr.type == TCA_KIND) filter.kind = attr.as_string();
    });
    out.push_back(std::move(filter));
  };
  execute(request);
  return out;
}

}  // namespace riasc::net
