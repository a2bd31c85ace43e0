#include "riasc/kubeapi/table.hpp"

#include "riasc/core/rfc3339.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "riasc/core/json_path.hpp"
#include "riasc/schema/crd.hpp"

namespace riasc::kubeapi {

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// Ages and timestamps in tables are shown to the second.
std::optional<sys_seconds> parse_seconds(std::string_view text) {
  auto time = parse_rfc3339(text);
  if (!time) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(*time);
}

// Column descriptions as kube-apiserver sends them (the Go types' documentation). kubectl does not
// print them; they are here so that clients which show them see the usual text.
constexpr std::string_view kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr std::string_view kCreationTimestampDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was created. It "
    "is not guaranteed to be set in happens-before order across separate operations. Clients may not "
    "set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
    "Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
constexpr std::string_view kNodeAddressesDescription =
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/concepts/nodes/node/#addresses Note: This field is declared as "
    "mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it "
    "is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for "
    "an example. Consumers should assume that addresses can change during the lifetime of a Node. "
    "However, there are some exceptions where this may not be possible, such as Pods that inherit a "
    "Node's address in its own status or consumers of the downward API (status.hostIP).";

const Json& null_json() {
  static const Json null_value;
  return null_value;
}

const Json& member(const Json& object, std::string_view key) {
  if (!object.is_object()) return null_json();
  auto it = object.find(key);
  return it == object.end() ? null_json() : *it;
}

std::int64_t int_member(const Json& object, std::string_view key) {
  const Json& value = member(object, key);
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float()) return static_cast<std::int64_t>(value.get<double>());
  return 0;
}

bool bool_member(const Json& object, std::string_view key) {
  const Json& value = member(object, key);
  return value.is_boolean() && value.get<bool>();
}

std::string name_of(const Json& object) { return string_member(member(object, "metadata"), "name"); }

// --- Go's number formatting ---------------------------------------------------------------

// The shortest digits that round-trip `value` (no sign), and the position of the decimal point:
// value = 0.DIGITS × 10^point.
struct Decimal {
  bool negative = false;
  std::string digits;
  int point = 0;
};

Decimal shortest_decimal(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  Decimal out;
  if (!text.empty() && text.front() == '-') {
    out.negative = true;
    text.remove_prefix(1);
  }
  auto e = text.find('e');
  for (char c : text.substr(0, e)) {
    if (c != '.') out.digits += c;
  }
  int exponent = 0;
  std::string_view exp_text = text.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  out.point = exponent + 1;
  return out;
}

