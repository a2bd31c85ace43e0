#include "riasc/netem/traffic_profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "riasc/core/rfc3339.hpp"
#include "riasc/core/units.hpp"

namespace riasc::netem {
namespace {

using std::chrono::nanoseconds;
using Distribution = net::NetemOptions::Distribution;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The keywords of /etc/protocols that a lab is likely to write, so the agent does not depend on
// the node's netbase package. Numbers work for the rest.
constexpr std::array<std::pair<std::string_view, std::uint8_t>, 22> kInetProtos{{
    {"hopopt", 0}, {"icmp", 1},   {"igmp", 2},       {"ipv4", 4},      {"ipencap", 4}, {"ip-in-ip", 4},
    {"tcp", 6},    {"egp", 8},    {"udp", 17},       {"ipv6", 41},     {"rsvp", 46},   {"gre", 47},
    {"esp", 50},   {"ah", 51},    {"ipv6-icmp", 58}, {"icmpv6", 58},   {"ospf", 89},   {"ospfigp", 89},
    {"pim", 103},  {"vrrp", 112}, {"sctp", 132},     {"udplite", 136},
}};

constexpr std::array<std::pair<std::string_view, std::uint16_t>, 6> kEtherTypes{{
    {"ip", 0x0800},
    {"arp", 0x0806},
    {"ip6", 0x86dd},
    {"vlan", 0x8100},
    {"8021q", 0x8100},
    {"8021ad", 0x88a8},
}};

// A number (JSON, decimal or 0x hex text) up to Int's maximum, or a name from `names`.
template <class Int, std::size_t N>
std::optional<Int> number_or_name(const Json& value,
                                  const std::array<std::pair<std::string_view, Int>, N>& names) {
  constexpr auto max = std::numeric_limits<Int>::max();
  if (value.is_number_integer()) {
    const auto number = value.get<std::int64_t>();
    if (number < 0 || number > max) return std::nullopt;
    return static_cast<Int>(number);
  }
  if (!value.is_string()) return std::nullopt;
  const std::string text = lower(value.get<std::string>());
  if (auto number = parse_unsigned(text)) return *number <= max ? std::optional<Int>(*number) : std::nullopt;
  for (const auto& [name, number] : names) {
    if (text == name) return number;
  }
  return std::nullopt;
}

std::uint64_t to_ns(double seconds) { return static_cast<std::uint64_t>(std::llround(seconds * 1e9)); }

constexpr const char* kRateAllowed =
    "must be kbit/s as a number or a rate such as \"10mbit\" (bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, "
    "gbps, tbps)";
// A trace's times (at, period) reach a week; its delays stay below an hour, as the shaper wants.
constexpr double kMaxTraceSeconds = 604800;
constexpr double kMaxTraceDelaySeconds = 3600;

class Reader {
 public:
  explicit Reader(FieldErrors& errors) : errors_(errors) {}

  void invalid(const FieldPath& at, const Json& value, std::string detail) {
    errors_.push_back({FieldError::Type::Invalid, at, value, std::move(detail)});
  }

  // Seconds as a number or a duration string → nanoseconds.
  std::uint64_t seconds(const Json& object, const char* field, const FieldPath& at) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return 0;
    std::optional<double> value;
    if (it->is_number()) value = it->get<double>();
    if (it->is_string()) value = parse_duration_seconds(it->get<std::string>());
    if (!value || *value < 0 || *value > 4294.967295) {
      invalid(at.child(field), *it,
              "must be seconds from 0 to 4294.967295, as a number or a duration such as \"200ms\"");
      return 0;
    }
    return to_ns(*value);
  }

