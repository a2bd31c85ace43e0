#include "riasc/netem/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

namespace riasc::netem {
namespace {

std::optional<std::uint8_t> protocol_number(const std::string& name) {
  if (name == "TCP" || name.empty()) return 6;
  if (name == "UDP") return 17;
  if (name == "SCTP") return 132;
  return std::nullopt;
}

bool same_family(const net::IpAddress& a, const net::IpAddress& b) { return a.family == b.family; }

// Named ports resolve against the pods that receive the packets: the peers on egress (every
// pod when the rule names no pod peers), the shaped pod itself on ingress.
std::vector<const PodInfo*> receivers(const Rule& rule, Direction direction, const PodInfo& pod,
                                      const ClusterView& cluster) {
  std::vector<const PodInfo*> out;
  if (direction == Direction::Ingress) {
    out.push_back(&pod);
    return out;
  }
  const bool selector_peers = rule.peers && std::any_of(rule.peers->begin(), rule.peers->end(),
                                                        [](const Peer& p) { return !p.block; });
  for (const PodInfo& candidate : cluster.pods) {
    if (!selector_peers) {
      out.push_back(&candidate);
      continue;
    }
    const Json labels = cluster.namespace_labels(candidate.namespace_name);
    for (const Peer& peer : *rule.peers) {
      if (!peer.block && peer_selects(peer, candidate, labels)) {
        out.push_back(&candidate);
        break;
      }
    }
  }
  return out;
}

std::vector<PortRange> merged(std::vector<PortRange> ports) {
  std::sort(ports.begin(), ports.end());
  std::vector<PortRange> out;
  for (const PortRange& port : ports) {
    if (!out.empty() && out.back().protocol == port.protocol && port.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, port.last);
    } else {
      out.push_back(port);
    }
  }
  return out;
}

Json options_json(const net::NetemOptions& o) {
  using Distribution = net::NetemOptions::Distribution;
  auto distribution = [](Distribution d) {
    switch (d) {
      case Distribution::Uniform:
        return "uniform";
      case Distribution::Normal:
        return "normal";
      case Distribution::Pareto:
        return "pareto";
      case Distribution::ParetoNormal:
        return "paretonormal";
    }
    return "?";
  };
  Json out = Json::object();
  auto put = [&](const char* key, auto value, auto unset) {
    if (value != unset) out[key] = value;
  };
  put("latency_ns", o.latency_ns, 0u);
  put("jitter_ns", o.jitter_ns, 0u);
  put("delay_correlation", o.delay_correlation, 0.0);
  if (o.jitter_ns != 0) out["distribution"] = distribution(o.distribution);
  put("loss", o.loss, 0.0);
  put("loss_correlation", o.loss_correlation, 0.0);
  put("duplicate", o.duplicate, 0.0);
  put("duplicate_correlation", o.duplicate_correlation, 0.0);
  put("reorder", o.reorder, 0.0);
  put("reorder_correlation", o.reorder_correlation, 0.0);
  put("gap", o.gap, 0u);
  put("corrupt", o.corrupt, 0.0);
  put("corrupt_correlation", o.corrupt_correlation, 0.0);
  out["limit"] = o.limit;
  put("rate_bytes_per_second", o.rate_bytes_per_second, 0u);
  put("packet_overhead", o.packet_overhead, 0);
  put("cell_size", o.cell_size, 0u);
  put("cell_overhead", o.cell_overhead, 0);
  put("slot_min_ns", o.slot_min_ns, 0u);
  put("slot_max_ns", o.slot_max_ns, 0u);
  put("slot_delay_ns", o.slot_delay_ns, 0u);
  put("slot_jitter_ns", o.slot_jitter_ns, 0u);
  if (o.slot_delay_ns != 0) out["slot_distribution"] = distribution(o.slot_distribution);
  put("slot_max_packets", o.slot_max_packets, 0);
  put("slot_max_bytes", o.slot_max_bytes, 0);
  put("ecn", o.ecn, false);
  return out;
}

// [[offset_ns, value], ...]
Json series_json(const std::vector<shaper::TracePoint>& points) {
  Json out = Json::array();
  for (const shaper::TracePoint& point : points) out.push_back(Json::array({point.offset, point.value}));
  return out;
}

Json trace_json(const shaper::TraceReplay& trace) {
  Json out = Json::object();
  if (!trace.delay.empty()) out["delay_ns"] = series_json(trace.delay);
  if (!trace.rate.empty()) out["rate_bytes_per_second"] = series_json(trace.rate);
  if (trace.period != 0) out["period_ns"] = trace.period;
  return out;
}

}  // namespace