// strconv.FormatFloat(v, 'e', -1, 64): "1.5e+06", "2e-07".
std::string format_e(const Decimal& d) {
  std::string out = d.negative ? "-" : "";
  out += d.digits.front();
  if (d.digits.size() > 1) {
    out += '.';
    out += d.digits.substr(1);
  }
  int exponent = d.digits == "0" ? 0 : d.point - 1;
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

// strconv.FormatFloat(v, 'f', -1, 64): "0.25", "1500000".
std::string format_f(const Decimal& d) {
  std::string out = d.negative ? "-" : "";
  auto size = static_cast<int>(d.digits.size());
  if (d.point <= 0) {
    out += "0.";
    out += std::string(static_cast<std::size_t>(-d.point), '0');
    out += d.digits;
  } else if (d.point >= size) {
    out += d.digits;
    if (d.digits != "0") out += std::string(static_cast<std::size_t>(d.point - size), '0');
  } else {
    out += d.digits.substr(0, static_cast<std::size_t>(d.point));
    out += '.';
    out += d.digits.substr(static_cast<std::size_t>(d.point));
  }
  return out;
}

// fmt.Sprint(float64): %v, i.e. 'g' with the shortest digits: "0.2", "123456", "1e+06", "1e-05".
std::string go_print_float(double value) {
  Decimal d = shortest_decimal(value);
  int exponent = d.digits == "0" ? 0 : d.point - 1;
  return exponent < -4 || exponent >= 6 ? format_e(d) : format_f(d);
}

// encoding/json for a float64: 'f', or 'e' below 1e-6 and from 1e21 (with e-07 cleaned to e-7).
std::string go_json_float(double value) {
  double magnitude = std::fabs(value);
  Decimal d = shortest_decimal(value);
  if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) {
    std::string out = format_e(d);
    auto n = out.size();
    if (n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') out.erase(n - 2, 1);
    return out;
  }
  return format_f(d);
}

std::string integer_text(const Json& value) {
  return value.is_number_unsigned() ? std::to_string(value.get<std::uint64_t>())
                                    : std::to_string(value.get<std::int64_t>());
}

// Go's json.Marshal of an unstructured value: compact, object keys sorted, HTML characters
// escaped.
void go_json(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::object: {
      std::vector<std::string> keys;
      for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());
      out += '{';
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += ',';
        go_json(Json(keys[i]), out);
        out += ':';
        go_json(value.at(keys[i]), out);
      }
      out += '}';
      return;
    }
    case Json::value_t::array:
      out += '[';
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out += ',';
        go_json(value[i], out);
      }
      out += ']';
      return;
    case Json::value_t::string: {
      out += '"';
      const auto& text = value.get_ref<const std::string&>();
      for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\b':
            out += "\\b";
            break;
          case '\f':
            out += "\\f";
            break;
          case '<':
          case '>':
          case '&':
            out += fmt::format("\\u{:04x}", c);
            break;
          default:
            // U+2028 and U+2029 (E2 80 A8/A9) are escaped too.
            if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
                (static_cast<unsigned char>(text[i + 2]) & 0xFEU) == 0xA8) {
              out += fmt::format("\\u{:04x}", 0x2028U + (static_cast<unsigned char>(text[i + 2]) & 1U));
              i += 2;
            } else if (c < 0x20) {
              out += fmt::format("\\u{:04x}", c);
            } else {
              out += static_cast<char>(c);
            }
        }
      }
      out += '"';
      return;
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      out += integer_text(value);
      return;
    case Json::value_t::number_float:
      out += go_json_float(value.get<double>());
      return;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    default:
      out += "null";
      return;
  }
}

// How jsonpath.PrintResults renders one value for a string column.
Json text_cell(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return value;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return integer_text(value);
    case Json::value_t::number_float:
      return go_print_float(value.get<double>());
    case Json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case Json::value_t::object:
    case Json::value_t::array: {
      std::string out;
      go_json(value, out);
      return out;
    }
    default:
      return nullptr;
  }
}

std::string age_since(sys_seconds time, Clock::time_point now) {
  return human_duration(std::chrono::duration_cast<seconds>(now - time));
}

// metav1.Time from a query-parameter string, as the date cell of a CRD column reads it.
Json date_cell(const std::string& text, Clock::time_point now) {
  if (text.empty() || text == "null") return "<unknown>";
  auto time = parse_seconds(text);
  if (!time) return "<invalid>";
  return age_since(*time, now);
}

// tableconvertor.cellForJSONValue for columns of a type other than string.
Json typed_cell(std::string_view type, const Json& value, Clock::time_point now) {
  if (type == "integer") {
    if (value.is_number_integer()) return value;
    if (value.is_number_float()) {
      double number = value.get<double>();
      if (std::fabs(number) < 9.2e18) return static_cast<std::int64_t>(number);
    }
  } else if (type == "number") {
    if (value.is_number()) return value;
  } else if (type == "boolean") {
    if (value.is_boolean()) return value;
  } else if (type == "date") {
    if (value.is_string()) return date_cell(value.get<std::string>(), now);
  }
  return nullptr;
}

