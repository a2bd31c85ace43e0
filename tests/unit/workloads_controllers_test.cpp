// The Deployment and DaemonSet controllers against the embedded server, driven as a user would:
// objects written through the API, pods made Ready by writing their status (there is no runtime
// here: FakeKubelet plays it), outcomes polled with timeouts. kubectl, where installed, checks
// `rollout status`, `scale` and `get`.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "client_test_support.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/workloads/controllers.hpp"
#include "riasc/workloads/pods.hpp"
#include "test_support.hpp"

namespace riasc::workloads {
namespace {

using namespace std::chrono_literals;
using client_test::kNodes;
using client_test::kPods;
using client_test::wait_until;

const client::GroupVersionResource kDeployments{"apps", "v1", "deployments"};
const client::GroupVersionResource kDaemonSets{"apps", "v1", "daemonsets"};
const client::GroupVersionResource kEvents{"", "v1", "events"};

client::ListOptions selecting(const std::string& selector) {
  client::ListOptions options;
  options.label_selector = selector;
  return options;
}

bool terminating(const Json& pod) { return object_member(pod, "metadata").contains("deletionTimestamp"); }
bool is_ready(const Json& pod) { return read_pod(pod, kPodTemplateHash).ready; }
std::string label(const Json& object, const std::string& key) {
  return string_member(object_member(object_member(object, "metadata"), "labels"), key);
}
std::string name_of(const Json& object) { return string_member(object_member(object, "metadata"), "name"); }

class WorkloadsTest : public client_test::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    start_nodes();
    controllers_ = make_controllers();
    controllers_->start();
  }
  void TearDown() override {
    stop_kubelet();
    nodes_running_ = false;
    if (nodes_.joinable()) nodes_.join();
    controllers_.reset();
    if (HasFailure()) {
      std::lock_guard lock(log_mutex_);
      for (const std::string& line : log_) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }

  std::unique_ptr<Controllers> make_controllers() {
    ControllerOptions options;
    options.namespace_name = namespace_;
    options.informer.backoff_base = 50ms;
    options.expectation_timeout = 5s;
    options.log = [this](op::LogLevel, const std::string& object, const std::string& message) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(object + ": " + message);
    };
    return std::make_unique<Controllers>(client_, options);
  }

  client::Resource deployments() { return client_.resource(kDeployments, namespace_); }
  client::Resource daemonsets() { return client_.resource(kDaemonSets, namespace_); }
  client::Resource pods() { return client_.resource(kPods, namespace_); }
  client::Resource nodes() { return client_.resource(kNodes); }

