#pragma once

// The Project operator (riasc.eu/v1 Project, cluster-scoped): for each Project a Namespace of the
// same name, an `admin` RoleBinding per user, the label project.riasc.eu/<name>="" on its nodes,
// and pod admission webhooks that keep the namespace's pods on those nodes and within
// spec.limits.pods. docs/tenancy.md has the rules; they run on the SDK's handlers, so `riasc up`
// runs them in process and `riasc operator` against a real cluster.
//
//   op::Operator operator_(api, tenancy::ProjectOperator::operator_options({.log = log}));
//   tenancy::ProjectOperator projects(operator_, api);
//   operator_.start();              // handlers, webhook server, webhook configurations
//   ...
//   operator_.stop();               // before `projects` goes

#include <chrono>
#include <memory>

#include "riasc/client/client.hpp"
#include "riasc/operator/operator.hpp"

namespace riasc::tenancy {

inline const client::GroupVersionResource kProjects{"riasc.eu", "v1", "projects"};

struct ProjectOperatorOptions {
  op::LogSink log = op::stderr_sink();
  // How soon a project that cannot be made Ready (a namespace it may not take over, a RoleBinding
  // name taken by someone else) is tried again.
  std::chrono::milliseconds retry_delay{std::chrono::seconds(10)};
  // A pod admitted against spec.limits.pods counts until the operator sees it in the namespace,
  // or this long at most (the API server may still refuse it after the webhook said yes).
  std::chrono::milliseconds admission_hold{std::chrono::seconds(30)};
};

class ProjectOperator {
 public:
  // The SDK options the operator needs: the name "project" makes the finalizer riasc.eu/project
  // and the webhook configurations project.riasc.eu. `base` gives the rest (log, webhook server).
  static op::OperatorOptions operator_options(op::OperatorOptions base = {});

  // Registers the Project handlers and the pod webhooks on `operator_` (made with
  // operator_options()). `api` is used for its configuration only: the operator keeps a client
  // of its own, so a node watch still running after the caller's client went cannot use it.
  ProjectOperator(op::Operator& operator_, const client::Client& api, ProjectOperatorOptions options = {});
  ~ProjectOperator();  // stop()
  // Stops the node watch and the webhooks' caches; stop the op::Operator first. Call it while the
  // API server still runs: a watch that reconnects to a server going down can wait out its
  // connection timeout before it notices.
  void stop();
  ProjectOperator(const ProjectOperator&) = delete;
  ProjectOperator& operator=(const ProjectOperator&) = delete;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace riasc::tenancy