void AddressRanges::add(const AddressRange& range) {
  ranges_.push_back(range);
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<AddressRange> out;
  for (const AddressRange& r : ranges_) {
    if (!out.empty() && same_family(out.back().last, r.first)) {
      auto after = out.back().last.next();
      if (!after || r.first <= *after) {
        out.back().last = std::max(out.back().last, r.last);
        continue;
      }
    }
    out.push_back(r);
  }
  ranges_ = std::move(out);
}

void AddressRanges::remove(const AddressRange& cut) {
  std::vector<AddressRange> out;
  for (const AddressRange& r : ranges_) {
    if (!same_family(r.first, cut.first) || r.last < cut.first || cut.last < r.first) {
      out.push_back(r);
      continue;
    }
    if (r.first < cut.first) out.push_back({r.first, *cut.first.prev()});
    if (cut.last < r.last) out.push_back({*cut.last.next(), r.last});
  }
  ranges_ = std::move(out);
}

std::vector<AddressRange> AddressRanges::of(net::Family family) const {
  std::vector<AddressRange> out;
  for (const AddressRange& r : ranges_) {
    if (r.first.family == family) out.push_back(r);
  }
  return out;
}

bool AddressRanges::contains(const net::IpAddress& address) const {
  return std::any_of(ranges_.begin(), ranges_.end(), [&](const AddressRange& r) {
    return same_family(r.first, address) && r.first <= address && address <= r.last;
  });
}

PodInfo PodInfo::from_object(const Json& pod) {
  PodInfo info;
  const Json metadata = pod.value("metadata", Json::object());
  info.namespace_name = metadata.value("namespace", "default");
  info.name = metadata.value("name", "");
  info.labels = metadata.value("labels", Json::object());
  const Json spec = pod.value("spec", Json::object());
  const Json status = pod.value("status", Json::object());
  info.node = spec.value("nodeName", "");
  const std::string phase = status.value("phase", "");
  info.running = !metadata.contains("deletionTimestamp") && phase != "Succeeded" && phase != "Failed";
  const Json pod_ips = status.value("podIPs", Json::array());
  for (const Json& entry : pod_ips) {
    if (auto ip = net::IpAddress::parse(entry.value("ip", ""))) info.ips.push_back(*ip);
  }
  if (info.ips.empty()) {
    if (auto ip = net::IpAddress::parse(status.value("podIP", ""))) info.ips.push_back(*ip);
  }
  const Json containers = spec.value("containers", Json::array());
  for (const Json& container : containers) {
    const Json ports = container.value("ports", Json::array());
    for (const Json& port : ports) {
      auto protocol = protocol_number(port.value("protocol", "TCP"));
      const auto number = port.value("containerPort", 0);
      if (!protocol || !port.contains("name") || number < 1 || number > 65535) continue;
      info.ports.push_back({port["name"].get<std::string>(), *protocol, static_cast<std::uint16_t>(number)});
    }
  }
  return info;
}

Json ClusterView::namespace_labels(const std::string& name) const {
  for (const NamespaceInfo& ns : namespaces) {
    if (ns.name == name) {
      Json labels = ns.labels.is_object() ? ns.labels : Json::object();
      labels["kubernetes.io/metadata.name"] = name;
      return labels;
    }
  }
  return Json{{"kubernetes.io/metadata.name", name}};
}

bool peer_selects(const Peer& peer, const PodInfo& pod, const Json& namespace_labels) {
  if (peer.block || !pod.running) return false;
  if (peer.namespace_selector && !peer.namespace_selector->matches(namespace_labels)) return false;
  if (peer.pod_selector && !peer.pod_selector->matches(pod.labels)) return false;
  return true;
}