  Json create_deployment(const std::string& name, const std::string& spec_yaml = "{}") {
    Json object = test::yaml(fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {0}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}, tier: web}}}}
    spec: {{containers: [{{name: main, image: "busybox:1"}}]}}
)",
                                         name));
    object["spec"].update(test::yaml(spec_yaml), true);
    return deployments().create(object);
  }

  Json create_daemonset(const std::string& name, const std::string& spec_yaml = "{}") {
    Json object = test::yaml(fmt::format(R"(
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {0}}}
spec:
  selector: {{matchLabels: {{app: {0}}}}}
  template:
    metadata: {{labels: {{app: {0}}}}}
    spec:
      nodeSelector: {{suite: {1}}}
      containers: [{{name: main, image: "busybox:1"}}]
)",
                                         name, namespace_));
    object["spec"].update(test::yaml(spec_yaml), true);
    return daemonsets().create(object);
  }

  // A Node that only this test's DaemonSets select (label suite=<namespace>).
  Json create_node(const std::string& name, Json labels = Json::object(), Json spec = Json::object()) {
    labels["suite"] = namespace_;
    return nodes().create({{"apiVersion", "v1"},
                           {"kind", "Node"},
                           {"metadata", {{"name", namespace_ + "-" + name}, {"labels", labels}}},
                           {"spec", spec}});
  }
  std::string node_name(const std::string& name) { return namespace_ + "-" + name; }

  // The pods of app `app`, without those being deleted.
  std::vector<Json> active_pods(const std::string& app) {
    std::vector<Json> found;
    for (const Json& pod : pods().list(selecting("app=" + app)).items)
      if (!terminating(pod)) found.push_back(pod);
    return found;
  }

  Json set_ready(const Json& pod, bool ready, const std::string& phase = "Running",
                 SystemClock::time_point since = SystemClock::now() - 1h) {
    client::PatchOptions options;
    options.subresource = "status";
    const Json status = {{"phase", phase},
                         {"conditions", Json::array({{{"type", "Ready"},
                                                      {"status", ready ? "True" : "False"},
                                                      {"lastTransitionTime", format_time(since)}}})}};
    return pods().patch(name_of(pod), client::PatchType::Merge, {{"status", status}}, options);
  }
  void all_ready(const std::string& app) {
    for (const Json& pod : active_pods(app))
      if (!is_ready(pod)) set_ready(pod, true);
  }

  Json status_of(const client::Resource& resource, const std::string& name) {
    return resource.get(name).value("status", Json::object());
  }
  // Waits until the status of `name` has these members with these values.
  ::testing::AssertionResult status_becomes(const client::Resource& resource, const std::string& name,
                                            const Json& expected, std::chrono::milliseconds timeout = 15s) {
    Json status;
    const bool reached = wait_until(
        [&] {
          status = status_of(resource, name);
          for (const auto& [key, value] : expected.items())
            if (status.value(key, Json()) != value) return false;
          return true;
        },
        timeout);
    if (reached) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "status of " << name << " is " << status.dump() << ", wanted " << expected.dump();
  }

  // Plays the kubelet: every pod of this namespace that is not Ready becomes Ready (Running) a
  // moment after it is seen.
  void start_kubelet() {
    kubelet_running_ = true;
    kubelet_ = std::thread([this] {
      while (kubelet_running_) {
        try {
          for (const Json& pod : pods().list().items)
            if (!terminating(pod) && !is_ready(pod)) set_ready(pod, true);
        } catch (const std::exception&) {
          // Deleted meanwhile.
        }
        std::this_thread::sleep_for(60ms);
      }
    });
  }
  // Plays the nodes' part in deletion: the API server keeps a deleted pod of a registered Node
  // Terminating until its node has stopped it and deletes it with grace 0 (DaemonSet pods here).
  void start_nodes() {
    nodes_running_ = true;
    nodes_ = std::thread([this] {
      while (nodes_running_) {
        try {
          for (const Json& pod : pods().list().items) {
            if (!terminating(pod)) continue;
            client::DeleteOptions now;
            now.grace_period_seconds = 0;
            now.precondition_uid = string_member(pod["metadata"], "uid");
            pods().remove(string_member(pod["metadata"], "name"), now);
          }
        } catch (const std::exception&) {
          // Gone meanwhile.
        }
        std::this_thread::sleep_for(30ms);
      }
    });
  }
  void stop_kubelet() {
    kubelet_running_ = false;
    if (kubelet_.joinable()) kubelet_.join();
  }

  std::vector<std::string> events_about(const std::string& name) {
    std::vector<std::string> found;
    for (const Json& event : client_.resource(kEvents, namespace_).list().items)
      if (string_member(object_member(event, "involvedObject"), "name") == name)
        found.push_back(string_member(event, "reason") + ": " + string_member(event, "message"));
    return found;
  }

  // kubectl against the suite's server; exit code and output (stdout and stderr).
  std::pair<int, std::string> kubectl(const std::string& arguments) {
    const std::string command =
        fmt::format("HOME={} KUBECONFIG={} kubectl -n {} {} 2>&1", directory_.string(),
                    server_->kubeconfig_path().string(), namespace_, arguments);
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return {-1, "popen failed"};
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr)
      output += buffer.data();
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
  }
  static bool have_kubectl() { return std::system("kubectl version --client >/dev/null 2>&1") == 0; }

  std::unique_ptr<Controllers> controllers_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
  std::atomic<bool> kubelet_running_{false};
  std::thread kubelet_;
  std::atomic<bool> nodes_running_{false};
  std::thread nodes_;
};

// Watches this namespace's pods and checks `invariant` on the cache after every event, so that no
// intermediate state escapes (polling could miss one).
class PodWatch {
 public:
  PodWatch(client::Client& client, const std::string& namespace_name,
           std::function<std::string(const std::vector<Json>&)> invariant)
      : informer_(client.resource(kPods, namespace_name)), invariant_(std::move(invariant)) {
    auto check = [this] {
      // The first list fills the cache one object at a time: only whole states count.
      if (!synced_) return;
      const std::string violation = invariant_(informer_.store().list());
      std::lock_guard lock(mutex_);
      if (!violation.empty() && violations_.size() < 5) violations_.push_back(violation);
    };
    informer_.on_add([check](const Json&) { check(); });
    informer_.on_update([check](const Json&, const Json&) { check(); });
    informer_.on_delete([check](const Json&) { check(); });
    informer_.start();
    synced_ = informer_.wait_for_sync(10s);
  }
  std::vector<std::string> violations() {
    std::lock_guard lock(mutex_);
    return violations_;
  }