// translateTimestampSince: the age of an object from its metadata.creationTimestamp.
std::string object_age(const Json& object, Clock::time_point now) {
  const Json& created = member(member(object, "metadata"), "creationTimestamp");
  if (!created.is_string() || created.get_ref<const std::string&>().empty()) return "<unknown>";
  auto time = parse_seconds(created.get_ref<const std::string&>());
  if (!time) return "<invalid>";
  return age_since(*time, now);
}

TableColumn name_column() { return {"Name", "string", "name", std::string(kNameDescription), 0}; }
TableColumn age_column() { return {"Age", "string", "", std::string(kCreationTimestampDescription), 0}; }

// --- built-in printers ---------------------------------------------------------------------

std::optional<sys_seconds> time_member(const Json& object, std::string_view key) {
  const Json& value = member(object, key);
  if (!value.is_string()) return std::nullopt;
  return parse_seconds(value.get_ref<const std::string&>());
}

bool condition_true(const Json& status, std::string_view type) {
  for (const auto& condition : member(status, "conditions")) {
    if (string_member(condition, "type") == type) return string_member(condition, "status") == "True";
  }
  return false;
}

Json pod_completed_condition(std::string_view reason, std::string_view message) {
  return Json::array(
      {Json{{"type", "Completed"}, {"status", "True"}, {"reason", reason}, {"message", message}}});
}

