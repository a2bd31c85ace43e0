#pragma once

// The node as the API sees it: a Node object (labels, capacity, addresses, nodeInfo, the Ready
// condition) and its heartbeat Lease in kube-node-lease, as kubelet keeps them.

#include <chrono>
#include <string>

#include "riasc/client/client.hpp"
#include "riasc/net/ip_address.hpp"

namespace riasc::runtime {

struct NodeDescription {
  std::string name;
  Json labels = Json::object();  // besides kubernetes.io/hostname, kubernetes.io/os and kubernetes.io/arch
  std::string pod_cidr;
  net::IpAddress internal_ip;  // the pods' gateway: how pods reach this node
  int max_pods = 110;
};

class NodeRegistration {
 public:
  NodeRegistration(client::Client& api, NodeDescription description);

  // Creates or updates the Node and marks it Ready; creates the Lease.
  void register_node();
  // Renews the Lease; refreshes the Node's status when `refresh_status` (less often).
  void heartbeat(bool refresh_status);
  // Ready=False with the reason, as a stopping node says it (kubelet: NodeStatusUnknown later).
  void mark_not_ready(const std::string& reason, const std::string& message);

  [[nodiscard]] const Json& labels() const { return labels_; }
  // The Node object's labels now, as kube-scheduler reads them: others label nodes too (a
  // Project's project.riasc.eu/<name>, `kubectl label node`). The registered ones when the Node
  // cannot be read.
  [[nodiscard]] Json current_labels() const;
  [[nodiscard]] const std::string& name() const { return description_.name; }

 private:
  Json status(bool ready, const std::string& reason, const std::string& message);

  client::Client& api_;
  NodeDescription description_;
  Json labels_;
  std::string ready_since_;
};

}  // namespace riasc::runtime
