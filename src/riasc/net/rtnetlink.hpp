#pragma once

// A NETLINK_ROUTE socket (libmnl) and the requests the network-emulation data plane and the local
// pod runtime need: links (veth, ifb), addresses, routes, qdiscs (prio, netem, pfifo, clsact) and
// filters (fw, matchall + mirred). Each call is one request and its acknowledgement; errors throw
// NetlinkError with the kernel's extended ack. Never runs `ip` or `tc`.
//
// A netlink socket belongs to the network namespace that was current when it was created, so an
// Rtnetlink constructed inside in_netns() keeps acting in that namespace from any thread. One
// object is not safe to use from two threads at once; give each thread its own.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "riasc/net/ip_address.hpp"
#include "riasc/net/netlink_error.hpp"
#include "riasc/net/tc_options.hpp"

struct mnl_socket;

namespace riasc::net {

// tc handles: major:minor in 16 bits each, printed in hex by tc ("5250:" is 0x52500000).
constexpr std::uint32_t tc_handle(std::uint16_t major, std::uint16_t minor) {
  return (std::uint32_t{major} << 16) | minor;
}
constexpr std::uint32_t kTcRoot = 0xFFFFFFFF;          // TC_H_ROOT: the parent of a root qdisc
constexpr std::uint32_t kTcClsact = 0xFFFFFFF1;        // TC_H_CLSACT (= TC_H_INGRESS): clsact's parent
constexpr std::uint32_t kTcClsactHandle = 0xFFFF0000;  // clsact's (and ingress's) own handle ffff:
constexpr std::uint32_t kTcIngressHook = 0xFFFFFFF2;   // filters' parent for clsact's ingress hook
constexpr std::uint32_t kTcEgressHook = 0xFFFFFFF3;    // filters' parent for clsact's egress hook
// "5250:", "1:3", "root", "ffff:fff2", as tc prints handles and parents.
std::string format_tc_handle(std::uint32_t handle);

struct Link {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "ifb", "bridge"...; "" for lo and physical devices
  bool up = false;   // IFF_UP (administratively up)
  int mtu = 0;
  // A veth's peer: its ifindex (IFLA_LINK) and, when it lives in another namespace, that
  // namespace's id as this namespace knows it (IFLA_LINK_NETNSID; -1 when in this one).
  int peer_index = 0;
  int peer_netnsid = -1;
};

struct Address {
  int index = 0;    // interface index
  IpPrefix prefix;  // the address with its prefix length; host bits KEPT in prefix.address
};

struct Qdisc {
  int ifindex = 0;
  std::uint32_t handle = 0;
  std::uint32_t parent = 0;
  std::string kind;
  std::vector<std::uint8_t> options;  // raw TCA_OPTIONS payload (decode_netem for netem)
  std::uint64_t bytes = 0;            // sent so far (TCA_STATS); a qdisc changed in place keeps
  std::uint32_t packets = 0;          // counting, a re-created one starts again at 0
  std::uint32_t drops = 0;
};

// fw classifier: packets whose mark & mask == mark & mask go to classid. All protocols
// (ETH_P_ALL), so marked IPv4 and IPv6 both match. The kernel keeps one mask per (parent,
// priority): filters at one priority must share it.
struct FwFilter {
  std::uint32_t parent = 0;
  std::uint16_t priority = 0;
  std::uint32_t mark = 0;
  std::uint32_t mask = 0xffffffff;
  std::uint32_t classid = 0;
};

// On clsact's ingress hook: every packet (cls_matchall, all protocols) is redirected to the egress
// of target_ifindex (act_mirred "egress redirect"): ingress shaping through an ifb device.
struct RedirectAllFilter {
  std::uint16_t priority = 0;
  int target_ifindex = 0;
};

struct Filter {
  int ifindex = 0;
  std::uint32_t parent = 0;
  std::uint16_t priority = 0;
  std::uint16_t protocol = 0;  // ETH_P_* in host order (ETH_P_ALL = 3)
  std::uint32_t handle = 0;    // 0 for the entry describing the classifier instance itself
  std::string kind;
};

class Rtnetlink {
 public:
  Rtnetlink();  // opens and binds the socket in the current namespace; throws NetlinkError
  ~Rtnetlink();
  Rtnetlink(Rtnetlink&& other) noexcept;
  Rtnetlink& operator=(Rtnetlink&& other) noexcept;
  Rtnetlink(const Rtnetlink&) = delete;
  Rtnetlink& operator=(const Rtnetlink&) = delete;