  double fraction(const Json& object, const char* field, const FieldPath& at, double scale = 1.0) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return 0;
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > scale) {
      invalid(at.child(field), *it, fmt::format("must be a number from 0 to {}", scale));
      return 0;
    }
    return it->get<double>() / scale;
  }

  template <class Int>
  Int integer(const Json& object, const char* field, const FieldPath& at, std::int64_t min,
              std::int64_t max) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return 0;
    if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max) {
      invalid(at.child(field), *it, fmt::format("must be an integer from {} to {}", min, max));
      return 0;
    }
    return static_cast<Int>(it->get<std::int64_t>());
  }

  Distribution distribution(const Json& object, const char* field, const FieldPath& at,
                            Distribution fallback) {
    auto it = object.find(field);
    if (it == object.end() || it->is_null()) return fallback;
    const std::string name = it->is_string() ? it->get<std::string>() : "";
    if (name == "uniform" || name.empty()) return Distribution::Uniform;
    if (name == "normal") return Distribution::Normal;
    if (name == "pareto") return Distribution::Pareto;
    if (name == "paretonormal") return Distribution::ParetoNormal;
    invalid(at.child(field), *it, "must be one of uniform, normal, pareto, paretonormal");
    return fallback;
  }

  net::NetemOptions netem(const Json& netem, const FieldPath& at, const shaper::TraceReplay* trace) {
    net::NetemOptions options;
    options.latency_ns = seconds(netem, "delay", at);
    options.jitter_ns = seconds(netem, "jitter", at);
    options.delay_correlation = fraction(netem, "delay_jitter_correlation", at);
    options.distribution = distribution(netem, "distribution", at, Distribution::Normal);
    options.loss = fraction(netem, "loss_ratio", at);
    options.loss_correlation = fraction(netem, "loss_correlation", at);
    options.duplicate = fraction(netem, "duplication_ratio", at);
    options.duplicate_correlation = fraction(netem, "duplication_correlation", at);
    options.reorder = fraction(netem, "reorder_ratio", at);
    options.reorder_correlation = fraction(netem, "reorder_correlation", at);
    options.gap = integer<std::uint32_t>(netem, "reorder_gap", at, 0, 4294967295);
    options.corrupt = fraction(netem, "corruption_ratio", at);
    options.corrupt_correlation = fraction(netem, "corruption_correlation", at);
    auto limit = integer<std::uint32_t>(netem, "limit", at, 0, 4294967295);
    if (limit != 0) options.limit = limit;
    if (auto rate = netem.find("rate"); rate != netem.end() && !rate->is_null()) {
      auto bytes = parse_rate_bytes_per_second(*rate);
      if (!bytes) {
        invalid(at.child("rate"), *rate, kRateAllowed);
      } else {
        options.rate_bytes_per_second = *bytes;
      }
    }
    options.packet_overhead = integer<std::int32_t>(netem, "rate_packetoverhead", at, -65535, 65535);
    options.cell_size = integer<std::uint32_t>(netem, "rate_cellsize", at, 0, 65535);
    options.cell_overhead = integer<std::int32_t>(netem, "rate_celloverhead", at, -65535, 65535);
    options.slot_delay_ns = seconds(netem, "slot_delay", at);
    options.slot_jitter_ns = seconds(netem, "slot_jitter", at);
    options.slot_distribution = distribution(netem, "slot_distribution", at, Distribution::Normal);
    if (options.slot_delay_ns == 0) {
      options.slot_min_ns = seconds(netem, "slot_min_delay", at);
      options.slot_max_ns = std::max(seconds(netem, "slot_max_delay", at), options.slot_min_ns);
    }
    options.slot_max_packets = integer<std::int32_t>(netem, "slot_packets", at, 0, 2147483647);
    options.slot_max_bytes = integer<std::int32_t>(netem, "slot_bytes", at, 0, 2147483647);
    options.ecn = netem.value("ecn", false);
    return normalized(options, trace);
  }

  // A time of a trace: seconds as a number or a duration string, from 0 to `max_seconds`
  // (`below`: excluding it) → ns; nullopt, with an error saying `allowed`, for anything else.
  std::optional<std::int64_t> trace_time(const Json& value, const FieldPath& at, double max_seconds,
                                         bool below, const char* allowed) {
    std::optional<double> seconds;
    if (value.is_number()) seconds = value.get<double>();
    if (value.is_string()) seconds = parse_duration_seconds(value.get<std::string>());
    if (!seconds || *seconds < 0 || *seconds > max_seconds || (below && *seconds == max_seconds)) {
      invalid(at, value, allowed);
      return std::nullopt;
    }
    return static_cast<std::int64_t>(to_ns(*seconds));
  }

  // One series of a trace (`field` of `trace`): its points, or nullopt when a point is malformed
  // or out of order (each reported). The value of a point is read by `value_of`.
  template <class ValueOf>
  std::optional<std::vector<shaper::TracePoint>> series(const Json& trace, const char* field,
                                                        const FieldPath& trace_at, ValueOf&& value_of) {
    std::vector<shaper::TracePoint> points;
    auto list = trace.find(field);
    if (list == trace.end() || list->is_null()) return points;
    const FieldPath list_at = trace_at.child(field);
    if (!list->is_array()) {
      invalid(list_at, *list, "must be a list of points {at, value}");
      return std::nullopt;
    }
    bool valid = true;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const Json& point = (*list)[i];
      const FieldPath point_at = list_at.index(i);
      if (!point.is_object() || !point.contains("at") || !point.contains("value")) {
        invalid(point_at, point, "must be a point {at, value}");
        valid = false;
        continue;
      }
      auto offset = trace_time(point["at"], point_at.child("at"), kMaxTraceSeconds, false,
                               "must be seconds from 0 to 604800 (one week), as a number or a duration "
                               "such as \"1.5s\"");
      auto value = value_of(point["value"], point_at.child("value"));
      if (!offset || !value) {
        valid = false;
        continue;
      }
      points.push_back({*offset, *value});
    }
    if (!valid) return std::nullopt;
    // The shaper's rules, reported where they are broken: the first point at 0, then increasing.
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Json& at = (*list)[i]["at"];
      if (i == 0 && points[0].offset != 0) {
        invalid(list_at.index(0).child("at"), at, "must be 0: a series starts where the trace starts");
        return std::nullopt;
      }
      if (i > 0 && points[i].offset <= points[i - 1].offset) {
        invalid(list_at.index(i).child("at"), at,
                fmt::format("must be later than the previous point's at ({}): points are in increasing "
                            "order of at",
                            render_value((*list)[i - 1]["at"])));
        return std::nullopt;
      }
    }
    return points;
  }

  // parameters.netem.trace (nullopt when absent or broken; errors say why).
  std::optional<shaper::TraceReplay> trace(const Json& netem, const FieldPath& netem_at) {
    auto it = netem.find("trace");
    if (it == netem.end() || it->is_null()) return std::nullopt;
    const FieldPath at = netem_at.child("trace");
    if (!it->is_object()) {
      invalid(at, *it, "must be an object with a delay or a rate series, and a period");
      return std::nullopt;
    }
    const Json& trace = *it;
    const std::size_t errors_before = errors_.size();
    auto delay = series(trace, "delay", at, [&](const Json& value, const FieldPath& value_at) {
      return trace_time(value, value_at, kMaxTraceDelaySeconds, true,
                        "must be seconds from 0 to below 3600 (one hour), as a number or a duration such as "
                        "\"20ms\"");
    });
    auto rate = series(
        trace, "rate", at, [&](const Json& value, const FieldPath& value_at) -> std::optional<std::int64_t> {
          auto bytes = parse_rate_bytes_per_second(value);
          if (!bytes || *bytes > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            invalid(value_at, value, std::string(kRateAllowed) + "; 0 is a link that is down");
            return std::nullopt;
          }
          return static_cast<std::int64_t>(*bytes);
        });
    std::optional<std::int64_t> period = 0;
    if (auto p = trace.find("period"); p != trace.end() && !p->is_null()) {
      period = trace_time(*p, at.child("period"), kMaxTraceSeconds, false,
                          "must be seconds from 0 to 604800 (one week), as a number or a duration such as "
                          "\"60s\"; 0 does not repeat");
    }
    if (!delay || !rate || !period) return std::nullopt;
    if (delay->empty() && rate->empty()) {
      errors_.push_back({FieldError::Type::Required, at.child("delay"), Json(),
                         "a trace needs a delay or a rate series (or both)"});
      return std::nullopt;
    }
    // The period repeats both series, so it is longer than either.
    const char* longest = nullptr;
    std::int64_t last = -1;
    for (const auto& [name, points] : {std::pair{"delay", &*delay}, std::pair{"rate", &*rate}}) {
      if (!points->empty() && points->back().offset > last) {
        last = points->back().offset;
        longest = name;
      }
    }
    if (*period != 0 && *period <= last) {
      invalid(at.child("period"), trace["period"],
              fmt::format("must be 0 (the last points hold) or greater than the last at of trace.{} ({})",
                          longest, render_value(trace[longest].back()["at"])));
    }
    // A link that never comes up again would hold its queue forever.
    if (!rate->empty()) {
      if (std::all_of(rate->begin(), rate->end(), [](const shaper::TracePoint& p) { return p.value == 0; })) {
        invalid(at.child("rate"), trace["rate"], "is 0 throughout: the link would never be up");
      } else if (*period == 0 && rate->back().value == 0) {
        invalid(at.child("rate").index(rate->size() - 1).child("value"), trace["rate"].back()["value"],
                "ends the series with the link down, and without a period it would never come up again: end "
                "with a rate > 0 or set a period");
      }
    }
    if (errors_.size() != errors_before) return std::nullopt;
    return shaper::TraceReplay{std::move(*delay), std::move(*rate), *period};
  }

  // What netem itself would do with the settings, so that equal behaviour compares equal:
  // reordering needs a delay (tc refuses it without one; the CRD documents it has no effect) and
  // random reordering is a gap of 1; a distribution only matters with jitter; slot fields only
  // with slotting.
  // A trace's series replace the delay and the rate they stand for; a delay series stands in for
  // the delay that reordering needs, and a rate series for the rate the overheads need.
  static net::NetemOptions normalized(net::NetemOptions options, const shaper::TraceReplay* trace = nullptr) {
    std::uint64_t latency = options.latency_ns;
    const bool rate_series = trace != nullptr && !trace->rate.empty();
    if (trace != nullptr && !trace->delay.empty()) {
      latency = 0;
      for (const shaper::TracePoint& point : trace->delay)
        latency = std::max(latency, static_cast<std::uint64_t>(point.value));
      options.latency_ns = 0;
    }
    if (rate_series) options.rate_bytes_per_second = 0;
    if (latency == 0) {
      options.reorder = 0;
      options.reorder_correlation = 0;
    }
    if (options.reorder == 0) {
      options.reorder_correlation = 0;
      options.gap = 0;
    } else if (options.gap == 0) {
      options.gap = 1;
    }
    if (options.jitter_ns == 0) options.distribution = Distribution::Uniform;
    if (options.rate_bytes_per_second == 0 && !rate_series) {
      options.packet_overhead = 0;
      options.cell_size = 0;
      options.cell_overhead = 0;
    }
    // netem takes a slot distribution only with a spread, and no uniform table: those are the
    // min/max form (uniform between the two).
    if (options.slot_delay_ns != 0 &&
        (options.slot_jitter_ns == 0 || options.slot_distribution == Distribution::Uniform)) {
      options.slot_min_ns = options.slot_delay_ns - std::min(options.slot_delay_ns, options.slot_jitter_ns);
      options.slot_max_ns = options.slot_delay_ns + options.slot_jitter_ns;
      options.slot_delay_ns = 0;
      options.slot_jitter_ns = 0;
    }
    if (options.slot_delay_ns == 0 && options.slot_min_ns == 0) {
      options.slot_max_ns = 0;
      options.slot_jitter_ns = 0;
      options.slot_max_packets = 0;
      options.slot_max_bytes = 0;
      options.slot_distribution = Distribution::Normal;
    }
    return options;
  }

  LabelSelector selector(const Json& object, const char* field, const FieldPath& at) {
    return LabelSelector::from_json(object.contains(field) ? object[field] : Json(), at.child(field),
                                    errors_);
  }

  std::optional<net::IpPrefix> prefix(const Json& text, const FieldPath& at) {
    auto parsed = text.is_string() ? net::IpPrefix::parse(text.get<std::string>()) : std::nullopt;
    if (!parsed || text.get<std::string>().find('/') == std::string::npos) {
      invalid(at, text, "must be a network in CIDR notation, e.g. 192.0.2.0/24 or 2001:db8::/32");
      return std::nullopt;
    }
    return parsed;
  }

  Peer peer(const Json& peer, const FieldPath& at) {
    Peer out;
    if (auto block = peer.find("ipBlock"); block != peer.end()) {
      auto cidr = prefix(block->value("cidr", Json()), at.child("ipBlock").child("cidr"));
      Peer::Block parsed{cidr.value_or(net::IpPrefix{}), {}};
      const Json excepts = block->value("except", Json::array());
      for (std::size_t i = 0; i < excepts.size(); ++i) {
        auto inner = prefix(excepts[i], at.child("ipBlock").child("except").index(i));
        if (!inner) continue;
        if (cidr && (inner->address.family != cidr->address.family || !cidr->contains(inner->first()) ||
                     !cidr->contains(inner->last()))) {
          invalid(at.child("ipBlock").child("except").index(i), excepts[i],
                  fmt::format("must lie inside cidr {}", cidr->to_string()));
          continue;
        }
        parsed.except.push_back(*inner);
      }
      out.block = std::move(parsed);
      return out;
    }
    if (peer.contains("podSelector")) out.pod_selector = selector(peer, "podSelector", at);
    if (peer.contains("namespaceSelector")) out.namespace_selector = selector(peer, "namespaceSelector", at);
    if (!out.pod_selector && !out.namespace_selector) {
      invalid(at, peer, "must have ipBlock, podSelector or namespaceSelector");
    }
    return out;
  }

  Rule rule(const Json& rule, const char* peers_field, const FieldPath& at) {
    Rule out;
    if (auto peers = rule.find(peers_field); peers != rule.end() && peers->is_array() && !peers->empty()) {
      out.peers.emplace();
      for (std::size_t i = 0; i < peers->size(); ++i) {
        out.peers->push_back(peer((*peers)[i], at.child(peers_field).index(i)));
      }
    }
    const Json ports = rule.value("ports", Json::array());
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const FieldPath port_at = at.child("ports").index(i);
      PortSpec spec;
      const std::string protocol = ports[i].value("protocol", "TCP");
      if (protocol == "TCP")
        spec.protocol = Protocol::TCP;
      else if (protocol == "UDP")
        spec.protocol = Protocol::UDP;
      else if (protocol == "SCTP")
        spec.protocol = Protocol::SCTP;
      else if (protocol == "UDPLite")
        spec.protocol = Protocol::UDPLite;
      else
        invalid(port_at.child("protocol"), ports[i]["protocol"], "must be one of TCP, UDP, SCTP, UDPLite");
      const Json port = ports[i].value("port", Json());
      if (port.is_string()) {
        spec.name = port.get<std::string>();
      } else if (port.is_number_integer() && port.get<std::int64_t>() >= 1 &&
                 port.get<std::int64_t>() <= 65535) {
        spec.first = spec.last = static_cast<std::uint16_t>(port.get<std::int64_t>());
        spec.last =
            std::max(spec.first, integer<std::uint16_t>(ports[i], "endPort", port_at, spec.first, 65535));
      } else if (port.is_null()) {
        spec.first = 1;  // NetworkPolicy: a protocol without a port means every port
        spec.last = 65535;
      } else {
        invalid(port_at.child("port"), port,
                "must be a port number from 1 to 65535 or a container port name");
      }
      out.ports.push_back(std::move(spec));
    }
    const Json ether_types = rule.value("etherTypes", Json::array());
    for (std::size_t i = 0; i < ether_types.size(); ++i) {
      if (auto type = parse_ether_type(ether_types[i]))
        out.ether_types.push_back(*type);
      else
        invalid(at.child("etherTypes").index(i), ether_types[i],
                "must be an EtherType name (ip, ip6, arp, vlan, 8021q, 8021ad) or a number from 0 to 65535 "
                "(0x88B8)");
    }
    const Json protos = rule.value("inetProtos", Json::array());
    for (std::size_t i = 0; i < protos.size(); ++i) {
      if (auto proto = parse_inet_proto(protos[i]))
        out.inet_protos.push_back(*proto);
      else
        invalid(at.child("inetProtos").index(i), protos[i],
                "must be an IP protocol keyword (icmp, tcp, udp, ipv6-icmp, sctp, gre, ...) or a number from "
                "0 to 255");
    }
    std::sort(out.ether_types.begin(), out.ether_types.end());
    out.ether_types.erase(std::unique(out.ether_types.begin(), out.ether_types.end()), out.ether_types.end());
    std::sort(out.inet_protos.begin(), out.inet_protos.end());
    out.inet_protos.erase(std::unique(out.inet_protos.begin(), out.inet_protos.end()), out.inet_protos.end());
    return out;
  }

  std::vector<Rule> rules(const Json& spec, const char* field, const char* peers_field, const FieldPath& at) {
    std::vector<Rule> out;
    const Json list = spec.value(field, Json::array());
    for (std::size_t i = 0; i < list.size(); ++i)
      out.push_back(rule(list[i], peers_field, at.child(field).index(i)));
    return out;
  }

  FlexeSequence flexe(const Json& parameters, const FieldPath& at) {
    FlexeSequence sequence;
    const Json segments = parameters.value("segments", Json::array());
    if (!segments.empty()) sequence.repeat = segments.back().value("repeat", false);
    const Json profiles = parameters.value("profiles", Json::array());
    if (profiles.empty()) {
      errors_.push_back({FieldError::Type::Required, at.child("profiles"), Json(),
                         "type Flexe needs at least one profile"});
      return sequence;
    }
    // Flexe's parameters are cumulative: each profile starts from the one before.
    Json current = Json::object();
    nanoseconds start{0};
    for (std::size_t i = 0; i < profiles.size(); ++i) {
      const FieldPath profile_at = at.child("profiles").index(i).child("parameters");
      const Json changes = profiles[i].value("parameters", Json::object());
      for (const auto& [key, value] : changes.items()) current[key] = value;
      FlexeStep step;
      step.name = profiles[i].value("name", fmt::format("profile-{}", i));
      const double run_time = current.value("runTime", 0.0);
      step.duration = nanoseconds(to_ns(run_time));
      net::NetemOptions options;
      options.latency_ns = to_ns(current.value("delay", 0.0) / 1e3);
      options.jitter_ns = to_ns(current.value("delayVariation", 0.0) / 1e3);
      options.delay_correlation = fraction(current, "delayCorrelation", profile_at, 100);
      options.distribution = distribution(current, "delayDistribution", profile_at, Distribution::Uniform);
      options.loss = fraction(current, "loss", profile_at, 100);
      options.loss_correlation = fraction(current, "lossCorrelation", profile_at, 100);
      options.duplicate = fraction(current, "duplication", profile_at, 100);
      options.corrupt = fraction(current, "corruption", profile_at, 100);
      options.reorder = fraction(current, "reorder", profile_at, 100);
      options.reorder_correlation = fraction(current, "reorderCorrelation", profile_at, 100);
      step.egress = normalized(options);
      step.ingress = step.egress;
      step.egress.rate_bytes_per_second =
          static_cast<std::uint64_t>(current.value("bandwidthUp", 0.0) * 1000 / 8);
      step.ingress.rate_bytes_per_second =
          static_cast<std::uint64_t>(current.value("bandwidthDown", 0.0) * 1000 / 8);
      const bool last = i + 1 == profiles.size();
      // Profiles without a run time before the last merge into the next one (their values
      // carry over); the last one without a run time lasts forever.
      if (step.duration.count() == 0 && !last) continue;
      step.start = start;
      start += step.duration;
      sequence.steps.push_back(std::move(step));
    }
    // Without repeat the last step lasts forever (the original's semantics).
    if (!sequence.repeat) sequence.steps.back().duration = nanoseconds{0};
    return sequence;
  }

 private:
  FieldErrors& errors_;
};

}  // namespace

