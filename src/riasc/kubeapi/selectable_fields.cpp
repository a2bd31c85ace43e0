#include "riasc/kubeapi/selectable_fields.hpp"

#include <algorithm>

#include "riasc/core/field_selector.hpp"

namespace riasc::kubeapi {

std::vector<std::string> selectable_fields(std::string_view group, std::string_view resource) {
  std::vector<std::string> fields = {"metadata.name", "metadata.namespace"};
  if (group.empty()) {
    if (resource == "pods") {
      fields.insert(fields.end(),
                    {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                     "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"});
    } else if (resource == "events") {
      fields.insert(fields.end(),
                    {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"});
    } else if (resource == "secrets") {
      fields.emplace_back("type");
    } else if (resource == "namespaces") {
      fields.emplace_back("status.phase");
    } else if (resource == "nodes") {
      fields.emplace_back("spec.unschedulable");
    }
  }
  std::sort(fields.begin(), fields.end());
  return fields;
}

std::string selectable_field_value(const Json& object, std::string_view field) {
  if (field == "source") return FieldSelector::field_value(object, "source.component");
  std::string value = FieldSelector::field_value(object, field);
  if (value.empty() && (field == "spec.hostNetwork" || field == "spec.unschedulable")) return "false";
  return value;
}

}  // namespace riasc::kubeapi
