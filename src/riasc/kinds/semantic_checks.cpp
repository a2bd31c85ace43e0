#include "riasc/kinds/semantic_checks.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "riasc/core/units.hpp"

namespace riasc::kinds {

namespace {

constexpr double kMaxNetemSeconds = 4294.967295;  // netem keeps times in 32-bit microseconds
constexpr double kMaxTraceSeconds = 604800;       // a trace's at and period: a week
constexpr double kMaxTraceDelaySeconds = 3600;    // a trace's delays: below an hour

struct Cidr {
  int family = 0;
  std::array<std::uint8_t, 16> bytes{};
  int prefix = 0;
};

std::optional<Cidr> parse_cidr(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  Cidr cidr;
  std::string address = text.substr(0, slash);
  std::string_view prefix(text.data() + slash + 1, text.size() - slash - 1);
  auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), cidr.prefix);
  if (error != std::errc() || end != prefix.data() + prefix.size() || prefix.empty()) return std::nullopt;
  if (inet_pton(AF_INET, address.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET;
    if (cidr.prefix > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, address.c_str(), cidr.bytes.data()) == 1) {
    cidr.family = AF_INET6;
    if (cidr.prefix > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return cidr;
}

bool contains(const Cidr& outer, const Cidr& inner) {
  if (outer.family != inner.family || inner.prefix < outer.prefix) return false;
  for (int bit = 0; bit < outer.prefix; ++bit) {
    auto byte = static_cast<std::size_t>(bit / 8);
    auto mask = static_cast<std::uint8_t>(0x80U >> (bit % 8));
    if ((outer.bytes[byte] & mask) != (inner.bytes[byte] & mask)) return false;
  }
  return true;
}

class Checker {
 public:
  SemanticFindings findings;

  void invalid(const FieldPath& path, const Json& value, std::string detail) {
    findings.errors.push_back({FieldError::Type::Invalid, path, value, std::move(detail)});
  }
  void warn(const FieldPath& path, std::string message) {
    findings.warnings.push_back({path, std::move(message)});
  }

  // --- TrafficProfile ------------------------------------------------------------------------

  std::optional<double> seconds(const Json& netem, const char* field, const FieldPath& path,
                                double max_seconds = kMaxNetemSeconds, bool below = false) {
    auto it = netem.find(field);
    if (it == netem.end()) return std::nullopt;
    if (it->is_number()) return it->get<double>();
    if (!it->is_string()) {
      invalid(path.child(field), *it, "must be a number of seconds or a duration string such as \"200ms\"");
      return std::nullopt;
    }
    auto parsed = parse_duration_seconds(it->get<std::string>());
    if (!parsed) return std::nullopt;  // the schema's pattern reports it
    if (*parsed > max_seconds || (below && *parsed == max_seconds)) {
      invalid(path.child(field), *it,
              fmt::format("must be {} {} s", below ? "below" : "at most", max_seconds));
    }
    return parsed;
  }

  // parameters.netem.trace, beyond the schema: durations in range, each series from 0 in
  // increasing order of at, a period past every point, a link that comes up. The agent applies
  // the same rules (netem/traffic_profile.cpp).
  void check_trace(const Json& netem, const FieldPath& path) {
    auto trace = netem.find("trace");
    if (trace == netem.end() || !trace->is_object()) return;
    const FieldPath at = path.child("trace");
    for (const char* field : {"delay", "rate"}) {
      const Json constant = netem.value(field, Json(0));
      const bool set =
          constant.is_number()
              ? constant.get<double>() != 0
              : constant.is_string() && std::strtod(constant.get<std::string>().c_str(), nullptr) != 0;
      if (set && trace->contains(field))
        warn(path.child(field), fmt::format("ignored: trace.{} replaces {}", field, field));
    }
    double last = -1;  // the last at of the series
    std::string longest;
    for (const char* field : {"delay", "rate"}) {
      const Json points = trace->value(field, Json::array());
      if (!points.is_array()) continue;
      std::optional<double> previous;
      bool ordered = true;  // every point read, in order
      for (std::size_t i = 0; i < points.size() && ordered; ++i) {
        const FieldPath point_at = at.child(field).index(i);
        ordered = false;
        if (!points[i].is_object()) break;
        if (field == std::string_view("delay"))
          seconds(points[i], "value", point_at, kMaxTraceDelaySeconds, true);
        auto time = seconds(points[i], "at", point_at, kMaxTraceSeconds);
        if (!time) break;
        if (i == 0 && *time != 0) {
          invalid(point_at.child("at"), points[i]["at"], "must be 0: a series starts where the trace starts");
          break;
        }
        if (previous && *time <= *previous) {
          invalid(
              point_at.child("at"), points[i]["at"],
              fmt::format("must be later than the previous point's at ({}): points are in increasing order "
                          "of at",
                          render_value(points[i - 1]["at"])));
          break;
        }
        previous = time;
        ordered = true;
      }
      if (ordered && previous && *previous > last) {
        last = *previous;
        longest = field;
      }
    }
    const double period = seconds(*trace, "period", at, kMaxTraceSeconds).value_or(0);
    if (period != 0 && period <= last) {
      invalid(at.child("period"), (*trace)["period"],
              fmt::format("must be 0 (the last points hold) or greater than the last at of trace.{} ({})",
                          longest, render_value((*trace)[longest].back()["at"])));
    }
    // A link that never comes up again would hold its queue forever.
    const Json rates = trace->value("rate", Json::array());
    if (!rates.is_array() || rates.empty()) return;
    auto down = [](const Json& point) {
      const Json value = point.is_object() ? point.value("value", Json(1)) : Json(1);
      if (value.is_number()) return value.get<double>() == 0;
      return value.is_string() && std::strtod(value.get<std::string>().c_str(), nullptr) == 0;
    };
    if (std::all_of(rates.begin(), rates.end(), down)) {
      invalid(at.child("rate"), rates, "is 0 throughout: the link would never be up");
    } else if (period == 0 && down(rates.back())) {
      invalid(at.child("rate").index(rates.size() - 1).child("value"), rates.back()["value"],
              "ends the series with the link down, and without a period it would never come up again: end "
              "with a rate > 0 or set a period");
    }
  }

  void check_netem(const Json& netem, const FieldPath& path) {
    for (const char* field : {"delay", "jitter", "slot_delay", "slot_jitter"}) seconds(netem, field, path);
    auto min_delay = seconds(netem, "slot_min_delay", path);
    auto max_delay = seconds(netem, "slot_max_delay", path);
    if (min_delay && max_delay && *max_delay > 0 && *max_delay < *min_delay) {
      invalid(path.child("slot_max_delay"), netem["slot_max_delay"],
              "must be at least slot_min_delay (or 0 to mean equal to it)");
    }
    if (auto rate = netem.find("rate"); rate != netem.end() && !rate->is_number() && !rate->is_string()) {
      invalid(path.child("rate"), *rate, "must be a number of kbit/s or a string such as \"10mbit\"");
    }
    check_trace(netem, path);
  }

  void check_ports(const Json& rule, const FieldPath& path) {
    auto ports = rule.find("ports");
    if (ports == rule.end() || !ports->is_array()) return;
    for (std::size_t i = 0; i < ports->size(); ++i) {
      const Json& port = (*ports)[i];
      auto end_port = port.find("endPort");
      if (end_port == port.end()) continue;
      FieldPath at = path.child("ports").index(i).child("endPort");
      auto start = port.find("port");
      if (start == port.end() || !start->is_number_integer()) {
        invalid(at, *end_port, "requires a numeric port");
      } else if (end_port->get<std::int64_t>() < start->get<std::int64_t>()) {
        invalid(at, *end_port, fmt::format("must be greater than or equal to port ({})", start->dump()));
      }
    }
  }

  void check_peers(const Json& rule, const char* peers_field, const FieldPath& path) {
    auto peers = rule.find(peers_field);
    if (peers == rule.end() || !peers->is_array()) return;
    for (std::size_t i = 0; i < peers->size(); ++i) {
      auto block = (*peers)[i].find("ipBlock");
      if (block == (*peers)[i].end() || !block->contains("cidr")) continue;
      FieldPath at = path.child(peers_field).index(i).child("ipBlock");
      const Json& cidr_text = (*block)["cidr"];
      auto cidr = parse_cidr(cidr_text.get<std::string>());
      if (!cidr) {
        invalid(at.child("cidr"), cidr_text,
                "must be a network in CIDR notation, e.g. 192.0.2.0/24 or 2001:db8::/32");
        continue;
      }
      const Json excepts = block->value("except", Json::array());
      for (std::size_t j = 0; j < excepts.size(); ++j) {
        auto inner = parse_cidr(excepts[j].get<std::string>());
        if (!inner) {
          invalid(at.child("except").index(j), excepts[j],
                  "must be a network in CIDR notation, e.g. 192.0.2.0/28");
        } else if (!contains(*cidr, *inner)) {
          invalid(at.child("except").index(j), excepts[j],
                  fmt::format("must lie inside cidr {}", cidr_text.get<std::string>()));
        }
      }
    }
  }

  void check_traffic_profile(const Json& spec, const FieldPath& path) {
    const std::string type = string_member(spec, "type", "Builtin");
    const Json parameters = spec.value("parameters", Json::object());
    const FieldPath parameters_path = path.child("parameters");
    if (parameters.contains("netem")) check_netem(parameters["netem"], parameters_path.child("netem"));
    if (type == "Flexe") {
      if (parameters.contains("netem"))
        warn(parameters_path.child("netem"), "ignored: netem is for type Builtin, this profile is Flexe");
      if (!parameters.contains("profiles")) {
        warn(parameters_path, "type Flexe without profiles shapes nothing; add parameters.profiles");
      }
    } else {
      for (const char* field : {"segments", "profiles"}) {
        if (parameters.contains(field)) {
          warn(parameters_path.child(field),
               fmt::format("ignored: {} is for type Flexe, this profile is {}", field, type));
        }
      }
    }
    for (const auto& [direction, peers_field] : {std::pair{"egress", "to"}, std::pair{"ingress", "from"}}) {
      const Json rules = spec.value(direction, Json::array());
      for (std::size_t i = 0; i < rules.size(); ++i) {
        check_ports(rules[i], path.child(direction).index(i));
        check_peers(rules[i], peers_field, path.child(direction).index(i));
      }
    }
  }

  // --- SchedulerConfig ------------------------------------------------------------------------

  void check_reference(const Json& spec, const char* section, const Json& name, const FieldPath& at) {
    const Json defined = spec.value(section, Json::object());
    if (!name.is_string() || defined.contains(name.get<std::string>())) return;
    std::string known;
    for (const auto& [key, value] : defined.items()) known += (known.empty() ? "" : ", ") + key;
    invalid(at, name,
            known.empty() ? fmt::format("spec.{} defines nothing to refer to", section)
                          : fmt::format("must name an entry of spec.{}: {}", section, known));
  }

  void check_scheduler_config(const Json& spec, const FieldPath& path) {
    const Json tasks = spec.value("tasks", Json::object());
    for (const auto& [name, task] : tasks.items()) {
      FieldPath at = path.child("tasks").key(name);
      if (task.contains("group")) check_reference(spec, "groups", task["group"], at.child("group"));
      if (task.contains("test")) check_reference(spec, "tests", task["test"], at.child("test"));
      if (task.contains("schedule"))
        check_reference(spec, "schedules", task["schedule"], at.child("schedule"));
      const Json archives = task.value("archives", Json::array());
      for (std::size_t i = 0; i < archives.size(); ++i) {
        check_reference(spec, "archives", archives[i], at.child("archives").index(i));
      }
    }
  }

  // --- Chroma4Q ---------------------------------------------------------------------------------

  void check_chroma(const Json& spec, const FieldPath& path) {
    const Json parameters = spec.value("parameters", Json::object());
    const Json setpoints = spec.value("setpoints", Json::object());
    const std::size_t phases = spec.value("phases", Json::array()).size();
    for (const auto& [setpoint, limit] :
         {std::pair{"voltageRMS", "maxVoltageAC"}, std::pair{"voltageAC", "maxVoltageAC"},
          std::pair{"frequency", "maxFrequency"}}) {
      const Json values = setpoints.value(setpoint, Json::array());
      FieldPath at = path.child("setpoints").child(setpoint);
      if (phases > 0 && values.size() > phases) {
        warn(at, fmt::format("has {} values for {} phase(s); the extra values are ignored", values.size(),
                             phases));
      }
      auto maximum = parameters.find(limit);
      if (maximum == parameters.end() || !maximum->is_number()) continue;
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i].is_number() && values[i].get<double>() > maximum->get<double>()) {
          warn(at.index(i), fmt::format("{} exceeds parameters.{} ({}); the operator will refuse to apply it",
                                        values[i].dump(), limit, maximum->dump()));
        }
      }
    }
  }
};

}  // namespace

SemanticFindings check_semantics(const Json& object) {
  Checker checker;
  if (!object.is_object() || !object.contains("spec") || !object["spec"].is_object()) return {};
  const std::string api_version = string_member(object, "apiVersion");
  const std::string kind = string_member(object, "kind");
  const Json& spec = object["spec"];
  const FieldPath path = FieldPath().child("spec");
  if (kind == "TrafficProfile" && api_version.starts_with("k8s-netem.riasc.eu/")) {
    checker.check_traffic_profile(spec, path);
  } else if (kind == "SchedulerConfig" && api_version.starts_with("riasc.eu/")) {
    checker.check_scheduler_config(spec, path);
  } else if (kind == "Chroma4Q" && api_version.starts_with("device.riasc.eu/")) {
    checker.check_chroma(spec, path);
  }
  return std::move(checker.findings);
}

}  // namespace riasc::kinds