Classifier resolve_rule(const Rule& rule, Direction direction, const PodInfo& pod,
                        const ClusterView& cluster) {
  Classifier out;
  out.ether_types = rule.ether_types;
  out.inet_protos = rule.inet_protos;
  if (rule.peers) {
    AddressRanges peers;
    for (const Peer& peer : *rule.peers) {
      if (!peer.block) continue;
      AddressRanges block;
      block.add(peer.block->cidr);
      for (const net::IpPrefix& cut : peer.block->except) block.remove(cut);
      for (const AddressRange& range : block.ranges()) peers.add(range);
    }
    const bool selector_peers =
        std::any_of(rule.peers->begin(), rule.peers->end(), [](const Peer& p) { return !p.block; });
    if (selector_peers) {
      for (const PodInfo& candidate : cluster.pods) {
        const Json labels = cluster.namespace_labels(candidate.namespace_name);
        const bool selected = std::any_of(rule.peers->begin(), rule.peers->end(), [&](const Peer& peer) {
          return peer_selects(peer, candidate, labels);
        });
        if (!selected) continue;
        for (const net::IpAddress& ip : candidate.ips) peers.add(ip);
      }
    }
    out.peers = std::move(peers);
  }
  if (!rule.ports.empty()) {
    std::vector<const PodInfo*> named_port_owners;
    bool owners_known = false;
    for (const PortSpec& spec : rule.ports) {
      const auto protocol = static_cast<std::uint8_t>(spec.protocol);
      if (spec.name.empty()) {
        out.ports.push_back({protocol, spec.first, spec.last});
        continue;
      }
      if (!owners_known) {
        named_port_owners = receivers(rule, direction, pod, cluster);
        owners_known = true;
      }
      for (const PodInfo* owner : named_port_owners) {
        for (const ContainerPort& port : owner->ports) {
          if (port.name == spec.name && port.protocol == protocol)
            out.ports.push_back({protocol, port.port, port.port});
        }
      }
    }
    out.ports = merged(std::move(out.ports));
    out.matches_nothing = out.ports.empty();
  }
  return out;
}

std::vector<Band> plan_pod(const PodInfo& pod, const std::vector<const TrafficProfile*>& profiles,
                           const ClusterView& cluster) {
  std::vector<const TrafficProfile*> selecting;
  for (const TrafficProfile* profile : profiles) {
    if (pod.running && profile->pod_selector.matches(pod.labels)) selecting.push_back(profile);
  }
  std::sort(selecting.begin(), selecting.end(),
            [](const TrafficProfile* a, const TrafficProfile* b) { return a->name < b->name; });
  std::vector<Band> bands;
  for (const TrafficProfile* profile : selecting) {
    for (Direction direction : {Direction::Egress, Direction::Ingress}) {
      const std::vector<Rule>& rules = profile->rules(direction);
      if (rules.empty()) continue;
      Band band;
      band.profile = profile->name;
      band.direction = direction;
      band.interface_filter = profile->interface_filter;
      band.options = profile->initial_options(direction);
      if (profile->type == TrafficProfile::Type::Builtin) band.trace = profile->trace;
      band.backend = profile->backend;
      for (const Rule& rule : rules) band.classifiers.push_back(resolve_rule(rule, direction, pod, cluster));
      bands.push_back(std::move(band));
    }
  }
  return bands;
}

Json to_json(const std::vector<Band>& bands) {
  Json out = Json::array();
  for (const Band& band : bands) {
    Json entry{{"profile", band.profile}, {"direction", to_string(band.direction)}};
    if (band.interface_filter) entry["interfaceFilter"] = *band.interface_filter;
    if (band.backend != BackendChoice::Auto) entry["backend"] = to_string(band.backend);
    entry["netem"] = options_json(band.options);
    if (band.trace) entry["netem"]["trace"] = trace_json(*band.trace);
    Json classifiers = Json::array();
    for (const Classifier& c : band.classifiers) {
      Json rule = Json::object();
      if (c.peers) {
        Json peers = Json::array();
        for (const AddressRange& r : c.peers->ranges()) {
          peers.push_back(r.first == r.last ? r.first.to_string()
                                            : fmt::format("{}-{}", r.first.to_string(), r.last.to_string()));
        }
        rule["peers"] = std::move(peers);
      }
      if (!c.ports.empty()) {
        Json ports = Json::array();
        for (const PortRange& p : c.ports) {
          ports.push_back(p.first == p.last ? fmt::format("{}/{}", p.protocol, p.first)
                                            : fmt::format("{}/{}-{}", p.protocol, p.first, p.last));
        }
        rule["ports"] = std::move(ports);
      }
      if (!c.ether_types.empty()) {
        Json types = Json::array();
        for (auto t : c.ether_types) types.push_back(fmt::format("{:#06x}", t));
        rule["etherTypes"] = std::move(types);
      }
      if (!c.inet_protos.empty()) rule["inetProtos"] = c.inet_protos;
      if (c.matches_nothing) rule["matchesNothing"] = true;
      classifiers.push_back(std::move(rule));
    }
    entry["rules"] = std::move(classifiers);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace riasc::netem