const char* to_string(Direction direction) { return direction == Direction::Egress ? "egress" : "ingress"; }

nanoseconds FlexeSequence::period() const {
  nanoseconds total{0};
  for (const FlexeStep& step : steps) {
    if (step.duration.count() == 0) return nanoseconds{0};
    total += step.duration;
  }
  return total;
}

FlexeSequence::Position FlexeSequence::at(nanoseconds elapsed) const {
  if (steps.empty()) return {};
  const nanoseconds cycle = period();
  nanoseconds offset = elapsed;
  nanoseconds cycle_start{0};
  if (repeat && cycle.count() > 0 && elapsed >= cycle) {
    cycle_start = (elapsed / cycle) * cycle;
    offset = elapsed - cycle_start;
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const FlexeStep& step = steps[i];
    if (step.duration.count() == 0) return {i, cycle_start + step.start, std::nullopt};
    if (offset < step.start + step.duration) {
      return {i, cycle_start + step.start, cycle_start + step.start + step.duration};
    }
  }
  // Past the end of a sequence that does not repeat: the last step holds.
  return {steps.size() - 1, steps.back().start, std::nullopt};
}

const net::NetemOptions& TrafficProfile::initial_options(Direction direction) const {
  if (type == Type::Flexe && !flexe.steps.empty()) {
    return direction == Direction::Egress ? flexe.steps.front().egress : flexe.steps.front().ingress;
  }
  return netem;
}