// printers.go printPod.
TableLayout::Row pod_row(const Json& pod, Clock::time_point now) {
  const Json& spec = member(pod, "spec");
  const Json& status = member(pod, "status");
  const Json& metadata = member(pod, "metadata");

  std::int64_t restarts = 0;
  std::int64_t restartable_init_restarts = 0;
  std::size_t total = member(spec, "containers").is_array() ? member(spec, "containers").size() : 0;
  std::size_t ready = 0;
  std::optional<sys_seconds> last_restart;
  std::optional<sys_seconds> last_restartable_init_restart;
  auto note_restart = [](std::optional<sys_seconds>& latest, const Json& container) {
    auto finished = time_member(member(member(container, "lastState"), "terminated"), "finishedAt");
    if (finished && (!latest || *latest < *finished)) latest = finished;
  };

  std::string phase = string_member(status, "phase");
  std::string reason = phase;
  if (!string_member(status, "reason").empty()) reason = string_member(status, "reason");
  for (const auto& condition : member(status, "conditions")) {
    if (string_member(condition, "type") == "PodScheduled" &&
        string_member(condition, "reason") == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  }

  TableLayout::Row row;
  if (phase == "Succeeded") {
    row.conditions = pod_completed_condition("Succeeded", "The pod has completed successfully.");
  } else if (phase == "Failed") {
    row.conditions = pod_completed_condition("Failed", "The pod failed.");
  }

  // Sidecars: init containers with restartPolicy Always count as containers.
  std::set<std::string> restartable_init;
  const Json& init_containers = member(spec, "initContainers");
  for (const auto& container : init_containers) {
    if (string_member(container, "restartPolicy") == "Always") {
      restartable_init.insert(string_member(container, "name"));
      ++total;
    }
  }

  bool initializing = false;
  const Json& init_statuses = member(status, "initContainerStatuses");
  for (std::size_t i = 0; init_statuses.is_array() && i < init_statuses.size(); ++i) {
    const Json& container = init_statuses[i];
    bool restartable = restartable_init.count(string_member(container, "name")) > 0;
    restarts += int_member(container, "restartCount");
    note_restart(last_restart, container);
    if (restartable) {
      restartable_init_restarts += int_member(container, "restartCount");
      note_restart(last_restartable_init_restart, container);
    }
    const Json& state = member(container, "state");
    const Json& terminated = member(state, "terminated");
    const Json& waiting = member(state, "waiting");
    if (terminated.is_object() && int_member(terminated, "exitCode") == 0) continue;
    if (restartable && bool_member(container, "started")) {
      if (bool_member(container, "ready")) ++ready;
      continue;
    }
    if (terminated.is_object()) {
      std::string terminated_reason = string_member(terminated, "reason");
      if (!terminated_reason.empty()) {
        reason = "Init:" + terminated_reason;
      } else if (int_member(terminated, "signal") != 0) {
        reason = fmt::format("Init:Signal:{}", int_member(terminated, "signal"));
      } else {
        reason = fmt::format("Init:ExitCode:{}", int_member(terminated, "exitCode"));
      }
    } else if (waiting.is_object() && !string_member(waiting, "reason").empty() &&
               string_member(waiting, "reason") != "PodInitializing") {
      reason = "Init:" + string_member(waiting, "reason");
    } else {
      reason = fmt::format("Init:{}/{}", i, init_containers.is_array() ? init_containers.size() : 0);
    }
    initializing = true;
    break;
  }

  if (!initializing || condition_true(status, "Initialized")) {
    restarts = restartable_init_restarts;
    last_restart = last_restartable_init_restart;
    bool has_running = false;
    const Json& statuses = member(status, "containerStatuses");
    for (std::size_t i = statuses.is_array() ? statuses.size() : 0; i-- > 0;) {
      const Json& container = statuses[i];
      restarts += int_member(container, "restartCount");
      note_restart(last_restart, container);
      const Json& state = member(container, "state");
      const Json& terminated = member(state, "terminated");
      const Json& waiting = member(state, "waiting");
      if (waiting.is_object() && !string_member(waiting, "reason").empty()) {
        reason = string_member(waiting, "reason");
      } else if (terminated.is_object() && !string_member(terminated, "reason").empty()) {
        reason = string_member(terminated, "reason");
      } else if (terminated.is_object()) {
        reason = int_member(terminated, "signal") != 0
                     ? fmt::format("Signal:{}", int_member(terminated, "signal"))
                     : fmt::format("ExitCode:{}", int_member(terminated, "exitCode"));
      } else if (bool_member(container, "ready") && member(state, "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) {
      reason = condition_true(status, "Ready") ? "Running" : "NotReady";
    }
  }

  bool deleting = member(metadata, "deletionTimestamp").is_string();
  if (deleting && string_member(status, "reason") == "NodeLost") {
    reason = "Unknown";
  } else if (deleting && phase != "Succeeded" && phase != "Failed") {
    reason = "Terminating";
  }

  std::string restarts_text = std::to_string(restarts);
  if (restarts != 0 && last_restart) {
    restarts_text = fmt::format("{} ({} ago)", restarts, age_since(*last_restart, now));
  }

  std::string pod_ip;
  if (const Json& ips = member(status, "podIPs"); ips.is_array() && !ips.empty()) {
    pod_ip = string_member(ips[0], "ip");
  } else {
    pod_ip = string_member(status, "podIP");  // kube-apiserver keeps both in step; accept either
  }
  std::string node_name = string_member(spec, "nodeName");
  std::string nominated = string_member(status, "nominatedNodeName");
  std::string gates = "<none>";
  if (const Json& readiness_gates = member(spec, "readinessGates");
      readiness_gates.is_array() && !readiness_gates.empty()) {
    std::size_t true_conditions = 0;
    for (const auto& gate : readiness_gates) {
      if (condition_true(status, string_member(gate, "conditionType"))) ++true_conditions;
    }
    gates = fmt::format("{}/{}", true_conditions, readiness_gates.size());
  }
  auto or_none = [](std::string text) { return text.empty() ? std::string("<none>") : text; };

  row.cells = {name_of(pod),
               fmt::format("{}/{}", ready, total),
               reason,
               restarts_text,
               object_age(pod, now),
               or_none(pod_ip),
               or_none(node_name),
               or_none(nominated),
               gates};
  return row;
}

std::string node_address(const Json& node, std::string_view type) {
  for (const auto& address : member(member(node, "status"), "addresses")) {
    if (string_member(address, "type") == type) return string_member(address, "address");
  }
  return "<none>";
}

// printers.go printNode.
TableLayout::Row node_row(const Json& node, Clock::time_point now) {
  const Json& status = member(node, "status");
  std::string state;
  for (const auto& condition : member(status, "conditions")) {
    if (string_member(condition, "type") == "Ready") {
      state = string_member(condition, "status") == "True" ? "Ready" : "NotReady";
      break;
    }
  }
  if (state.empty()) state = "Unknown";
  if (bool_member(member(node, "spec"), "unschedulable")) state += ",SchedulingDisabled";

  // node-role.kubernetes.io/<role> labels and kubernetes.io/role=<role>, sorted.
  std::set<std::string> roles;
  const Json& labels = member(member(node, "metadata"), "labels");
  if (labels.is_object()) {
    constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
    for (const auto& [key, value] : labels.items()) {
      if (key.starts_with(kRolePrefix)) {
        if (key.size() > kRolePrefix.size()) roles.insert(key.substr(kRolePrefix.size()));
      } else if (key == "kubernetes.io/role" && value.is_string() && !value.get<std::string>().empty()) {
        roles.insert(value.get<std::string>());
      }
    }
  }
  std::string role_text;
  for (const auto& role : roles) role_text += (role_text.empty() ? "" : ",") + role;
  if (role_text.empty()) role_text = "<none>";

  const Json& info = member(status, "nodeInfo");
  auto or_unknown = [](std::string text) { return text.empty() ? std::string("<unknown>") : text; };
  TableLayout::Row row;
  row.cells = {name_of(node),
               state,
               role_text,
               object_age(node, now),
               string_member(info, "kubeletVersion"),
               node_address(node, "InternalIP"),
               node_address(node, "ExternalIP"),
               or_unknown(string_member(info, "osImage")),
               or_unknown(string_member(info, "kernelVersion")),
               or_unknown(string_member(info, "containerRuntimeVersion"))};
  return row;
}

std::size_t map_size(const Json& value) { return value.is_object() ? value.size() : 0; }

}  // namespace

std::string human_duration(std::chrono::seconds age) {
  std::int64_t secs = age.count();
  if (secs < -1) return "<invalid>";
  if (secs < 0) return "0s";
  if (secs < 60 * 2) return fmt::format("{}s", secs);
  std::int64_t minutes = secs / 60;
  if (minutes < 10) {
    std::int64_t s = secs % 60;
    return s == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, s);
  }
  if (minutes < 60 * 3) return fmt::format("{}m", minutes);
  std::int64_t hours = secs / 3600;
  if (hours < 8) {
    std::int64_t m = minutes % 60;
    return m == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, m);
  }
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 24 * 8) {
    std::int64_t h = hours % 24;
    return h == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, h);
  }
  if (hours < 24 * 365 * 2) return fmt::format("{}d", hours / 24);
  if (hours < 24 * 365 * 8) {
    std::int64_t days = (hours / 24) % 365;
    return days == 0 ? fmt::format("{}y", hours / 24 / 365) : fmt::format("{}y{}d", hours / 24 / 365, days);
  }
  return fmt::format("{}y", hours / 24 / 365);
}

