// The workload controllers' rules without a server: the template hash, rolling-update
// arithmetic, rollouts played step by step, node placement, and bad input that must not throw.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

#include "riasc/workloads/daemonset.hpp"
#include "riasc/workloads/deployment.hpp"
#include "test_support.hpp"

namespace riasc::workloads {
namespace {

using namespace std::chrono_literals;

const SystemClock::time_point kNow = SystemClock::time_point{} + std::chrono::hours(24 * 365 * 50);

Json deployment(const std::string& body_yaml) {
  Json object = test::yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: lab, uid: u1, generation: 1}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
)");
  object["spec"].update(test::yaml(body_yaml), true);
  return object;
}

DeploymentSpec spec_of(const Json& object) {
  auto parsed = read_deployment(object);
  if (auto* error = std::get_if<std::string>(&parsed)) ADD_FAILURE() << *error;
  return std::get<DeploymentSpec>(parsed);
}

std::string error_of(const Json& object) {
  auto parsed = read_deployment(object);
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

PodFacts pod(const std::string& name, const std::string& hash, bool ready, int age_seconds = 100) {
  PodFacts facts;
  facts.name = name;
  facts.uid = "uid-" + name;
  facts.hash = hash;
  facts.phase = ready ? "Running" : "Pending";
  facts.ready = ready;
  facts.created = kNow - std::chrono::seconds(age_seconds);
  facts.ready_since = facts.created;
  facts.node = "n1";
  return facts;
}

TEST(WorkloadsHash, TenCharactersStableAcrossMemberOrder) {
  const Json a =
      test::yaml("{metadata: {labels: {app: web, tier: x}}, spec: {containers: [{name: c, image: i}]}}");
  const Json b =
      test::yaml("{spec: {containers: [{image: i, name: c}]}, metadata: {labels: {tier: x, app: web}}}");
  const std::string hash = template_hash(a);
  EXPECT_EQ(hash.size(), 10U);
  EXPECT_TRUE(
      std::all_of(hash.begin(), hash.end(), [](char c) { return std::islower(c) || std::isdigit(c); }));
  EXPECT_EQ(hash, template_hash(b));
  Json changed = a;
  changed["spec"]["containers"][0]["image"] = "j";
  EXPECT_NE(hash, template_hash(changed));
}

TEST(WorkloadsRollingParameters, RoundSurgeUpAndUnavailableDown) {
  std::string error;
  EXPECT_EQ(scaled_value("25%", 10, true, error), 3);
  EXPECT_EQ(scaled_value("25%", 10, false, error), 2);
  EXPECT_EQ(scaled_value(2, 10, false, error), 2);
  EXPECT_EQ(scaled_value("0%", 10, true, error), 0);
  EXPECT_FALSE(scaled_value("x%", 10, true, error));
  EXPECT_FALSE(scaled_value(-1, 10, true, error));
  EXPECT_FALSE(scaled_value(Json::array(), 10, true, error));

  auto defaults = spec_of(deployment("{replicas: 10}"));
  EXPECT_EQ(defaults.max_surge, 3);
  EXPECT_EQ(defaults.max_unavailable, 2);
  // One replica: 25% rounds to a surge of 1 and no unavailability.
  auto one = spec_of(deployment("{replicas: 1}"));
  EXPECT_EQ(one.max_surge, 1);
  EXPECT_EQ(one.max_unavailable, 0);
  auto fencepost =
      spec_of(deployment("{replicas: 3, strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: '10%'}}}"));
  EXPECT_EQ(fencepost.max_surge, 0);
  EXPECT_EQ(fencepost.max_unavailable, 1);
  EXPECT_EQ(spec_of(deployment("{}")).replicas, 1);
}

TEST(WorkloadsDeploymentSpec, RefusesWhatKubeApiserverWould) {
  EXPECT_NE(error_of(deployment("{replicas: -1}")).find("spec.replicas"), std::string::npos);
  EXPECT_NE(error_of(deployment("{replicas: '3'}")).find("spec.replicas"), std::string::npos);
  EXPECT_NE(error_of(deployment("{selector: {matchLabels: {app: other}}}")).find("does not match"),
            std::string::npos);
  Json empty = deployment("{}");
  empty["spec"]["selector"] = Json::object();
  EXPECT_NE(error_of(empty).find("empty selector"), std::string::npos);
  EXPECT_NE(error_of(deployment("{strategy: {type: Sideways}}")).find("spec.strategy.type"),
            std::string::npos);
  EXPECT_NE(error_of(deployment("{strategy: {rollingUpdate: {maxSurge: 'lots'}}}")).find("maxSurge"),
            std::string::npos);
  EXPECT_NE(error_of(deployment("{minReadySeconds: 700}")).find("progressDeadlineSeconds"),
            std::string::npos);
  EXPECT_NE(error_of(Json::array()).find("spec"), std::string::npos);
}

// Garbage in any member must give a spec or a message, never an exception.
TEST(WorkloadsDeploymentSpec, ArbitraryJsonNeverThrows) {
  const std::vector<Json> values = {nullptr,
                                    1,
                                    -5,
                                    "x",
                                    "50%",
                                    Json::array(),
                                    Json::object(),
                                    true,
                                    1.5,
                                    test::yaml("{a: [1, {b: null}]}")};
  const std::vector<std::string> paths = {"/spec",
                                          "/spec/replicas",
                                          "/spec/selector",
                                          "/spec/selector/matchLabels",
                                          "/spec/template",
                                          "/spec/template/metadata",
                                          "/spec/template/metadata/labels",
                                          "/spec/strategy",
                                          "/spec/strategy/rollingUpdate/maxSurge",
                                          "/metadata",
                                          "/spec/template/spec",
                                          "/spec/minReadySeconds",
                                          "/spec/paused",
                                          "/spec/updateStrategy",
                                          "/spec/updateStrategy/rollingUpdate/maxUnavailable",
                                          "/spec/template/spec/nodeSelector",
                                          "/spec/template/spec/affinity",
                                          "/spec/template/spec/tolerations",
                                          "/status",
                                          "/metadata/generation"};
  const Json node =
      test::yaml("{metadata: {name: n, labels: {a: b}}, spec: {taints: [{key: k, effect: NoExecute}]}}");
  for (const auto& path : paths) {
    for (const Json& value : values) {
      Json object = deployment("{}");
      object[Json::json_pointer(path)] = value;
      SCOPED_TRACE(path + " = " + value.dump());
      auto exercise = [&] {
        auto parsed = read_deployment(object);
        if (auto* spec = std::get_if<DeploymentSpec>(&parsed)) {
          std::vector<PodFacts> pods = {pod("a", "h", true)};
          (void)plan_deployment(*spec, pods, kNow);
          (void)deployment_status(object, *spec, pods, object.value("status", Json()), kNow);
        }
        auto daemon = read_daemonset(object);
        if (auto* spec = std::get_if<DaemonSetSpec>(&daemon)) {
          const Json pod_spec = object_member(spec->pod_template, "spec");
          std::map<std::string, Placement> nodes = {{"n", place(pod_spec, node)}};
          (void)plan_daemonset(*spec, nodes, {pod("a", "h", true)}, kNow);
          (void)daemonset_status(object, *spec, nodes, {}, kNow);
        }
        (void)read_pod(object, kPodTemplateHash);
        (void)controller_of(object);
        (void)place(object_member(object, "spec"), object);
      };
      EXPECT_NO_THROW(exercise());
    }
  }
}

// Plays a rollout: each step applies the plan; new pods become ready one step after they are
// made. Checks the bounds on every step and returns the number of steps.
int play(const DeploymentSpec& spec, std::vector<PodFacts>& pods, long& max_total, long& min_ready) {
  int next = 0;
  max_total = 0;
  min_ready = 1'000'000;
  for (int step = 0; step < 200; ++step) {
    auto plan = plan_deployment(spec, pods, kNow);
    const bool all_ready = std::all_of(pods.begin(), pods.end(), [](const PodFacts& p) { return p.ready; });
    if (plan.create == 0 && plan.remove.empty() && all_ready) return step;
    for (const PodFacts& gone : plan.remove)
      std::erase_if(pods, [&](const PodFacts& p) { return p.name == gone.name; });
    long ready = std::count_if(pods.begin(), pods.end(), [](const PodFacts& p) { return p.ready; });
    min_ready = std::min(min_ready, ready);
    for (PodFacts& p : pods) p.ready = true;  // what was made last step is up now
    for (long i = 0; i < plan.create; ++i)
      pods.push_back(pod("new-" + std::to_string(next++), spec.hash, false, 0));
    max_total = std::max(max_total, static_cast<long>(pods.size()));
  }
  return 200;
}

TEST(WorkloadsDeploymentPlan, RollingUpdateStaysWithinSurgeAndUnavailability) {
  for (const char* strategy :
       {"{maxSurge: 1, maxUnavailable: 0}", "{maxSurge: 0, maxUnavailable: 1}",
        "{maxSurge: '25%', maxUnavailable: '25%'}", "{maxSurge: 2, maxUnavailable: 2}"}) {
    SCOPED_TRACE(strategy);
    auto spec =
        spec_of(deployment(fmt::format("{{replicas: 4, strategy: {{rollingUpdate: {}}}}}", strategy)));
    std::vector<PodFacts> pods;
    for (int i = 0; i < 4; ++i) pods.push_back(pod("old-" + std::to_string(i), "old", true));
    long max_total = 0;
    long min_ready = 0;
    const int steps = play(spec, pods, max_total, min_ready);
    EXPECT_LT(steps, 200);
    EXPECT_EQ(pods.size(), 4U);
    EXPECT_TRUE(
        std::all_of(pods.begin(), pods.end(), [&](const PodFacts& p) { return p.hash == spec.hash; }));
    EXPECT_LE(max_total, 4 + spec.max_surge);
    EXPECT_GE(min_ready, 4 - spec.max_unavailable);
  }
}

TEST(WorkloadsDeploymentPlan, RecreateDeletesAllOldFirstAndWaitsForThem) {
  auto spec = spec_of(deployment("{replicas: 2, strategy: {type: Recreate}}"));
  std::vector<PodFacts> pods = {pod("a", "old", true), pod("b", "old", true)};
  auto plan = plan_deployment(spec, pods, kNow);
  EXPECT_EQ(plan.create, 0);
  EXPECT_EQ(plan.remove.size(), 2U);
  pods[0].terminating = true;
  pods[1].terminating = true;
  EXPECT_EQ(plan_deployment(spec, pods, kNow).create, 0) << "old pods still terminating";
  pods.clear();
  EXPECT_EQ(plan_deployment(spec, pods, kNow).create, 2);
}

TEST(WorkloadsDeploymentPlan, ScalesDownNotReadyAndNewestFirstAndReplacesFailed) {
  auto spec = spec_of(deployment("{replicas: 2}"));
  std::vector<PodFacts> pods = {pod("oldest", spec.hash, true, 300), pod("newer", spec.hash, true, 100),
                                pod("unready", spec.hash, false, 500), pod("terminating", spec.hash, true)};
  pods[3].terminating = true;
  auto plan = plan_deployment(spec, pods, kNow);
  ASSERT_EQ(plan.remove.size(), 1U);
  EXPECT_EQ(plan.remove[0].name, "unready");
  EXPECT_EQ(plan.create, 0);

  std::vector<PodFacts> failed = {pod("ok", spec.hash, true), pod("dead", spec.hash, false)};
  failed[1].phase = "Failed";
  plan = plan_deployment(spec, failed, kNow);
  EXPECT_EQ(plan.create, 1);
  ASSERT_EQ(plan.remove.size(), 1U);
  EXPECT_EQ(plan.remove[0].name, "dead");
}

TEST(WorkloadsDeploymentPlan, MinReadySecondsDelaysAvailability) {
  auto spec = spec_of(deployment("{replicas: 1, minReadySeconds: 10}"));
  PodFacts fresh = pod("a", spec.hash, true);
  fresh.ready_since = kNow - 3s;
  EXPECT_FALSE(fresh.available(spec.min_ready, kNow));
  auto plan = plan_deployment(spec, {fresh}, kNow);
  ASSERT_TRUE(plan.recheck);
  EXPECT_EQ(*plan.recheck, kNow + 7s);
  auto status =
      deployment_status(deployment("{replicas: 1, minReadySeconds: 10}"), spec, {fresh}, Json(), kNow);
  EXPECT_EQ(status["readyReplicas"], 1);
  EXPECT_EQ(status["availableReplicas"], 0);
  EXPECT_EQ(find_condition(status["conditions"], "Available")["status"], "False");
}

TEST(WorkloadsDeploymentStatus, ConditionsAndQuietSteadyState) {
  const Json object = deployment("{replicas: 2}");
  auto spec = spec_of(object);
  std::vector<PodFacts> pods = {pod("a", spec.hash, true), pod("b", spec.hash, false)};
  Json status = deployment_status(object, spec, pods, Json(), kNow);
  EXPECT_EQ(status["replicas"], 2);
  EXPECT_EQ(status["updatedReplicas"], 2);
  EXPECT_EQ(status["availableReplicas"], 1);
  EXPECT_EQ(status["unavailableReplicas"], 1);
  EXPECT_EQ(find_condition(status["conditions"], "Progressing")["reason"], "ReplicaSetUpdated");
  // No progress for longer than the deadline: timed out.
  Json later = deployment_status(object, spec, pods, status, kNow + 601s);
  EXPECT_EQ(find_condition(later["conditions"], "Progressing")["reason"], "ProgressDeadlineExceeded");
  pods[1].ready = true;
  Json done = deployment_status(object, spec, pods, later, kNow + 602s);
  EXPECT_EQ(find_condition(done["conditions"], "Progressing")["reason"], "NewReplicaSetAvailable");
  EXPECT_EQ(find_condition(done["conditions"], "Available")["status"], "True");
  // Nothing changed: the same status, times included, so nothing is written.
  EXPECT_EQ(deployment_status(object, spec, pods, done, kNow + 900s), done);
}

Json node(const std::string& yaml) { return test::yaml(yaml); }

TEST(WorkloadsPlacement, SelectorAffinityTaintsAndCordon) {
  const Json plain = node("{metadata: {name: a, labels: {site: x}}}");
  EXPECT_TRUE(place(Json::object(), plain).should_run);
  EXPECT_TRUE(place(test::yaml("{nodeSelector: {site: x}}"), plain).should_run);
  EXPECT_FALSE(place(test::yaml("{nodeSelector: {site: east}}"), plain).may_continue);
  const Json affinity = test::yaml(R"(
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: site, operator: In, values: [east]}]
        - matchFields: [{key: metadata.name, operator: In, values: [a]}]
)");
  EXPECT_TRUE(place(affinity, plain).should_run);
  EXPECT_FALSE(place(affinity, node("{metadata: {name: b, labels: {site: x}}}")).should_run);
  EXPECT_TRUE(place(affinity, node("{metadata: {name: b, labels: {site: east}}}")).should_run);
  EXPECT_FALSE(place(test::yaml("{affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
                                "{nodeSelectorTerms: []}}}}"),
                     plain)
                   .should_run);

  const Json no_schedule =
      node("{metadata: {name: a}, spec: {taints: [{key: gpu, value: 'yes', effect: NoSchedule}]}}");
  auto kept = place(Json::object(), no_schedule);
  EXPECT_FALSE(kept.should_run);
  EXPECT_TRUE(kept.may_continue) << "NoSchedule spares pods already there";
  EXPECT_TRUE(place(test::yaml("{tolerations: [{key: gpu, value: 'yes', effect: NoSchedule}]}"), no_schedule)
                  .should_run);
  EXPECT_FALSE(place(test::yaml("{tolerations: [{key: gpu, value: 'no'}]}"), no_schedule).should_run);
  EXPECT_TRUE(place(test::yaml("{tolerations: [{operator: Exists}]}"), no_schedule).should_run);
  const Json no_execute = node("{metadata: {name: a}, spec: {taints: [{key: k, effect: NoExecute}]}}");
  EXPECT_FALSE(place(Json::object(), no_execute).may_continue);
  EXPECT_TRUE(place(test::yaml("{tolerations: [{key: k, operator: Exists, effect: NoExecute}]}"), no_execute)
                  .should_run);

  // A cordoned node keeps its daemons, as in Kubernetes: daemon pods tolerate it.
  const Json cordoned = node("{metadata: {name: a}, spec: {unschedulable: true}}");
  EXPECT_FALSE(place(Json::object(), cordoned).should_run);
  Json daemon_spec = Json::object();
  daemon_spec["tolerations"] = daemon_tolerations(daemon_spec);
  EXPECT_TRUE(place(daemon_spec, cordoned).should_run);
}