std::optional<std::uint64_t> parse_rate_bytes_per_second(const Json& value) {
  if (value.is_number()) {
    if (value.get<double>() < 0) return std::nullopt;
    return static_cast<std::uint64_t>(std::llround(value.get<double>() * 1000 / 8));
  }
  if (!value.is_string()) return std::nullopt;
  const std::string text = lower(value.get<std::string>());
  std::size_t unit_at = 0;
  while (unit_at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.')) {
    ++unit_at;
  }
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + unit_at, number);
  if (error != std::errc{} || end != text.data() + unit_at || unit_at == 0) return std::nullopt;
  static constexpr std::array<std::pair<std::string_view, double>, 10> kUnits{{
      {"bit", 1},
      {"kbit", 1e3},
      {"mbit", 1e6},
      {"gbit", 1e9},
      {"tbit", 1e12},
      {"bps", 8},
      {"kbps", 8e3},
      {"mbps", 8e6},
      {"gbps", 8e9},
      {"tbps", 8e12},
  }};
  const std::string_view unit = std::string_view(text).substr(unit_at);
  for (const auto& [name, bits] : kUnits) {
    if (unit == name) return static_cast<std::uint64_t>(std::llround(number * bits / 8));
  }
  return std::nullopt;
}

std::optional<std::uint8_t> parse_inet_proto(const Json& value) { return number_or_name(value, kInetProtos); }