std::optional<IncludeObject> parse_include_object(std::string_view value) {
  if (value.empty() || value == "Metadata") return IncludeObject::Metadata;
  if (value == "Object") return IncludeObject::Object;
  if (value == "None") return IncludeObject::None;
  return std::nullopt;
}

TableLayout::TableLayout(std::vector<TableColumn> columns, RowFunction row)
    : columns_(std::move(columns)), row_(std::move(row)) {}

Json TableLayout::table(std::span<const Json> objects, const ListMeta& list, const TableOptions& options,
                        Clock::time_point now) const {
  Json table = {{"kind", "Table"}, {"apiVersion", options.api_version}, {"metadata", Json::object()}};
  Json& metadata = table["metadata"];
  if (!list.resource_version.empty()) metadata["resourceVersion"] = list.resource_version;
  if (!list.continue_token.empty()) metadata["continue"] = list.continue_token;
  if (list.remaining_item_count) metadata["remainingItemCount"] = *list.remaining_item_count;
  if (!options.no_headers) {
    Json& definitions = table["columnDefinitions"] = Json::array();
    for (const auto& column : columns_) {
      definitions.push_back({{"name", column.name},
                             {"type", column.type},
                             {"format", column.format},
                             {"description", column.description},
                             {"priority", column.priority}});
    }
  }
  Json& rows = table["rows"] = Json::array();
  for (const Json& object : objects) {
    Row computed = row_(object, now);
    Json row = {{"cells", std::move(computed.cells)}};
    if (computed.conditions.is_array()) row["conditions"] = std::move(computed.conditions);
    switch (options.include_object) {
      case IncludeObject::Metadata: {
        const Json& object_metadata = member(object, "metadata");
        row["object"] = {{"kind", "PartialObjectMetadata"},
                         {"apiVersion", options.api_version},
                         {"metadata", object_metadata.is_object() ? object_metadata : Json::object()}};
        break;
      }
      case IncludeObject::Object:
        row["object"] = object;
        break;
      case IncludeObject::None:
        row["object"] = nullptr;
        break;
    }
    rows.push_back(std::move(row));
  }
  return table;
}