DaemonSetSpec daemonset_spec(const std::string& extra = "{}") {
  Json object = test::yaml(R"(
metadata: {name: agent, generation: 1}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: i}]}
)");
  object["spec"].update(test::yaml(extra), true);
  auto parsed = read_daemonset(object);
  if (auto* error = std::get_if<std::string>(&parsed)) ADD_FAILURE() << *error;
  return std::get<DaemonSetSpec>(parsed);
}

TEST(WorkloadsDaemonSetPlan, OnePodPerEligibleNode) {
  auto spec = daemonset_spec();
  std::map<std::string, Placement> nodes = {
      {"a", {true, true}}, {"b", {true, true}}, {"c", {false, false}}, {"d", {false, true}}};
  std::vector<PodFacts> pods = {pod("on-a", spec.hash, true), pod("on-a-2", spec.hash, true, 10),
                                pod("on-c", spec.hash, true), pod("on-d", spec.hash, true),
                                pod("on-gone", spec.hash, true)};
  pods[0].node = "a";
  pods[1].node = "a";
  pods[2].node = "c";
  pods[3].node = "d";
  pods[4].node = "gone";
  auto plan = plan_daemonset(spec, nodes, pods, kNow);
  EXPECT_EQ(plan.create_on, std::vector<std::string>{"b"});
  std::vector<std::string> removed;
  for (const auto& p : plan.remove) removed.push_back(p.name);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"on-a-2", "on-c", "on-gone"}));
  auto status = daemonset_status(Json::object(), spec, nodes, pods, kNow);
  EXPECT_EQ(status["desiredNumberScheduled"], 2);
  EXPECT_EQ(status["currentNumberScheduled"], 1);
  EXPECT_EQ(status["numberMisscheduled"], 2);
  EXPECT_EQ(status["numberUnavailable"], 1);
}

TEST(WorkloadsDaemonSetPlan, RollingUpdateReplacesAtMostMaxUnavailable) {
  auto spec = daemonset_spec("{updateStrategy: {rollingUpdate: {maxUnavailable: 2}}}");
  std::map<std::string, Placement> nodes;
  std::vector<PodFacts> pods;
  for (const char* name : {"a", "b", "c", "d"}) {
    nodes[name] = {true, true};
    pods.push_back(pod(std::string("old-") + name, "old", true));
    pods.back().node = name;
  }
  EXPECT_EQ(plan_daemonset(spec, nodes, pods, kNow).remove.size(), 2U);
  pods[0].ready = false;  // one down already: it goes for free, one more within the budget
  EXPECT_EQ(plan_daemonset(spec, nodes, pods, kNow).remove.size(), 2U);
  pods[1].ready = false;
  EXPECT_EQ(plan_daemonset(spec, nodes, pods, kNow).remove.size(), 2U) << "only the two that are down";
  auto on_delete = daemonset_spec("{updateStrategy: {type: OnDelete}}");
  EXPECT_TRUE(plan_daemonset(on_delete, nodes, pods, kNow).remove.empty());
}

}  // namespace
}  // namespace riasc::workloads