 private:
  std::atomic<bool> synced_{false};
  client::Informer informer_;
  std::function<std::string(const std::vector<Json>&)> invariant_;
  std::mutex mutex_;
  std::vector<std::string> violations_;
};

TEST_F(WorkloadsTest, DeploymentMakesOwnedPodsWithTheTemplateHash) {
  const Json deployment = create_deployment("web", "{replicas: 3}");
  const std::string uid = deployment["metadata"]["uid"];
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 3; }));
  const auto pods = active_pods("web");
  const std::string hash = label(pods[0], "pod-template-hash");
  EXPECT_EQ(hash.size(), 10U);
  EXPECT_EQ(hash, template_hash(deployment["spec"]["template"]));
  for (const Json& pod : pods) {
    EXPECT_EQ(label(pod, "pod-template-hash"), hash);
    EXPECT_EQ(label(pod, "tier"), "web");
    const std::string name = name_of(pod);
    EXPECT_TRUE(name.starts_with("web-" + hash + "-")) << name;
    EXPECT_EQ(name.size(), std::string("web-").size() + 10 + 1 + 5);
    ASSERT_EQ(pod["metadata"]["ownerReferences"].size(), 1U);
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0], Json({{"apiVersion", "apps/v1"},
                                                           {"kind", "Deployment"},
                                                           {"name", "web"},
                                                           {"uid", uid},
                                                           {"controller", true},
                                                           {"blockOwnerDeletion", true}}));
    EXPECT_EQ(pod["spec"]["containers"], deployment["spec"]["template"]["spec"]["containers"]);
  }
  EXPECT_TRUE(status_becomes(deployments(), "web",
                             {{"observedGeneration", 1},
                              {"replicas", 3},
                              {"updatedReplicas", 3},
                              {"readyReplicas", 0},
                              {"availableReplicas", 0},
                              {"unavailableReplicas", 3}}));
  EXPECT_EQ(find_condition(status_of(deployments(), "web")["conditions"], "Available")["reason"],
            "MinimumReplicasUnavailable");

  all_ready("web");
  EXPECT_TRUE(status_becomes(deployments(), "web",
                             {{"readyReplicas", 3}, {"availableReplicas", 3}, {"unavailableReplicas", 0}}));
  const Json conditions = status_of(deployments(), "web")["conditions"];
  EXPECT_EQ(find_condition(conditions, "Available")["status"], "True");
  EXPECT_EQ(find_condition(conditions, "Progressing")["reason"], "NewReplicaSetAvailable");
  auto events = events_about("web");
  EXPECT_EQ(std::count_if(
                events.begin(), events.end(),
                [](const std::string& e) { return e.starts_with("SuccessfulCreate: Created pod: web-"); }),
            3);
  // At rest: no pods beyond the three, whatever happens to come by.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(active_pods("web").size(), 3U);
}

TEST_F(WorkloadsTest, ScaleSubresourceScalesUpAndRemovesUnreadyPodsFirst) {
  create_deployment("web", "{replicas: 1}");
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 1; }));
  client::PatchOptions scale;
  scale.subresource = "scale";
  deployments().patch("web", client::PatchType::Merge, {{"spec", {{"replicas", 5}}}}, scale);
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 5; }));
  std::set<std::string> ready;
  for (const Json& pod : active_pods("web")) {
    if (ready.size() == 2) break;
    set_ready(pod, true);
    ready.insert(name_of(pod));
  }
  ASSERT_TRUE(status_becomes(deployments(), "web", {{"readyReplicas", 2}, {"replicas", 5}}));
  deployments().patch("web", client::PatchType::Merge, {{"spec", {{"replicas", 2}}}}, scale);
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 2; }));
  std::set<std::string> left;
  for (const Json& pod : active_pods("web")) left.insert(name_of(pod));
  EXPECT_EQ(left, ready) << "the pods that were not ready go first";
  EXPECT_TRUE(status_becomes(deployments(), "web", {{"replicas", 2}, {"availableReplicas", 2}}));
  deployments().patch("web", client::PatchType::Merge, {{"spec", {{"replicas", 0}}}}, scale);
  EXPECT_TRUE(wait_until([&] { return active_pods("web").empty(); }));
  EXPECT_TRUE(status_becomes(deployments(), "web", {{"replicas", 0}, {"availableReplicas", 0}}));
}

