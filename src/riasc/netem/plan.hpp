#pragma once

// The shaping plan of one pod: which emulators (bands) it gets and which of its packets each one
// takes. Computed from TrafficProfiles and the pods and namespaces the node agent sees; pure (no
// kernel), so it is tested against golden plans, and shared by every data-plane backend.
//
// Composition (docs/decisions/trafficprofile.md): every (profile, direction) that selects the
// pod has a band of its own, so profiles on disjoint traffic are shaped independently. A packet
// that several profiles select is shaped once, by the first of them in name order; bands are
// listed in that order. Nothing is merged or overwritten.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/net/ip_address.hpp"
#include "riasc/net/rtnetlink.hpp"
#include "riasc/netem/traffic_profile.hpp"

namespace riasc::netem {

struct AddressRange {
  net::IpAddress first;
  net::IpAddress last;
  auto operator<=>(const AddressRange&) const = default;
};

// Disjoint, sorted, merged address ranges (IPv4 before IPv6).
class AddressRanges {
 public:
  void add(const AddressRange& range);
  void add(const net::IpPrefix& prefix) { add(AddressRange{prefix.first(), prefix.last()}); }
  void add(const net::IpAddress& address) { add(AddressRange{address, address}); }
  void remove(const AddressRange& range);
  void remove(const net::IpPrefix& prefix) { remove(AddressRange{prefix.first(), prefix.last()}); }
  [[nodiscard]] const std::vector<AddressRange>& ranges() const { return ranges_; }
  [[nodiscard]] std::vector<AddressRange> of(net::Family family) const;
  [[nodiscard]] bool contains(const net::IpAddress& address) const;
  bool operator==(const AddressRanges&) const = default;

 private:
  std::vector<AddressRange> ranges_;
};

struct PortRange {
  std::uint8_t protocol = 0;  // IANA number
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  auto operator<=>(const PortRange&) const = default;
};

// The packets one rule selects. Every given clause must hold.
struct Classifier {
  std::optional<AddressRanges> peers;  // destination on egress, source on ingress; nullopt = any
  std::vector<PortRange> ports;        // destination port; empty = any (see matches_nothing)
  std::vector<std::uint16_t> ether_types;
  std::vector<std::uint8_t> inet_protos;
  // A ports clause whose named ports resolved to nothing: the rule selects no packet (yet).
  bool matches_nothing = false;
  bool operator==(const Classifier&) const = default;
};

struct Band {
  std::string profile;
  Direction direction = Direction::Egress;
  std::optional<std::string> interface_filter;  // nullopt: the default-route interface
  net::NetemOptions options;
  // The profile's trace (TrafficProfile::trace): part of the band's parameters, so a change of it
  // is a change of parameters. Only the userspace backend can apply it; the kernel backend
  // reports such a band as not applied (NeedsUserspaceBackend).
  std::optional<shaper::TraceReplay> trace;
  BackendChoice backend = BackendChoice::Auto;  // the profile's spec.backend
  std::vector<Classifier> classifiers;          // OR
  bool operator==(const Band&) const = default;
};

struct ContainerPort {
  std::string name;
  std::uint8_t protocol = 6;
  std::uint16_t port = 0;
  bool operator==(const ContainerPort&) const = default;
};

struct PodInfo {
  std::string namespace_name;
  std::string name;
  std::string node;
  Json labels = Json::object();
  std::vector<net::IpAddress> ips;
  std::vector<ContainerPort> ports;
  bool running = true;  // false once terminal or being deleted: no longer a peer

  // From a Pod object (status.podIPs, else status.podIP; spec.containers[*].ports).
  static PodInfo from_object(const Json& pod);
  bool operator==(const PodInfo&) const = default;
};

struct NamespaceInfo {
  std::string name;
  Json labels = Json::object();
};

// What the plan reads of the cluster. Namespaces without an object still carry the
// kubernetes.io/metadata.name label, as the API server sets it on every namespace.
struct ClusterView {
  std::vector<PodInfo> pods;
  std::vector<NamespaceInfo> namespaces;
  [[nodiscard]] Json namespace_labels(const std::string& name) const;
};

// Pods a selector peer stands for.
bool peer_selects(const Peer& peer, const PodInfo& pod, const Json& namespace_labels);

// The bands of `pod`, from `profiles` (any order; parse errors excluded by the caller).
std::vector<Band> plan_pod(const PodInfo& pod, const std::vector<const TrafficProfile*>& profiles,
                           const ClusterView& cluster);

// Resolves one rule for one direction of `pod`.
Classifier resolve_rule(const Rule& rule, Direction direction, const PodInfo& pod,
                        const ClusterView& cluster);

// Golden-plan form: a stable, readable JSON rendering of bands (used by tests and `--dry-run`).
// Parameters at their defaults are left out; a trace is netem.trace with its series as
// [[offset_ns, value], ...] (delay_ns, rate_bytes_per_second) and period_ns when not 0.
Json to_json(const std::vector<Band>& bands);

}  // namespace riasc::netem