TableLayout custom_resource_table(const Json& crd, std::string_view version) {
  const Json* served = nullptr;
  for (const auto& candidate : member(member(crd, "spec"), "versions")) {
    if (string_member(candidate, "name") == version) served = &candidate;
  }
  if (served == nullptr) {
    throw std::invalid_argument(fmt::format("CustomResourceDefinition {} has no version {}",
                                            string_member(member(crd, "metadata"), "name"), version));
  }

  std::vector<TableColumn> columns = {name_column()};
  std::vector<JsonPath> paths;
  const Json& declared = member(*served, "additionalPrinterColumns");
  if (!declared.is_array() || declared.empty()) {
    columns.push_back({"Age", "date", "", std::string(kCreationTimestampDescription), 0});
    paths.push_back(JsonPath::parse(".metadata.creationTimestamp"));
  } else {
    for (const auto& column : declared) {
      std::string json_path = string_member(column, "jsonPath");
      try {
        paths.push_back(JsonPath::parse(json_path));
      } catch (const JsonPathError&) {
        break;  // kube-apiserver keeps the columns before the one it cannot parse
      }
      std::string description = string_member(column, "description");
      if (description.empty()) {
        description = "Custom resource definition column (in JSONPath format): " + json_path;
      }
      const Json& priority = member(column, "priority");
      columns.push_back({string_member(column, "name"), string_member(column, "type"),
                         string_member(column, "format"), std::move(description),
                         priority.is_number_integer() ? priority.get<std::int32_t>() : 0});
    }
  }

  std::vector<std::string> types;
  for (std::size_t i = 1; i < columns.size(); ++i) types.push_back(columns[i].type);
  return TableLayout(std::move(columns), [paths = std::move(paths), types = std::move(types)](
                                             const Json& object, Clock::time_point now) {
    TableLayout::Row row;
    row.cells.push_back(name_of(object));
    for (std::size_t i = 0; i < paths.size(); ++i) {
      auto values = paths[i].find(object);
      if (values.empty()) {
        row.cells.emplace_back(nullptr);
      } else if (types[i] == "string") {
        row.cells.push_back(text_cell(*values.front()));
      } else {
        row.cells.push_back(typed_cell(types[i], *values.front(), now));
      }
    }
    return row;
  });
}

TableLayout custom_resource_table(const schema::CustomResourceDefinition& crd, std::string_view version) {
  return custom_resource_table(crd.source(), version);
}

