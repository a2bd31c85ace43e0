#include "riasc/runtime/node_registration.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <thread>

#include "riasc/client/errors.hpp"
#include "riasc/core/rfc3339.hpp"

namespace riasc::runtime {
namespace {

const client::GroupVersionResource kNodes{"", "v1", "nodes"};
const client::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases"};
const client::GroupVersionResource kNamespaces{"", "v1", "namespaces"};
constexpr const char* kLeaseNamespace = "kube-node-lease";
constexpr int kLeaseSeconds = 40;

std::string now_rfc3339() {
  return format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
}

// Lease times are MicroTime: RFC 3339 with microseconds.
std::string now_micro() {
  const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(now);
  std::string text = format_rfc3339(seconds);
  text.pop_back();  // 'Z'
  return fmt::format("{}.{:06d}Z", text, (now - seconds).count());
}

std::string first_line(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string os_image() {
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("PRETTY_NAME=")) {
      std::string value = line.substr(12);
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  return "Linux";
}

std::string memory_kib() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("MemTotal:")) {
      return fmt::format("{}Ki", std::stoull(line.substr(9)));
    }
  }
  return "0";
}

}  // namespace

NodeRegistration::NodeRegistration(client::Client& api, NodeDescription description)
    : api_(api), description_(std::move(description)) {
  labels_ = description_.labels;
  labels_["kubernetes.io/hostname"] = description_.name;
  labels_["kubernetes.io/os"] = "linux";
  labels_["kubernetes.io/arch"] = "amd64";
  labels_["node.riasc.eu/runtime"] = "local";
}

Json NodeRegistration::status(bool ready, const std::string& reason, const std::string& message) {
  utsname system{};
  ::uname(&system);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string now = now_rfc3339();
  if (ready_since_.empty() || !ready) ready_since_ = now;
  const Json capacity{{"cpu", std::to_string(std::max(1U, std::thread::hardware_concurrency()))},
                      {"memory", memory_kib()},
                      {"pods", std::to_string(description_.max_pods)}};
  return Json{{"capacity", capacity},
              {"allocatable", capacity},
              {"conditions",
               {{{"type", "Ready"},
                 {"status", ready ? "True" : "False"},
                 {"reason", reason},
                 {"message", message},
                 {"lastHeartbeatTime", now},
                 {"lastTransitionTime", ready_since_}}}},
              {"addresses",
               {{{"type", "InternalIP"}, {"address", description_.internal_ip.to_string()}},
                {{"type", "Hostname"}, {"address", std::string(host)}}}},
              {"nodeInfo",
               {{"machineID", first_line("/etc/machine-id")},
                {"systemUUID", ""},
                {"bootID", first_line("/proc/sys/kernel/random/boot_id")},
                {"kernelVersion", std::string(system.release)},
                {"osImage", os_image()},
                {"containerRuntimeVersion", "riasc://" RIASC_RUNTIME_VERSION},
                {"kubeletVersion", "v1.30.0-riasc"},
                {"kubeProxyVersion", ""},
                {"operatingSystem", "linux"},
                {"architecture", "amd64"}}}};
}

Json NodeRegistration::current_labels() const {
  try {
    const Json node = api_.resource(kNodes).get(description_.name);
    const Json labels = node.value("metadata", Json::object()).value("labels", labels_);
    return labels.is_object() ? labels : labels_;
  } catch (const client::ApiError&) {
    return labels_;
  }
}

void NodeRegistration::register_node() {
  auto nodes = api_.resource(kNodes);
  const Json metadata{{"name", description_.name}, {"labels", labels_}};
  try {
    nodes.create({{"apiVersion", "v1"},
                  {"kind", "Node"},
                  {"metadata", metadata},
                  {"spec", {{"podCIDR", description_.pod_cidr}, {"podCIDRs", {description_.pod_cidr}}}}});
  } catch (const client::AlreadyExists&) {
    nodes.patch(description_.name, client::PatchType::Merge,
                {{"metadata", {{"labels", labels_}}},
                 {"spec", {{"podCIDR", description_.pod_cidr}, {"podCIDRs", {description_.pod_cidr}}}}});
  }
  client::PatchOptions status_only;
  status_only.subresource = "status";
  nodes.patch(description_.name, client::PatchType::Merge,
              {{"status", status(true, "KubeletReady", "riasc runtime is posting ready status")}},
              status_only);
  try {
    api_.resource(kNamespaces)
        .create({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kLeaseNamespace}}}});
  } catch (const client::AlreadyExists&) {
  }
  heartbeat(false);
}

void NodeRegistration::heartbeat(bool refresh_status) {
  auto leases = api_.resource(kLeases, kLeaseNamespace);
  const Json spec{{"holderIdentity", description_.name},
                  {"leaseDurationSeconds", kLeaseSeconds},
                  {"renewTime", now_micro()}};
  try {
    leases.patch(description_.name, client::PatchType::Merge, {{"spec", spec}});
  } catch (const client::NotFound&) {
    leases.create({{"apiVersion", "coordination.k8s.io/v1"},
                   {"kind", "Lease"},
                   {"metadata", {{"name", description_.name}, {"namespace", kLeaseNamespace}}},
                   {"spec", spec}});
  }
  if (refresh_status) {
    client::PatchOptions status_only;
    status_only.subresource = "status";
    api_.resource(kNodes).patch(
        description_.name, client::PatchType::Merge,
        {{"status", status(true, "KubeletReady", "riasc runtime is posting ready status")}}, status_only);
  }
}

void NodeRegistration::mark_not_ready(const std::string& reason, const std::string& message) {
  client::PatchOptions status_only;
  status_only.subresource = "status";
  api_.resource(kNodes).patch(description_.name, client::PatchType::Merge,
                              {{"status", status(false, reason, message)}}, status_only);
}

}  // namespace riasc::runtime
