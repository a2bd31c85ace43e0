#pragma once

// meta.k8s.io/v1 Table responses, built the way kube-apiserver builds them for `kubectl get`
// (Accept: application/json;as=Table;v=v1;g=meta.k8s.io). kubectl prints the cells verbatim, so
// everything human-readable (ages, READY counts, pod status reasons) is computed here.
//
// What kube-apiserver does, and so what these layouts do:
// * Custom resources (apiextensions tableconvertor): Name, then the served version's
//   additionalPrinterColumns in order. Age is NOT appended: kube-apiserver serves the single
//   default column Age (.metadata.creationTimestamp, type date) only when the version declares no
//   columns at all (serveDefaultColumnsIfEmpty); a CRD that declares columns and wants an age
//   must declare it. A column without description gets "Custom resource definition column (in
//   JSONPath format): <jsonPath>".
// * Cells of CRD columns take the FIRST value the JSONPath selects (`.spec.list[*].name` shows
//   only the first name). A string column renders any value as text: strings as they are,
//   numbers and booleans as Go's fmt prints them (0.2, 1e+06, true), lists and objects as compact
//   JSON with sorted keys (["a","b"]). integer/number/boolean columns give a JSON number/boolean
//   cell, or null when the value has another type. date columns give an age ("5m", kubectl's
//   HumanDuration), "<invalid>" for an unparsable time and "<unknown>" for an empty one. No
//   match, or an explicit null, gives a null cell, which kubectl prints as an empty field.
// * Built-in kinds use kube-apiserver's printers (pkg/printers/internalversion): their Age column
//   has type "string" and is rendered the same way; missing parts print as "<none>". The server
//   always fills the wide (priority 1) cells; kubectl hides them without -o wide.
// * Kinds without a printer (and CustomResourceDefinitions) get rest.DefaultTableConvertor:
//   Name, "Created At" (type date, but the cell is the RFC 3339 time, not an age).
// * rows[].object is a PartialObjectMetadata by default (includeObject=Metadata), the full object
//   for includeObject=Object and null for None. kubectl needs the metadata for -A (NAMESPACE),
//   --show-labels and -L.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::schema {
class CustomResourceDefinition;
}

namespace riasc::kubeapi {

using Clock = std::chrono::system_clock;

// kubectl's / apimachinery's duration.HumanDuration: "45s", "2m30s", "15m", "3h20m", "10h",
// "3d5h", "45d", "2y30d", "9y". Below -1s: "<invalid>"; -1s and 0s: "0s".
std::string human_duration(std::chrono::seconds age);

struct TableColumn {
  std::string name;
  std::string type;  // integer, number, string, boolean, date
  std::string format;
  std::string description;
  std::int32_t priority = 0;  // > 0: shown only by `kubectl get -o wide`
};

enum class IncludeObject { None, Metadata, Object };

// The includeObject query parameter: "" and "Metadata" → Metadata, "Object", "None"; nullopt for
// anything else (kube-apiserver: 400 `unrecognized includeObject value: "x"`).
std::optional<IncludeObject> parse_include_object(std::string_view value);

struct TableOptions {
  IncludeObject include_object = IncludeObject::Metadata;
  // Leave out columnDefinitions: kube-apiserver sends them only in the first event of a watch.
  bool no_headers = false;
  // meta.k8s.io/v1, or meta.k8s.io/v1beta1 when the client only accepts that Table version;
  // also the apiVersion of the PartialObjectMetadata rows.
  std::string api_version = "meta.k8s.io/v1";
};

// The list metadata of the Table (for a single GET: the object's resourceVersion).
struct ListMeta {
  std::string resource_version;
  std::string continue_token;
  std::optional<std::int64_t> remaining_item_count;
};

class TableLayout {
 public:
  struct Row {
    std::vector<Json> cells;  // one per column
    Json conditions;          // null, or [{type, status, reason, message}] (pods: Completed)
  };
  using RowFunction = std::function<Row(const Json& object, Clock::time_point now)>;

  TableLayout(std::vector<TableColumn> columns, RowFunction row);

  [[nodiscard]] const std::vector<TableColumn>& columns() const { return columns_; }
  [[nodiscard]] Row row(const Json& object, Clock::time_point now) const { return row_(object, now); }

  // The whole Table for `objects` (a list, or the one object of a GET or watch event).
  [[nodiscard]] Json table(std::span<const Json> objects, const ListMeta& list, const TableOptions& options,
                           Clock::time_point now) const;

 private:
  std::vector<TableColumn> columns_;
  RowFunction row_;
};

// Name + the additionalPrinterColumns of `version` (or Age when it declares none). `crd` is the
// CRD document. A column whose jsonPath does not parse is left out, as kube-apiserver falls back
// to the columns before it; validate CRDs with json_path_error() so that never happens.
// Throws std::invalid_argument when the CRD has no such version.
TableLayout custom_resource_table(const Json& crd, std::string_view version);
TableLayout custom_resource_table(const schema::CustomResourceDefinition& crd, std::string_view version);

// rest.DefaultTableConvertor: Name, Created At. Also the layout of customresourcedefinitions.
TableLayout default_table();

// NAME STATUS AGE
TableLayout namespace_table();
// NAME READY STATUS RESTARTS AGE; wide: IP NODE NOMINATED NODE READINESS GATES
TableLayout pod_table();
// NAME DATA AGE
TableLayout config_map_table();
// NAME STATUS ROLES AGE VERSION; wide: INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION
// CONTAINER-RUNTIME
TableLayout node_table();
// NAME READY UP-TO-DATE AVAILABLE AGE; wide: CONTAINERS IMAGES SELECTOR
TableLayout deployment_table();
// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE; wide: CONTAINERS IMAGES
// SELECTOR
TableLayout daemonset_table();

// The layout for a built-in resource: namespaces, pods, configmaps and nodes in the core group
// and apps/v1 deployments and daemonsets have their own; every other resource gets
// default_table().
TableLayout builtin_table(std::string_view group, std::string_view resource);

}  // namespace riasc::kubeapi