std::optional<std::uint16_t> parse_ether_type(const Json& value) {
  return number_or_name(value, kEtherTypes);
}

std::optional<BackendChoice> parse_backend_choice(std::string_view text) {
  if (text == "auto") return BackendChoice::Auto;
  if (text == "kernel") return BackendChoice::Kernel;
  if (text == "userspace") return BackendChoice::Userspace;
  return std::nullopt;
}

std::string to_string(BackendChoice choice) {
  switch (choice) {
    case BackendChoice::Kernel:
      return "kernel";
    case BackendChoice::Userspace:
      return "userspace";
    case BackendChoice::Auto:
      break;
  }
  return "auto";
}

ParsedTrafficProfile parse_traffic_profile(const Json& object) {
  ParsedTrafficProfile parsed;
  Reader read(parsed.errors);
  TrafficProfile& profile = parsed.profile;
  const Json metadata = object.value("metadata", Json::object());
  profile.name = metadata.value("name", "");
  profile.uid = metadata.value("uid", "");
  profile.generation = metadata.value("generation", std::int64_t{0});
  const Json spec = object.value("spec", Json::object());
  const FieldPath spec_at = FieldPath().child("spec");
  profile.pod_selector = read.selector(spec, "podSelector", spec_at);
  if (auto filter = spec.find("interfaceFilter"); filter != spec.end() && filter->is_string()) {
    profile.interface_filter = filter->get<std::string>();
  }
  if (auto backend = spec.find("backend"); backend != spec.end()) {
    const auto choice =
        backend->is_string() ? parse_backend_choice(backend->get<std::string>()) : std::nullopt;
    if (choice) {
      profile.backend = *choice;
    } else {
      read.invalid(spec_at.child("backend"), *backend, "must be auto, kernel or userspace");
    }
  }
  const std::string type = spec.value("type", "Builtin");
  const Json parameters = spec.value("parameters", Json::object());
  const FieldPath parameters_at = spec_at.child("parameters");
  if (type == "Flexe") {
    profile.type = TrafficProfile::Type::Flexe;
    profile.flexe = read.flexe(parameters, parameters_at);
  } else if (type == "Builtin") {
    const Json netem = parameters.value("netem", Json::object());
    const FieldPath netem_at = parameters_at.child("netem");
    profile.trace = read.trace(netem, netem_at);
    // The series start when the profile was made, as Flexe's steps do: every pod and node replays
    // in step, and edits do not start it again.
    if (profile.trace) {
      if (auto created = parse_rfc3339(metadata.value("creationTimestamp", ""))) {
        profile.trace->origin =
            std::chrono::duration_cast<std::chrono::nanoseconds>(created->time_since_epoch()).count();
      }
    }
    profile.netem = read.netem(netem, netem_at, profile.trace ? &*profile.trace : nullptr);
  } else {
    read.invalid(spec_at.child("type"), spec["type"], "must be Builtin or Flexe");
  }
  profile.egress = read.rules(spec, "egress", "to", spec_at);
  profile.ingress = read.rules(spec, "ingress", "from", spec_at);
  if (profile.egress.empty() && profile.ingress.empty()) profile.egress.emplace_back();
  return parsed;
}

}  // namespace riasc::netem