TableLayout default_table() {
  return TableLayout(
      {name_column(), {"Created At", "date", "", std::string(kCreationTimestampDescription), 0}},
      [](const Json& object, Clock::time_point) {
        auto created = time_member(member(object, "metadata"), "creationTimestamp");
        // An unset time is Go's zero time.
        std::string text = created ? format_rfc3339(*created) : "0001-01-01T00:00:00Z";
        return TableLayout::Row{{name_of(object), text}, nullptr};
      });
}

TableLayout namespace_table() {
  return TableLayout(
      {name_column(), {"Status", "string", "", "The status of the namespace", 0}, age_column()},
      [](const Json& object, Clock::time_point now) {
        return TableLayout::Row{
            {name_of(object), string_member(member(object, "status"), "phase"), object_age(object, now)},
            nullptr};
      });
}

TableLayout pod_table() {
  return TableLayout(
      {name_column(),
       {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
       {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
       {"Restarts", "string", "",
        "The number of times the containers in this pod have been restarted and when the last container in "
        "this pod has restarted.",
        0},
       age_column(),
       {"IP", "string", "",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
        "allocated.",
        1},
       {"Node", "string", "",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for "
        "scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this "
        "node becomes responsible for the lifecycle of this pod. This field should not be used to express a "
        "desire for the pod to be scheduled on a specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
        1},
       {"Nominated Node", "string", "",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
        "scheduled right away as preemption victims receive their graceful termination periods. This field "
        "does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the "
        "pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the "
        "resources on this node to a higher priority pod that is created after preemption. As a result, this "
        "field may be different than PodSpec.nodeName when the pod is scheduled.",
        1},
       {"Readiness Gates", "string", "",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its "
        "containers are ready AND all conditions specified in the readiness gates have status equal to "
        "\"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
        1}},
      pod_row);
}

TableLayout config_map_table() {
  return TableLayout(
      {name_column(),
       {"Data", "string", "",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
        "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data "
        "must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
        0},
       age_column()},
      [](const Json& object, Clock::time_point now) {
        auto count = static_cast<std::int64_t>(map_size(member(object, "data")) +
                                               map_size(member(object, "binaryData")));
        return TableLayout::Row{{name_of(object), count, object_age(object, now)}, nullptr};
      });
}

TableLayout node_table() {
  return TableLayout(
      {name_column(),
       {"Status", "string", "", "The status of the node", 0},
       {"Roles", "string", "", "The roles of the node", 0},
       age_column(),
       {"Version", "string", "", "Kubelet Version reported by the node.", 0},
       {"Internal-IP", "string", "", std::string(kNodeAddressesDescription), 1},
       {"External-IP", "string", "", std::string(kNodeAddressesDescription), 1},
       {"OS-Image", "string", "",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1},
       {"Kernel-Version", "string", "",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1},
       {"Container-Runtime", "string", "",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
        "containerd://1.4.2).",
        1}},
      node_row);
}

namespace {

std::int64_t count_member(const Json& object, std::string_view key, std::int64_t fallback = 0) {
  const Json& value = member(object, key);
  return value.is_number_integer() ? value.get<std::int64_t>() : fallback;
}

// printers.go layoutContainerCells: the names and images of the template's containers.
std::pair<std::string, std::string> containers_and_images(const Json& object) {
  std::string names;
  std::string images;
  for (const Json& container :
       member(member(member(member(object, "spec"), "template"), "spec"), "containers")) {
    names += (names.empty() ? "" : ",") + string_member(container, "name");
    images += (images.empty() ? "" : ",") + string_member(container, "image");
  }
  return {names, images};
}

// metav1.FormatLabelSelector of spec.selector: "<none>" when empty, as kubectl prints it.
std::string selector_text(const Json& object) {
  const Json& selector = member(member(object, "spec"), "selector");
  std::string text;
  for (const auto& [key, value] : member(selector, "matchLabels").items())
    text += fmt::format("{}{}={}", text.empty() ? "" : ",", key,
                        value.is_string() ? value.get<std::string>() : value.dump());
  for (const Json& expression : member(selector, "matchExpressions")) {
    std::string values;
    for (const Json& value : member(expression, "values"))
      values += (values.empty() ? "" : ",") + (value.is_string() ? value.get<std::string>() : value.dump());
    const std::string op = string_member(expression, "operator");
    const std::string key = string_member(expression, "key");
    std::string term = op == "In"       ? fmt::format("{} in ({})", key, values)
                       : op == "NotIn"  ? fmt::format("{} notin ({})", key, values)
                       : op == "Exists" ? key
                                        : "!" + key;
    text += (text.empty() ? "" : ",") + term;
  }
  return text.empty() ? "<none>" : text;
}

TableColumn wide(std::string name, std::string description) {
  return {std::move(name), "string", "", std::move(description), 1};
}

}  // namespace

// printers.go printDeployment.
TableLayout deployment_table() {
  return TableLayout(
      {name_column(),
       {"Ready", "string", "", "Number of the pod with ready state", 0},
       {"Up-to-date", "string", "",
        "Total number of non-terminated pods targeted by this deployment that have the desired template "
        "spec.",
        0},
       {"Available", "string", "",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        0},
       age_column(),
       wide("Containers", "Names of each container in the template."),
       wide("Images", "Images referenced by each container in the template."),
       wide("Selector",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones "
            "affected by this deployment.")},
      [](const Json& object, Clock::time_point now) {
        const Json& status = member(object, "status");
        auto [containers, images] = containers_and_images(object);
        return TableLayout::Row{
            {name_of(object),
             fmt::format("{}/{}", count_member(status, "readyReplicas"),
                         count_member(member(object, "spec"), "replicas", 1)),
             count_member(status, "updatedReplicas"), count_member(status, "availableReplicas"),
             object_age(object, now), containers, images, selector_text(object)},
            nullptr};
      });
}

// printers.go printDaemonSet.
TableLayout daemonset_table() {
  return TableLayout(
      {name_column(),
       {"Desired", "integer", "", "The total number of nodes that should be running the daemon pod.", 0},
       {"Current", "integer", "",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
        0},
       {"Ready", "integer", "",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod "
        "running and ready.",
        0},
       {"Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod", 0},
       {"Available", "integer", "",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod "
        "running and available (ready for at least spec.minReadySeconds)",
        0},
       {"Node Selector", "string", "",
        "NodeSelector is a selector which must be true for the pod to fit on a node.", 0},
       age_column(),
       wide("Containers", "Names of each container in the template."),
       wide("Images", "Images referenced by each container in the template."),
       wide("Selector", "A label query over pods that are managed by the daemon set.")},
      [](const Json& object, Clock::time_point now) {
        const Json& status = member(object, "status");
        std::string node_selector;
        for (const auto& [key, value] :
             member(member(member(member(object, "spec"), "template"), "spec"), "nodeSelector").items())
          node_selector += fmt::format("{}{}={}", node_selector.empty() ? "" : ",", key,
                                       value.is_string() ? value.get<std::string>() : value.dump());
        auto [containers, images] = containers_and_images(object);
        return TableLayout::Row{
            {name_of(object), count_member(status, "desiredNumberScheduled"),
             count_member(status, "currentNumberScheduled"), count_member(status, "numberReady"),
             count_member(status, "updatedNumberScheduled"), count_member(status, "numberAvailable"),
             node_selector.empty() ? "<none>" : node_selector, object_age(object, now), containers, images,
             selector_text(object)},
            nullptr};
      });
}

TableLayout builtin_table(std::string_view group, std::string_view resource) {
  if (group.empty()) {
    if (resource == "namespaces") return namespace_table();
    if (resource == "pods") return pod_table();
    if (resource == "configmaps") return config_map_table();
    if (resource == "nodes") return node_table();
  }
  if (group == "apps" && resource == "deployments") return deployment_table();
  if (group == "apps" && resource == "daemonsets") return daemonset_table();
  return default_table();
}

}  // namespace riasc::kubeapi