// maxSurge 1, maxUnavailable 1 of 4: never fewer than 3 ready pods nor more than 5 pods, and the
// rollout ends with 4 new ones.
TEST_F(WorkloadsTest, RollingUpdateKeepsAvailabilityAndFinishes) {
  create_deployment("web", "{replicas: 4, strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}}");
  start_kubelet();
  ASSERT_TRUE(status_becomes(deployments(), "web", {{"availableReplicas", 4}, {"updatedReplicas", 4}}));
  const std::string old_hash = label(active_pods("web")[0], "pod-template-hash");
  PodWatch watch(client_, namespace_, [](const std::vector<Json>& pods) {
    long active = 0;
    long ready = 0;
    for (const Json& pod : pods) {
      if (terminating(pod)) continue;
      ++active;
      if (is_ready(pod)) ++ready;
    }
    if (active > 5) return fmt::format("{} pods, more than replicas + maxSurge", active);
    if (ready < 3) return fmt::format("{} ready pods, fewer than replicas - maxUnavailable", ready);
    return std::string();
  });
  deployments().patch(
      "web", client::PatchType::Merge,
      test::yaml(R"({spec: {template: {spec: {containers: [{name: main, image: "busybox:2"}]}}}})"));
  ASSERT_TRUE(status_becomes(
      deployments(), "web",
      {{"observedGeneration", 2}, {"replicas", 4}, {"updatedReplicas", 4}, {"availableReplicas", 4}}, 30s));
  EXPECT_TRUE(wait_until([&] {
    return find_condition(status_of(deployments(), "web")["conditions"], "Progressing")["reason"] ==
           "NewReplicaSetAvailable";
  }));
  const auto pods = active_pods("web");
  EXPECT_EQ(pods.size(), 4U);
  for (const Json& pod : pods) {
    EXPECT_NE(label(pod, "pod-template-hash"), old_hash);
    EXPECT_EQ(pod["spec"]["containers"][0]["image"], "busybox:2");
  }
  EXPECT_EQ(watch.violations(), std::vector<std::string>{});
}

TEST_F(WorkloadsTest, RecreateRemovesEveryOldPodBeforeTheFirstNewOne) {
  create_deployment("web", "{replicas: 3, strategy: {type: Recreate}}");
  start_kubelet();
  ASSERT_TRUE(status_becomes(deployments(), "web", {{"availableReplicas", 3}}));
  const std::string old_hash = label(active_pods("web")[0], "pod-template-hash");
  PodWatch watch(client_, namespace_, [&old_hash](const std::vector<Json>& pods) {
    bool old_pods = false;
    bool new_pods = false;
    for (const Json& pod : pods) (label(pod, "pod-template-hash") == old_hash ? old_pods : new_pods) = true;
    return old_pods && new_pods ? std::string("old and new pods at once") : std::string();
  });
  deployments().patch("web", client::PatchType::Merge,
                      test::yaml(R"({spec: {template: {metadata: {labels: {app: web, tier: db}}}}})"));
  ASSERT_TRUE(status_becomes(deployments(), "web",
                             {{"observedGeneration", 2}, {"updatedReplicas", 3}, {"availableReplicas", 3}}));
  for (const Json& pod : active_pods("web")) EXPECT_EQ(label(pod, "tier"), "db");
  EXPECT_EQ(watch.violations(), std::vector<std::string>{});
}

TEST_F(WorkloadsTest, DeletingTheDeploymentCollectsItsPods) {
  create_deployment("web", "{replicas: 2}");
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 2; }));
  deployments().remove("web");
  EXPECT_TRUE(wait_until([&] { return pods().list(selecting("app=web")).items.empty(); }));
}

TEST_F(WorkloadsTest, FailedAndSucceededPodsAreReplaced) {
  create_deployment("web", "{replicas: 2}");
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 2; }));
  const auto before = active_pods("web");
  set_ready(before[0], false, "Failed");
  set_ready(before[1], false, "Succeeded");
  EXPECT_TRUE(wait_until([&] {
    auto now = active_pods("web");
    return now.size() == 2 && name_of(now[0]) != name_of(before[0]) &&
           name_of(now[0]) != name_of(before[1]) && name_of(now[1]) != name_of(before[0]) &&
           name_of(now[1]) != name_of(before[1]);
  }));
}

