#pragma once

// The apps/v1 Deployment and DaemonSet controllers: they make and delete Pods so that each
// Deployment has spec.replicas of its template (rolling update or recreate) and each DaemonSet
// one pod per eligible Node, and write the status `kubectl rollout status` and `kubectl get`
// read. They talk to the API through the client only, so they run inside `riasc up` against the
// embedded server and against any Kubernetes-compatible API alike. docs/workloads.md has the
// details; pods are owned directly, without ReplicaSets.
//
//   client::Client api(client::load_kubeconfig({server.kubeconfig_path()}));
//   workloads::Controllers workloads(api, {.log = log});
//   workloads.start();                      // throws when apps/v1 is not served
//   probes.add_check("workloads", [&] { return workloads.healthy(); });
//   ...
//   workloads.stop();

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "riasc/client/client.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::workloads {

struct ControllerOptions {
  // Events' source component, and the field manager of the controllers' writes.
  std::string name = "riasc-workloads";
  std::string namespace_name{};  // "": Deployments, DaemonSets and Pods of all namespaces
  std::size_t workers = 2;       // objects reconciled at once
  op::LogSink log = op::stderr_sink();
  // SuccessfulCreate / SuccessfulDelete / FailedCreate ... events on the Deployment or DaemonSet.
  bool events = true;
  client::InformerOptions informer{};
  std::chrono::milliseconds sync_timeout{std::chrono::seconds(30)};
  // Pods created or deleted but not yet seen in the cache hold further changes of their owner this
  // long at most (a lost watch event must not stall it for good).
  std::chrono::milliseconds expectation_timeout{std::chrono::seconds(30)};
};

class Controllers {
 public:
  Controllers(client::Client& api, ControllerOptions options = {});
  ~Controllers();  // stop()
  Controllers(const Controllers&) = delete;
  Controllers& operator=(const Controllers&) = delete;

  // Lists Deployments, DaemonSets, Pods and Nodes, then reconciles. Throws when a resource is not
  // served or a cache does not fill within sync_timeout.
  void start();
  // Reconciles running finish; pods stay as they are (a restarted controller carries on).
  void stop();
  // For /healthz: the caches are filled and the workers run.
  [[nodiscard]] bool healthy() const;
  // Reconciles finished (successfully or not); for tests.
  [[nodiscard]] std::uint64_t reconciles() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::workloads