  // --- links
  std::vector<Link> links();
  std::optional<Link> link(const std::string& name);  // nullopt when there is none
  std::optional<Link> link(int ifindex);
  int create_ifb(const std::string& name);  // returns the ifindex; the link is set up
  // A veth pair; returns {ifindex of name, ifindex of peer_name}. Both start down.
  std::pair<int, int> create_veth(const std::string& name, const std::string& peer_name);
  // A veth pair whose peer is made directly inside the namespace of `peer_netns_fd` (a pod's
  // eth0, with no moment in which it exists here under a name that may clash); returns the
  // ifindex of `name`, here. The peer starts down.
  int create_veth_into(const std::string& name, const std::string& peer_name, int peer_netns_fd);
  int create_bridge(const std::string& name);  // returns the ifindex; starts down
  // Enslaves the link to a bridge (master_ifindex 0: releases it).
  void set_master(int ifindex, int master_ifindex);
  void set_link_up(int ifindex, bool up = true);
  // Moves a link into the namespace at netns_path (it gets a new ifindex there).
  void move_link(int ifindex, const std::string& netns_path);
  // The id this namespace gives the namespace at netns_path (RTM_GETNSID); -1 when it has none
  // (no link connects them).
  int netnsid_of(const std::string& netns_path);
  void delete_link(int ifindex);

  // --- addresses and routes
  std::vector<Address> addresses();
  // Adds `address` (host bits kept) to the link. IPv6 addresses skip duplicate address detection
  // (IFA_F_NODAD): in an emulated lab nobody else can hold them, and DAD would keep them unusable
  // for a second or more.
  void add_address(int ifindex, const IpPrefix& address);
  // Adds a route in the main table: via `gateway` when given, else directly on the link.
  void add_route(const IpPrefix& destination, int ifindex, const std::optional<IpAddress>& gateway = {});
  // The output interface of the main table's IPv4 default route (lowest metric; the first hop of
  // a multipath route), else of the IPv6 one; nullopt without a default route.
  std::optional<int> default_route_interface();

  // --- qdiscs
  // Visible qdiscs of the link (the kernel's default children of classful qdiscs are not listed,
  // as `tc qdisc show` does not list them), including the root's default (noqueue, pfifo_fast...).
  std::vector<Qdisc> qdiscs(int ifindex);
  // add = NLM_F_CREATE|NLM_F_EXCL (fails if one exists there), replace = NLM_F_CREATE|
  // NLM_F_REPLACE (grafts a new qdisc onto the parent class, or changes the one with this handle
  // in place), change = no flags (the existing qdisc with this handle changes its parameters in
  // place: counters, queued packets and the handle survive, so shaping has no gap).
  // Netem options go out in NetemEncoding::Complete form, so every parameter is set, none left
  // over from before. A delay or slot table the qdisc already has stays when the new options need
  // none (a Uniform distribution, jitter 0): the kernel cannot drop a table, so going back to
  // uniform jitter takes a new qdisc (replace with a new handle, or delete and add).
  void add_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent, const PrioOptions&);
  void replace_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent, const NetemOptions&);
  void change_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent, const NetemOptions&);
  void replace_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent, const PfifoOptions&);
  // clsact (handle ffff:, parent kTcClsact), not the older ingress qdisc: clsact has the ingress
  // hook (kTcIngressHook) that ifb redirection needs and also an egress hook (kTcEgressHook) for
  // classifiers that must run before the root qdisc, and it coexists with any root qdisc. Both
  // live in the sch_ingress module.
  void add_clsact(int ifindex);
  void delete_qdisc(int ifindex, std::uint32_t handle, std::uint32_t parent);

  // --- filters
  void add_filter(int ifindex, const FwFilter&);
  void add_filter(int ifindex, const RedirectAllFilter&);  // on kTcIngressHook
  // handle_or_0 = 0 deletes every filter at that priority (the classifier instance).
  void delete_filter(int ifindex, std::uint32_t parent, std::uint16_t priority, std::uint32_t handle_or_0);
  std::vector<Filter> filters(int ifindex, std::uint32_t parent);

 private:
  struct Request;
  void modify_qdisc(const char* verb, std::uint16_t flags, int ifindex, std::uint32_t handle,
                    std::uint32_t parent, const std::string& kind, const std::vector<std::uint8_t>& options);
  std::string link_label(int ifindex);
  std::optional<Link> lookup_link(Request& request);  // nullopt on ENODEV
  void execute(Request& request);

  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
  unsigned sequence_ = 0;
};

}  // namespace riasc::net