TEST_F(WorkloadsTest, InvalidSpecIsReportedAndFixedLater) {
  create_deployment("bad", "{replicas: 'three'}");
  ASSERT_TRUE(wait_until([&] {
    return find_condition(status_of(deployments(), "bad")["conditions"], "ReplicaFailure")["reason"] ==
           "InvalidSpec";
  }));
  EXPECT_NE(find_condition(status_of(deployments(), "bad")["conditions"], "ReplicaFailure")["message"]
                .get<std::string>()
                .find("spec.replicas"),
            std::string::npos);
  EXPECT_TRUE(active_pods("bad").empty());
  create_deployment("mismatch", "{selector: {matchLabels: {app: elsewhere}}}");
  deployments().patch("bad", client::PatchType::Merge, {{"spec", {{"replicas", 1}}}});
  EXPECT_TRUE(wait_until([&] { return active_pods("bad").size() == 1; }));
  EXPECT_TRUE(active_pods("mismatch").empty());
  EXPECT_TRUE(controllers_->healthy());
}

TEST_F(WorkloadsTest, MinReadySecondsMakesPodsAvailableLater) {
  create_deployment("web", "{replicas: 1, minReadySeconds: 2}");
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 1; }));
  set_ready(active_pods("web")[0], true, "Running", SystemClock::now());
  ASSERT_TRUE(status_becomes(deployments(), "web", {{"readyReplicas", 1}, {"availableReplicas", 0}}));
  // No event comes; the controller looks again when the pod has been ready long enough.
  EXPECT_TRUE(status_becomes(deployments(), "web", {{"availableReplicas", 1}}, 6s));
}

