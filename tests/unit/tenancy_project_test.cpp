// The Project operator against the embedded server, through real HTTP both ways: the operator's
// client calls the server, and the server calls the operator's webhook server for pods. Outcomes
// are polled with timeouts; each test has projects and nodes of its own names.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "client_test_support.hpp"
#include "riasc/client/errors.hpp"
#include "riasc/tenancy/project_operator.hpp"
#include "riasc/tenancy/rules.hpp"
#include "test_support.hpp"

namespace riasc::tenancy {
namespace {

using namespace std::chrono_literals;
using client_test::kNodes;
using client_test::kPods;
using client_test::wait_until;

const client::GroupVersionResource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};

Json labels(const Json& object) { return object["metadata"].value("labels", Json::object()); }
Json condition(const Json& project, const std::string& type) {
  for (const Json& c : project.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c;
  return nullptr;
}

class ProjectOperatorTest : public client_test::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    project_ = "proj-" + namespace_;  // "proj-test-N": a namespace of its own, made by the operator
    start_operator();
  }
  void TearDown() override {
    stop_operator();
    for (const char* plural : {"validatingwebhookconfigurations", "mutatingwebhookconfigurations"}) {
      try {
        client_.resource(client::GroupVersionResource{"admissionregistration.k8s.io", "v1", plural})
            .remove("project.riasc.eu");
      } catch (const client::NotFound&) {
      }
    }
    if (HasFailure()) {
      std::lock_guard lock(log_mutex_);
      for (const std::string& line : log_) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  void start_operator() {
    op::OperatorOptions options = ProjectOperator::operator_options();
    options.informer.backoff_base = 50ms;
    options.success_events = false;
    options.log = sink();
    operator_ = std::make_unique<op::Operator>(client_, options);
    projects_ = std::make_unique<ProjectOperator>(
        *operator_, client_,
        ProjectOperatorOptions{.log = sink(), .retry_delay = 200ms, .admission_hold = 30s});
    operator_->start();
  }
  void stop_operator() {
    if (operator_) operator_->stop();
    projects_.reset();
    operator_.reset();
  }
  op::LogSink sink() {
    return [this](op::LogLevel, const std::string& object, const std::string& message) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(object + ": " + message);
    };
  }

  client::Resource projects() { return client_.resource(kProjects); }
  client::Resource nodes() { return client_.resource(kNodes); }
  client::Resource bindings() { return client_.resource(kRoleBindings, project_); }
  client::Resource pods(const std::string& ns) { return client_.resource(kPods, ns); }

  Json create_project(const std::string& spec_yaml) {
    return projects().create({{"apiVersion", "riasc.eu/v1"},
                              {"kind", "Project"},
                              {"metadata", {{"name", project_}}},
                              {"spec", test::yaml(spec_yaml)}});
  }
  void patch_spec(const Json& spec) {
    projects().patch(project_, client::PatchType::Merge, {{"spec", spec}});
  }
  std::string node(const std::string& suffix) { return fmt::format("{}-{}", namespace_, suffix); }
  void create_node(const std::string& name, const Json& node_labels = Json::object()) {
    nodes().create(
        {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}, {"labels", node_labels}}}});
  }
  bool node_labelled(const std::string& name) {
    return labels(nodes().get(name)).contains(node_label(project_));
  }
  bool ready(const std::string& status = "True") {
    const Json c = condition(projects().get(project_), "Ready");
    return !c.is_null() && c["status"] == status;
  }
  Json pod(const std::string& name, const Json& spec = Json::object()) {
    Json object = {{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", {{"name", name}}},
                   {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox:1"}}})}}}};
    object["spec"].update(spec);
    return object;
  }
  // The error a create fails with; "" when it succeeds.
  std::string create_error(const std::string& ns, const Json& object, int* code = nullptr) {
    try {
      pods(ns).create(object);
      return "";
    } catch (const client::ApiError& error) {
      if (code) *code = error.code();
      return error.what();
    }
  }
  std::vector<std::string> binding_names() {
    std::vector<std::string> names;
    for (const Json& binding : bindings().list().items) names.push_back(binding["metadata"]["name"]);
    return names;
  }

  std::string project_;
  std::unique_ptr<op::Operator> operator_;
  std::unique_ptr<ProjectOperator> projects_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST_F(ProjectOperatorTest, MakesTheNamespaceAndBindsUsersWithOddNames) {
  create_project(R"({users: [steffen-vogel, jane.doe@example.org, "oidc:Max"]})");
  ASSERT_TRUE(wait_until([&] { return ready(); })) << projects().get(project_).dump();
  const Json ns = client_.resource(client_test::kNamespaces).get(project_);
  EXPECT_EQ(labels(ns)["riasc.eu/project"], project_);
  EXPECT_EQ(labels(ns)["app.kubernetes.io/managed-by"], "riasc");

  const Json plain = bindings().get("admin-steffen-vogel");
  EXPECT_EQ(plain["roleRef"],
            Json({{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "admin"}}));
  EXPECT_EQ(plain["subjects"],
            Json::array(
                {{{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "steffen-vogel"}}}));
  const Json odd = bindings().get(binding_name("oidc:Max"));
  EXPECT_EQ(odd["subjects"][0]["name"], "oidc:Max");
  EXPECT_EQ(odd["metadata"]["annotations"]["riasc.eu/user"], "oidc:Max");
  EXPECT_EQ(bindings().get(binding_name("jane.doe@example.org"))["subjects"][0]["name"],
            "jane.doe@example.org");

  const Json project = projects().get(project_);
  EXPECT_EQ(project["status"]["namespace"], project_);
  EXPECT_EQ(project["status"]["observedGeneration"], project["metadata"]["generation"]);
  EXPECT_EQ(project["status"]["users"], Json({"steffen-vogel", "jane.doe@example.org", "oidc:Max"}));
  EXPECT_EQ(condition(project, "Ready")["reason"], "Ready");
  EXPECT_EQ(condition(project, "Ready")["observedGeneration"], project["metadata"]["generation"]);
  EXPECT_EQ(project["metadata"]["finalizers"], Json({"riasc.eu/project"}));
}

TEST_F(ProjectOperatorTest, AddingAndRemovingUsersChangesOnlyTheirBindings) {
  create_project("{users: [ada, bob]}");
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  // Someone else's binding in the namespace, with the same labels' absence: never touched.
  bindings().create(
      {{"apiVersion", "rbac.authorization.k8s.io/v1"},
       {"kind", "RoleBinding"},
       {"metadata", {{"name", "admin-carol"}}},
       {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "view"}}},
       {"subjects", Json::array({{{"kind", "User"}, {"name", "carol"}}})}});
  const std::string ada_version = bindings().get("admin-ada")["metadata"]["resourceVersion"];
  patch_spec({{"users", {"ada", "dave"}}});
  ASSERT_TRUE(wait_until([&] {
    const Json status = projects().get(project_)["status"];
    return status["users"] == Json({"ada", "dave"}) && status["observedGeneration"] == 2;
  })) << projects().get(project_).dump();
  auto names = binding_names();
  std::ranges::sort(names);
  EXPECT_EQ(names, (std::vector<std::string>{"admin-ada", "admin-carol", "admin-dave"}));
  EXPECT_EQ(bindings().get("admin-ada")["metadata"]["resourceVersion"], ada_version);  // left alone

  // A user named like someone else's binding: reported, not taken over.
  patch_spec({{"users", {"ada", "carol"}}});
  ASSERT_TRUE(wait_until([&] { return ready("False"); }));
  const Json ready_condition = condition(projects().get(project_), "Ready");
  EXPECT_EQ(ready_condition["reason"], "BindingConflict");
  EXPECT_NE(ready_condition["message"].get<std::string>().find("admin-carol"), std::string::npos);
  EXPECT_EQ(bindings().get("admin-carol")["roleRef"]["name"], "view");
}

TEST_F(ProjectOperatorTest, LabelsNodesIncludingOnesThatJoinLaterAndUnlabelsRemovedOnes) {
  create_node(node("a"));
  create_node(node("c"), {{node_label(project_), ""}});  // labelled by someone else
  create_project(fmt::format("{{nodes: [{}, {}, {}]}}", node("a"), node("b"), node("c")));
  ASSERT_TRUE(wait_until([&] { return ready("False"); }));
  Json project = projects().get(project_);
  EXPECT_EQ(condition(project, "Ready")["reason"], "NodeNotFound");
  EXPECT_EQ(project["status"]["missingNodes"], Json({node("b")}));
  EXPECT_EQ(project["status"]["nodes"], Json({node("a"), node("c")}));
  EXPECT_TRUE(node_labelled(node("a")));

  create_node(node("b"));  // joins: labelled by the node watch, and the project turns Ready
  ASSERT_TRUE(wait_until([&] { return node_labelled(node("b")) && ready(); }));
  EXPECT_EQ(projects().get(project_)["status"]["missingNodes"], Json::array());

  patch_spec({{"nodes", {node("b")}}});
  ASSERT_TRUE(wait_until([&] { return !node_labelled(node("a")); }));
  EXPECT_TRUE(wait_until([&] { return projects().get(project_)["status"]["nodes"] == Json({node("b")}); }));
  EXPECT_TRUE(node_labelled(node("b")));
  EXPECT_TRUE(node_labelled(node("c")));  // not the operator's label: kept
  EXPECT_FALSE(
      nodes().get(node("a"))["metadata"].value("annotations", Json::object()).contains(node_label(project_)));
}

TEST_F(ProjectOperatorTest, DoesNotAdoptAForeignNamespaceUntilItIsHandedOver) {
  client_test::create_namespace(client_, project_);
  create_project("{users: [ada]}");
  ASSERT_TRUE(wait_until([&] { return ready("False"); }));
  const Json ready_condition = condition(projects().get(project_), "Ready");
  EXPECT_EQ(ready_condition["reason"], "NamespaceConflict");
  EXPECT_NE(ready_condition["message"].get<std::string>().find("riasc.eu/project=" + project_),
            std::string::npos);
  std::this_thread::sleep_for(500ms);  // a few retries
  EXPECT_TRUE(binding_names().empty());
  EXPECT_FALSE(labels(client_.resource(client_test::kNamespaces).get(project_))
                   .contains("app.kubernetes.io/managed-by"));

  client_.resource(client_test::kNamespaces)
      .patch(project_, client::PatchType::Merge,
             {{"metadata", {{"labels", {{"riasc.eu/project", project_}}}}}});
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  EXPECT_EQ(binding_names(), std::vector<std::string>{"admin-ada"});
}

TEST_F(ProjectOperatorTest, DeletionRemovesBindingsLabelsAndTheNamespace) {
  create_node(node("a"));
  create_project(fmt::format("{{users: [ada], nodes: [{}]}}", node("a")));
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  projects().remove(project_);
  ASSERT_TRUE(wait_until([&] {
    try {
      (void)projects().get(project_);
      return false;
    } catch (const client::NotFound&) {
      return true;
    }
  }));
  EXPECT_FALSE(node_labelled(node("a")));
  EXPECT_TRUE(wait_until([&] {
    try {
      const Json ns = client_.resource(client_test::kNamespaces).get(project_);
      return ns["metadata"].contains("deletionTimestamp");
    } catch (const client::NotFound&) {
      return true;
    }
  }));
  EXPECT_TRUE(wait_until([&] { return binding_names().empty(); }));
}

TEST_F(ProjectOperatorTest, ARestartedOperatorChangesNothing) {
  create_node(node("a"));
  create_project(fmt::format("{{users: [ada, b@c], nodes: [{}]}}", node("a")));
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  // At rest first: the SDK records a handler's success after the handler's status write, and
  // under ASan that comes late enough to be taken for a write of the restarted operator.
  std::string project_version;
  ASSERT_TRUE(wait_until([&] {
    const std::string before = projects().get(project_)["metadata"]["resourceVersion"];
    std::this_thread::sleep_for(500ms);
    project_version = projects().get(project_)["metadata"]["resourceVersion"];
    return project_version == before;
  }));
  const std::string binding_version = bindings().get("admin-ada")["metadata"]["resourceVersion"];
  const std::string node_version = nodes().get(node("a"))["metadata"]["resourceVersion"];
  stop_operator();
  start_operator();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(projects().get(project_)["metadata"]["resourceVersion"], project_version);
  EXPECT_EQ(bindings().get("admin-ada")["metadata"]["resourceVersion"], binding_version);
  EXPECT_EQ(nodes().get(node("a"))["metadata"]["resourceVersion"], node_version);
}

TEST_F(ProjectOperatorTest, AdmissionMergesTheProjectsNodeSelector) {
  create_node(node("a"));
  create_project(fmt::format("{{nodes: [{}], nodeSelector: {{lab: rwth}}}}", node("a")));
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  const Json stored = pods(project_).create(pod("merged", {{"nodeSelector", {{"disk", "ssd"}}}}));
  EXPECT_EQ(stored["spec"]["nodeSelector"],
            Json({{"disk", "ssd"}, {"lab", "rwth"}, {node_label(project_), ""}}));
  // Agreeing values are fine; nodeName on a project node is fine.
  EXPECT_EQ(
      create_error(project_, pod("agreeing", {{"nodeSelector", {{"lab", "rwth"}}}, {"nodeName", node("a")}})),
      "");
}

TEST_F(ProjectOperatorTest, AdmissionRejectsConflictsAndForeignNodes) {
  create_node(node("a"));
  create_project(fmt::format("{{nodes: [{}], nodeSelector: {{lab: rwth}}}}", node("a")));
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  const std::string conflict = create_error(project_, pod("conflict", {{"nodeSelector", {{"lab", "dtu"}}}}));
  EXPECT_NE(conflict.find("conflicting nodeSelector for project " + project_), std::string::npos) << conflict;
  EXPECT_NE(conflict.find(R"(lab is "dtu" in the pod, the project requires "rwth")"), std::string::npos)
      << conflict;
  const std::string label_conflict =
      create_error(project_, pod("label", {{"nodeSelector", {{node_label(project_), "yes"}}}}));
  EXPECT_NE(label_conflict.find(node_label(project_)), std::string::npos) << label_conflict;
  const std::string elsewhere = create_error(project_, pod("elsewhere", {{"nodeName", "not-ours"}}));
  EXPECT_NE(elsewhere.find("spec.nodeName not-ours is not one of the project's nodes"), std::string::npos)
      << elsewhere;
  EXPECT_TRUE(pods(project_).list().items.empty());
}

TEST_F(ProjectOperatorTest, PodsOutsideProjectNamespacesAreUntouched) {
  create_node(node("a"));
  create_project(fmt::format("{{nodes: [{}], nodeSelector: {{lab: rwth}}, limits: {{pods: 0}}}}", node("a")));
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  const Json stored =
      pods(namespace_).create(pod("free", {{"nodeSelector", {{"lab", "dtu"}}}, {"nodeName", "anywhere"}}));
  EXPECT_EQ(stored["spec"]["nodeSelector"], Json({{"lab", "dtu"}}));
}

TEST_F(ProjectOperatorTest, PodLimitHoldsUnderConcurrentCreates) {
  create_project("{limits: {pods: 3}}");
  ASSERT_TRUE(wait_until([&] { return ready(); }));
  constexpr int kCreates = 10;
  std::atomic<int> admitted{0};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int i = 0; i < kCreates; ++i)
    threads.emplace_back([&, i] {
      client::Client own(admin_config());  // a connection each, so the creates really overlap
      try {
        own.resource(kPods, project_).create(pod(fmt::format("p{}", i)));
        ++admitted;
      } catch (const client::ApiError& error) {
        std::lock_guard lock(errors_mutex);
        errors.push_back(fmt::format("{} {}", error.code(), error.what()));
      }
    });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 3);
  EXPECT_EQ(pods(project_).list().items.size(), 3U);
  ASSERT_EQ(errors.size(), static_cast<std::size_t>(kCreates - 3));
  for (const std::string& error : errors) {
    EXPECT_TRUE(error.starts_with("403")) << error;
    EXPECT_NE(error.find("would exceed spec.limits.pods of project " + project_ + ": 3 of 3"),
              std::string::npos)
        << error;
  }
  // A finished pod frees its place.
  const std::string name = pods(project_).list().items[0]["metadata"]["name"];
  Json finished = pods(project_).get(name);
  finished["status"]["phase"] = "Succeeded";
  pods(project_).update_status(finished);
  EXPECT_EQ(create_error(project_, pod("after")), "");
  EXPECT_NE(create_error(project_, pod("beyond")), "");
}

}  // namespace
}  // namespace riasc::tenancy