TEST_F(WorkloadsTest, RestartedControllersCarryOnWithoutDuplicates) {
  create_deployment("web", "{replicas: 3}");
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 3; }));
  controllers_->stop();
  pods().remove(name_of(active_pods("web")[0]));
  controllers_ = make_controllers();
  controllers_->start();
  ASSERT_TRUE(wait_until([&] { return active_pods("web").size() == 3; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(active_pods("web").size(), 3U);
}

TEST_F(WorkloadsTest, DaemonSetRunsOnePodPerEligibleNode) {
  create_node("a", {{"role", "lab"}});
  create_node("b", {{"role", "lab"}},
              test::yaml("{taints: [{key: dedicated, value: x, effect: NoSchedule}]}"));
  create_node("c", {{"role", "office"}});
  const Json ds = create_daemonset("agent", "{template: {spec: {nodeSelector: {role: lab}}}}");
  ASSERT_TRUE(wait_until([&] { return active_pods("agent").size() == 1; }));
  Json pod = active_pods("agent")[0];
  EXPECT_EQ(pod["spec"]["nodeName"], node_name("a"));
  EXPECT_EQ(label(pod, "controller-revision-hash").size(), 10U);
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["uid"], ds["metadata"]["uid"]);
  EXPECT_TRUE(status_becomes(daemonsets(), "agent",
                             {{"desiredNumberScheduled", 1},
                              {"currentNumberScheduled", 1},
                              {"numberReady", 0},
                              {"numberUnavailable", 1},
                              {"updatedNumberScheduled", 1}}));
  // Tolerating the taint adds node b.
  daemonsets().patch(
      "agent", client::PatchType::Merge,
      test::yaml("{spec: {template: {spec: {tolerations: [{key: dedicated, operator: Equal, value: x, "
                 "effect: NoSchedule}]}}}}"));
  ASSERT_TRUE(wait_until([&] {
    std::set<std::string> on;
    for (const Json& p : active_pods("agent")) on.insert(p["spec"]["nodeName"].get<std::string>());
    return on == std::set<std::string>{node_name("a"), node_name("b")} && active_pods("agent").size() == 2;
  }));
  // The rolling update may still replace b's pod: readiness must follow the pods as they come.
  start_kubelet();
  EXPECT_TRUE(status_becomes(daemonsets(), "agent",
                             {{"desiredNumberScheduled", 2}, {"numberReady", 2}, {"numberAvailable", 2}}));
  stop_kubelet();
  // Node a leaves the lab: its pod goes. Node b gets a taint the pod does not tolerate: its goes too.
  nodes().patch(node_name("a"), client::PatchType::Merge, {{"metadata", {{"labels", {{"role", "office"}}}}}});
  nodes().patch(node_name("b"), client::PatchType::Merge,
                test::yaml("{spec: {taints: [{key: dedicated, value: x, effect: NoSchedule}, {key: broken, "
                           "effect: NoExecute}]}}"));
  EXPECT_TRUE(wait_until([&] { return active_pods("agent").empty(); }));
  EXPECT_TRUE(
      status_becomes(daemonsets(), "agent", {{"desiredNumberScheduled", 0}, {"currentNumberScheduled", 0}}));
  // A node that comes back, cordoned, gets its daemon anyway (as in Kubernetes).
  nodes().patch(node_name("c"), client::PatchType::Merge,
                {{"metadata", {{"labels", {{"role", "lab"}}}}}, {"spec", {{"unschedulable", true}}}});
  EXPECT_TRUE(wait_until([&] {
    auto p = active_pods("agent");
    return p.size() == 1 && p[0]["spec"]["nodeName"] == node_name("c");
  }));
}

TEST_F(WorkloadsTest, DaemonSetRollingUpdateAndOnDelete) {
  for (const char* n : {"a", "b", "c"}) create_node(n);
  create_daemonset("agent");
  start_kubelet();
  ASSERT_TRUE(status_becomes(daemonsets(), "agent", {{"desiredNumberScheduled", 3}, {"numberAvailable", 3}}));
  EXPECT_EQ(daemonsets().get("agent")["spec"]["updateStrategy"]["type"], "RollingUpdate");
  PodWatch watch(client_, namespace_, [](const std::vector<Json>& pods) {
    long ready = 0;
    for (const Json& pod : pods)
      if (!terminating(pod) && is_ready(pod)) ++ready;
    return ready < 2 ? fmt::format("{} ready daemons, more than maxUnavailable (1) down", ready)
                     : std::string();
  });
  daemonsets().patch(
      "agent", client::PatchType::Merge,
      test::yaml(R"({spec: {template: {spec: {containers: [{name: main, image: "busybox:2"}]}}}})"));
  ASSERT_TRUE(status_becomes(
      daemonsets(), "agent",
      {{"observedGeneration", 3}, {"updatedNumberScheduled", 3}, {"numberAvailable", 3}}, 30s));
  for (const Json& pod : active_pods("agent")) EXPECT_EQ(pod["spec"]["containers"][0]["image"], "busybox:2");
  EXPECT_EQ(watch.violations(), std::vector<std::string>{});

  // OnDelete: a new template waits until a pod is deleted by hand.
  daemonsets().patch("agent", client::PatchType::Merge,
                     test::yaml(R"({spec: {updateStrategy: {type: OnDelete, rollingUpdate: null},
                                           template: {spec: {containers: [{name: main, image: "busybox:3"}]}}}})"));
  ASSERT_TRUE(
      status_becomes(daemonsets(), "agent", {{"observedGeneration", 4}, {"updatedNumberScheduled", 0}}));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(active_pods("agent").size(), 3U);
  pods().remove(name_of(active_pods("agent")[0]));
  EXPECT_TRUE(
      status_becomes(daemonsets(), "agent", {{"updatedNumberScheduled", 1}, {"currentNumberScheduled", 3}}));
}

TEST_F(WorkloadsTest, KubectlRolloutStatusScaleAndGet) {
  if (!have_kubectl()) GTEST_SKIP() << "no kubectl";
  start_kubelet();
  create_deployment("web", "{replicas: 2}");
  auto [code, output] = kubectl("rollout status deployment/web --timeout=30s");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("successfully rolled out"), std::string::npos) << output;
  std::tie(code, output) = kubectl("scale deployment/web --replicas=3");
  EXPECT_EQ(code, 0) << output;
  EXPECT_TRUE(wait_until([&] { return active_pods("web").size() == 3; }));
  std::tie(code, output) = kubectl("set image deployment/web main=busybox:9");
  EXPECT_EQ(code, 0) << output;
  std::tie(code, output) = kubectl("rollout status deployment/web --timeout=30s");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("successfully rolled out"), std::string::npos) << output;
  std::tie(code, output) = kubectl("get deployment web");
  EXPECT_EQ(code, 0) << output;
  EXPECT_TRUE(output.find("3/3") != std::string::npos) << output;

  create_node("a");
  create_daemonset("agent");
  std::tie(code, output) = kubectl("rollout status daemonset/agent --timeout=30s");
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("successfully rolled out"), std::string::npos) << output;
  std::tie(code, output) = kubectl("get daemonset agent");
  EXPECT_EQ(code, 0) << output;
}

}  // namespace
}  // namespace riasc::workloads
