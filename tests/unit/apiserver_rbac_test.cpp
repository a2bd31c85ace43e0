// RBAC: the rule matching of kube's RBAC authorizer as pure functions, then the embedded server
// enforcing it for token users (403 texts, bootstrap roles, aggregation, escalation, reviews).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "client_test_support.hpp"
#include "riasc/apiserver/api_server.hpp"
#include "riasc/apiserver/rbac_authorizer.hpp"
#include "riasc/apiserver/rbac_rules.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/errors.hpp"

namespace riasc::apiserver {
namespace {

using rbac::Attributes;
using rbac::PolicyRule;
using ::testing::HasSubstr;

Attributes resource(std::string verb, std::string group, std::string resource,
                    std::string namespace_name = {}, std::string name = {}, std::string subresource = {}) {
  Attributes a;
  a.user = "alice";
  a.groups = {"dev", "system:authenticated"};
  a.verb = std::move(verb);
  a.group = std::move(group);
  a.resource = std::move(resource);
  a.namespace_name = std::move(namespace_name);
  a.name = std::move(name);
  a.subresource = std::move(subresource);
  return a;
}

Attributes path(std::string verb, std::string url) {
  Attributes a = resource(std::move(verb), "", "");
  a.resource_request = false;
  a.path = std::move(url);
  return a;
}

// --- rules ---------------------------------------------------------------------------------------

TEST(RbacRulesTest, VerbsGroupsAndResourcesWithWildcards) {
  const PolicyRule pods{{"get", "list"}, {""}, {"pods"}, {}, {}};
  EXPECT_TRUE(rule_allows(pods, resource("get", "", "pods", "a", "p")));
  EXPECT_TRUE(rule_allows(pods, resource("list", "", "pods", "a")));
  EXPECT_FALSE(rule_allows(pods, resource("delete", "", "pods", "a", "p")));
  EXPECT_FALSE(rule_allows(pods, resource("get", "apps", "pods", "a", "p")));
  EXPECT_FALSE(rule_allows(pods, resource("get", "", "secrets", "a", "s")));
  const PolicyRule any_verb{{"*"}, {"apps"}, {"deployments"}, {}, {}};
  EXPECT_TRUE(rule_allows(any_verb, resource("deletecollection", "apps", "deployments", "a")));
  EXPECT_FALSE(rule_allows(any_verb, resource("get", "", "deployments", "a")));
  const PolicyRule any_group{{"get"}, {"*"}, {"leases"}, {}, {}};
  EXPECT_TRUE(rule_allows(any_group, resource("get", "coordination.k8s.io", "leases", "a", "l")));
  const PolicyRule any_resource{{"get"}, {""}, {"*"}, {}, {}};
  EXPECT_TRUE(rule_allows(any_resource, resource("get", "", "secrets", "a", "s")));
  EXPECT_TRUE(
      rule_allows(any_resource, resource("get", "", "pods", "a", "p", "log")));  // "*" has subresources
  EXPECT_FALSE(rule_allows(any_resource, resource("get", "apps", "deployments", "a", "d")));
}

TEST(RbacRulesTest, SubresourcesByNameAndByStar) {
  const PolicyRule log{{"get"}, {""}, {"pods/log"}, {}, {}};
  EXPECT_TRUE(rule_allows(log, resource("get", "", "pods", "a", "p", "log")));
  EXPECT_FALSE(rule_allows(log, resource("get", "", "pods", "a", "p")));
  EXPECT_FALSE(rule_allows(log, resource("get", "", "pods", "a", "p", "status")));
  const PolicyRule pods{{"get"}, {""}, {"pods"}, {}, {}};
  EXPECT_FALSE(rule_allows(pods, resource("get", "", "pods", "a", "p", "log")));  // the object is not its log
  const PolicyRule any_status{{"update"}, {"*"}, {"*/status"}, {}, {}};
  EXPECT_TRUE(rule_allows(any_status, resource("update", "apps", "deployments", "a", "d", "status")));
  EXPECT_TRUE(rule_allows(any_status, resource("update", "", "pods", "a", "p", "status")));
  EXPECT_FALSE(rule_allows(any_status, resource("update", "", "pods", "a", "p")));
  EXPECT_FALSE(rule_allows(any_status, resource("update", "", "pods", "a", "p", "log")));
  // kube has no "resource/*" form: such a rule is a literal resource name and matches nothing.
  const PolicyRule pods_star{{"get"}, {""}, {"pods/*"}, {}, {}};
  EXPECT_FALSE(rule_allows(pods_star, resource("get", "", "pods", "a", "p", "log")));
  EXPECT_FALSE(rule_allows(pods_star, resource("get", "", "pods", "a", "p")));
}

TEST(RbacRulesTest, ResourceNamesOnlyMatchRequestsWithThatName) {
  const PolicyRule named{
      {"get", "list", "watch", "create", "update"}, {""}, {"configmaps"}, {"settings"}, {}};
  EXPECT_TRUE(rule_allows(named, resource("get", "", "configmaps", "a", "settings")));
  EXPECT_TRUE(rule_allows(named, resource("update", "", "configmaps", "a", "settings")));
  EXPECT_FALSE(rule_allows(named, resource("get", "", "configmaps", "a", "other")));
  EXPECT_FALSE(rule_allows(named, resource("list", "", "configmaps", "a")));
  EXPECT_FALSE(rule_allows(named, resource("watch", "", "configmaps", "a")));
  EXPECT_FALSE(rule_allows(named, resource("create", "", "configmaps", "a")));
}

TEST(RbacRulesTest, NonResourceUrlsExactAndByPrefix) {
  const PolicyRule urls{{"get"}, {}, {}, {}, {"/metrics", "/apis/*", "/healthz"}};
  EXPECT_TRUE(rule_allows(urls, path("get", "/metrics")));
  EXPECT_FALSE(rule_allows(urls, path("get", "/metrics/slis")));
  EXPECT_TRUE(rule_allows(urls, path("get", "/apis/apps/v1")));
  EXPECT_FALSE(rule_allows(urls, path("get", "/apis")));
  EXPECT_FALSE(rule_allows(urls, path("post", "/metrics")));
  EXPECT_FALSE(rule_allows(urls, resource("get", "", "pods", "a")));  // URLs never allow resources
  const PolicyRule every{{"*"}, {}, {}, {}, {"*"}};
  EXPECT_TRUE(rule_allows(every, path("get", "/openapi/v2")));
  const PolicyRule resources{{"*"}, {"*"}, {"*"}, {}, {}};
  EXPECT_FALSE(rule_allows(resources, path("get", "/metrics")));  // resources never allow URLs
}

rbac::Policy policy_with(std::vector<Json> objects) {
  rbac::Policy policy;
  for (const auto& object : objects) policy.add(object);
  return policy;
}

Json role(const std::string& kind, const std::string& namespace_name, const std::string& name, Json rules) {
  Json metadata = {{"name", name}};
  if (!namespace_name.empty()) metadata["namespace"] = namespace_name;
  return {{"kind", kind}, {"metadata", metadata}, {"rules", std::move(rules)}};
}

Json binding(const std::string& kind, const std::string& namespace_name, const std::string& name,
             const std::string& role_kind, const std::string& role_name, Json subjects) {
  Json metadata = {{"name", name}};
  if (!namespace_name.empty()) metadata["namespace"] = namespace_name;
  return {{"kind", kind},
          {"metadata", metadata},
          {"roleRef", {{"kind", role_kind}, {"name", role_name}}},
          {"subjects", std::move(subjects)}};
}

const Json kReadPods =
    Json::array({{{"verbs", {"get", "list"}}, {"apiGroups", {""}}, {"resources", {"pods"}}}});

TEST(RbacRulesTest, RoleBindingsGrantInTheirNamespaceOnly) {
  const auto policy = policy_with({
      role("Role", "a", "pod-reader", kReadPods),
      role("ClusterRole", "", "pod-reader", kReadPods),
      binding("RoleBinding", "a", "alice-reads", "Role", "pod-reader",
              {{{"kind", "User"}, {"name", "alice"}}}),
      binding("RoleBinding", "b", "dev-reads", "ClusterRole", "pod-reader",
              {{{"kind", "Group"}, {"name", "dev"}}}),
  });
  EXPECT_TRUE(authorize(policy, resource("list", "", "pods", "a")).allowed);
  EXPECT_TRUE(
      authorize(policy, resource("list", "", "pods", "b")).allowed);  // ClusterRole, namespaced effect
  EXPECT_FALSE(authorize(policy, resource("list", "", "pods", "c")).allowed);
  EXPECT_FALSE(authorize(policy, resource("list", "", "pods")).allowed);  // all namespaces: cluster scope
  EXPECT_EQ(authorize(policy, resource("get", "", "pods", "a", "p")).reason,
            R"(RBAC: allowed by RoleBinding "alice-reads/a" of Role "pod-reader" to User "alice")");
  EXPECT_EQ(authorize(policy, resource("get", "", "pods", "b", "p")).reason,
            R"(RBAC: allowed by RoleBinding "dev-reads/b" of ClusterRole "pod-reader" to Group "dev")");
  EXPECT_TRUE(authorize(policy, resource("list", "", "pods", "b")).reason.empty() == false);
  EXPECT_TRUE(authorize(policy, resource("list", "", "pods", "c")).reason.empty());
}

TEST(RbacRulesTest, ClusterRoleBindingsGrantEverywhere) {
  const auto policy = policy_with({
      role("ClusterRole", "", "pod-reader", kReadPods),
      binding("ClusterRoleBinding", "", "all-read", "ClusterRole", "pod-reader",
              {{{"kind", "User"}, {"name", "alice"}}}),
      // A ClusterRoleBinding to a Role is meaningless: it grants nothing.
      role("Role", "a", "writer",
           Json::array({{{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}}})),
      binding("ClusterRoleBinding", "", "odd", "Role", "writer", {{{"kind", "User"}, {"name", "alice"}}}),
  });
  EXPECT_TRUE(authorize(policy, resource("list", "", "pods")).allowed);
  EXPECT_TRUE(authorize(policy, resource("get", "", "pods", "z", "p")).allowed);
  EXPECT_EQ(authorize(policy, resource("get", "", "pods", "z", "p")).reason,
            R"(RBAC: allowed by ClusterRoleBinding "all-read" of ClusterRole "pod-reader" to User "alice")");
  EXPECT_FALSE(authorize(policy, resource("delete", "", "pods", "a", "p")).allowed);
}

TEST(RbacRulesTest, SubjectsUserGroupAndServiceAccount) {
  EXPECT_TRUE(rbac::subject_matches({"User", "alice", ""}, "alice", {}, ""));
  EXPECT_FALSE(rbac::subject_matches({"User", "alice", ""}, "bob", {"alice"}, ""));
  EXPECT_TRUE(rbac::subject_matches({"Group", "dev", ""}, "bob", {"dev"}, ""));
  EXPECT_FALSE(rbac::subject_matches({"Group", "dev", ""}, "dev", {}, ""));
  const std::string robot = "system:serviceaccount:team:robot";
  EXPECT_TRUE(rbac::subject_matches({"ServiceAccount", "robot", "team"}, robot, {}, ""));
  EXPECT_FALSE(rbac::subject_matches({"ServiceAccount", "robot", "other"}, robot, {}, "team"));
  EXPECT_TRUE(rbac::subject_matches({"ServiceAccount", "robot", ""}, robot, {}, "team"));  // the binding's
  EXPECT_FALSE(rbac::subject_matches({"ServiceAccount", "robot", ""}, robot, {}, ""));     // none: no match
  EXPECT_FALSE(rbac::subject_matches({"User", "robot", ""}, robot, {}, "team"));
  EXPECT_FALSE(rbac::subject_matches({"Other", "alice", ""}, "alice", {}, ""));
}

TEST(RbacRulesTest, SystemMastersMayDoEverything) {
  Attributes a = resource("delete", "", "nodes", "", "n");
  EXPECT_FALSE(authorize(rbac::Policy{}, a).allowed);
  a.groups.push_back("system:masters");
  EXPECT_TRUE(authorize(rbac::Policy{}, a).allowed);
}

TEST(RbacRulesTest, RequestAttributesFollowKubeVerbs) {
  auto attributes = [](const std::string& method, const std::string& target) {
    const std::string raw = target.substr(0, target.find('?'));
    return rbac::request_attributes(method, kubeapi::parse_request_target(target), raw, "alice", {});
  };
  EXPECT_EQ(attributes("GET", "/api/v1/namespaces/a/pods/p").verb, "get");
  EXPECT_EQ(attributes("GET", "/api/v1/namespaces/a/pods").verb, "list");
  EXPECT_EQ(attributes("GET", "/api/v1/namespaces/a/pods?watch=true").verb, "watch");
  EXPECT_EQ(attributes("GET", "/api/v1/watch/namespaces/a/pods").verb, "watch");
  EXPECT_EQ(attributes("POST", "/api/v1/namespaces/a/pods").verb, "create");
  EXPECT_EQ(attributes("PUT", "/api/v1/namespaces/a/pods/p").verb, "update");
  EXPECT_EQ(attributes("PATCH", "/api/v1/namespaces/a/pods/p").verb, "patch");
  EXPECT_EQ(attributes("DELETE", "/api/v1/namespaces/a/pods/p").verb, "delete");
  EXPECT_EQ(attributes("DELETE", "/api/v1/namespaces/a/pods").verb, "deletecollection");
  const auto log = attributes("GET", "/api/v1/namespaces/a/pods/p/log?follow=true");
  EXPECT_EQ(log.verb, "get");
  EXPECT_EQ(log.subresource, "log");
  EXPECT_EQ(log.namespace_name, "a");
  const auto scale = attributes("PATCH", "/apis/apps/v1/namespaces/a/deployments/d/scale");
  EXPECT_EQ(scale.group, "apps");
  EXPECT_EQ(scale.subresource, "scale");
  EXPECT_EQ(scale.verb, "patch");
  const auto named = attributes("GET", "/api/v1/namespaces/a/pods?watch=1&fieldSelector=metadata.name%3Dp");
  EXPECT_EQ(named.verb, "watch");
  EXPECT_EQ(named.name, "p");
  const auto ns = attributes("GET", "/api/v1/namespaces/x");
  EXPECT_EQ(ns.namespace_name, "x");  // kube authorizes a Namespace in its own namespace
  EXPECT_EQ(ns.name, "x");
  const auto metrics = attributes("GET", "/metrics");
  EXPECT_FALSE(metrics.resource_request);
  EXPECT_EQ(metrics.path, "/metrics");
  EXPECT_EQ(metrics.verb, "get");
  EXPECT_EQ(attributes("GET", "/apis/apps/v1").path, "/apis/apps/v1");
}

TEST(RbacRulesTest, UncoveredRulesAreBrokenDownAndCompacted) {
  const std::vector<PolicyRule> held = {{{"get", "list"}, {""}, {"pods"}, {}, {}},
                                        {{"get"}, {""}, {"configmaps"}, {"a"}, {}},
                                        {{"get"}, {"*"}, {"*/status"}, {}, {}},
                                        {{"get"}, {}, {}, {}, {"/healthz/*"}}};
  EXPECT_TRUE(rbac::uncovered(held, {{{"get"}, {""}, {"pods"}, {}, {}}}).empty());
  EXPECT_TRUE(rbac::uncovered(held, {{{"get"}, {""}, {"configmaps"}, {"a"}, {}}}).empty());
  EXPECT_TRUE(rbac::uncovered(held, {{{"get"}, {"apps"}, {"deployments/status"}, {}, {}}}).empty());
  EXPECT_TRUE(rbac::uncovered(held, {{{"get"}, {}, {}, {}, {"/healthz/ping"}}}).empty());
  const auto missing =
      rbac::uncovered(held, {{{"get", "delete", "watch"}, {""}, {"pods", "configmaps"}, {}, {}},
                             {{"get"}, {}, {}, {}, {"/metrics"}}});
  std::vector<std::string> texts;
  for (const auto& rule : missing) texts.push_back(rule.compact_string());
  EXPECT_THAT(texts, ::testing::UnorderedElementsAre(
                         R"({APIGroups:[""], Resources:["pods"], Verbs:["delete" "watch"]})",
                         R"({APIGroups:[""], Resources:["configmaps"], Verbs:["get" "delete" "watch"]})",
                         R"({NonResourceURLs:["/metrics"], Verbs:["get"]})"));
}

// --- the server ----------------------------------------------------------------------------------

const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kRoles{"rbac.authorization.k8s.io", "v1", "roles"};
const client::GroupVersionResource kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
const client::GroupVersionResource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
const client::GroupVersionResource kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                                        "clusterrolebindings"};
const client::GroupVersionResource kAccessReviews{"authorization.k8s.io", "v1", "selfsubjectaccessreviews"};
const client::GroupVersionResource kRulesReviews{"authorization.k8s.io", "v1", "selfsubjectrulesreviews"};

// The shared test server (client_test::ServerTest: the admin and a namespace per test) with three
// more token users: alice (group dev), bob, and a service account's user.
class RbacServerTest : public client_test::ServerTest {
 protected:
  static void SetUpTestSuite() {
    using namespace std::chrono_literals;
    directory_ = std::filesystem::temp_directory_path() / ("riasc-rbac-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    server_ = client_test::start_server(directory_, 0ms, 0,
                                        "alice-token,alice,u1,dev\n"
                                        "bob-token,bob,u2\n"
                                        "robot-token,system:serviceaccount:team:robot,u3,"
                                        "\"system:serviceaccounts,system:serviceaccounts:team\"\n");
  }

  static client::Config config_for(const std::string& token) {
    client::Config config = client::load_kubeconfig({server_->kubeconfig_path()});
    config.client_identity.reset();
    config.bearer_token = token;
    return config;
  }
  // The Status message of a Forbidden answer, or "allowed".
  template <typename Call>
  static std::string forbidden(Call call) {
    try {
      call();
    } catch (const client::Forbidden& error) {
      return error.status().value("message", "");
    }
    return "allowed";
  }
  void bind(const std::string& name, const std::string& role_kind, const std::string& role_name, Json subject,
            const std::string& namespace_name) {
    Json object = {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", namespace_name.empty() ? "ClusterRoleBinding" : "RoleBinding"},
        {"metadata", {{"name", name}}},
        {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", role_kind}, {"name", role_name}}},
        {"subjects", Json::array({std::move(subject)})}};
    admin_.resource(namespace_name.empty() ? kClusterRoleBindings : kRoleBindings, namespace_name)
        .create(object);
  }
  static Json user(const std::string& name) {
    return {{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", name}};
  }
  static Json pod(const std::string& name) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}}},
            {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
  }
  Json review(client::Client& as, Json attributes, bool non_resource = false) {
    Json object = {
        {"apiVersion", "authorization.k8s.io/v1"},
        {"kind", "SelfSubjectAccessReview"},
        {"spec", {{non_resource ? "nonResourceAttributes" : "resourceAttributes", std::move(attributes)}}}};
    return as.resource(kAccessReviews).create(object)["status"];
  }

  client::Client& admin_ = client_;
  client::Client alice_{config_for("alice-token")};
  client::Client bob_{config_for("bob-token")};
  client::Client robot_{config_for("robot-token")};
};

TEST_F(RbacServerTest, DenialsAreWordedAsKubeApiserverWordsThem) {
  EXPECT_EQ(
      forbidden([&] { (void)alice_.resource(kPods, namespace_).list(); }),
      fmt::format(
          R"(pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "{}")",
          namespace_));
  EXPECT_EQ(
      forbidden([&] { (void)alice_.get_path("/api/v1/namespaces/" + namespace_); }),
      fmt::format(
          R"(namespaces "{0}" is forbidden: User "alice" cannot get resource "namespaces" in API group "" in the namespace "{0}")",
          namespace_));
  EXPECT_EQ(
      forbidden([&] { (void)alice_.get_path("/api/v1/nodes/n1"); }),
      R"(nodes "n1" is forbidden: User "alice" cannot get resource "nodes" in API group "" at the cluster scope)");
  EXPECT_EQ(forbidden([&] { (void)alice_.get_path("/metrics"); }),
            R"(forbidden: User "alice" cannot get path "/metrics")");
  EXPECT_EQ(
      forbidden([&] { (void)alice_.get_path(fmt::format("/api/v1/namespaces/{}/pods/p/log", namespace_)); }),
      fmt::format(
          R"(pods "p" is forbidden: User "alice" cannot get resource "pods/log" in API group "" in the namespace "{}")",
          namespace_));
  try {
    (void)alice_.resource(kPods, namespace_).get("p");
    FAIL() << "allowed";
  } catch (const client::Forbidden& error) {
    EXPECT_EQ(error.status()["reason"], "Forbidden");
    EXPECT_EQ(error.status()["code"], 403);
    EXPECT_EQ(error.status()["details"]["name"], "p");
    EXPECT_EQ(error.status()["details"]["kind"], "pods");
    EXPECT_FALSE(error.status()["details"].contains("group"));  // the core group, as kube omits it
  }
  // Discovery and the review APIs are every authenticated user's (bootstrap bindings).
  EXPECT_NO_THROW((void)alice_.get_path("/apis"));
  EXPECT_NO_THROW((void)alice_.get_path("/api/v1"));
}

TEST_F(RbacServerTest, RoleBindingGrantsItsNamespace) {
  admin_.resource(kPods, namespace_).create(pod("p"));
  admin_.resource(kRoles, namespace_)
      .create({{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "Role"},
               {"metadata", {{"name", "pod-reader"}}},
               {"rules", kReadPods}});
  bind("alice-reads", "Role", "pod-reader", user("alice"), namespace_);
  EXPECT_EQ(alice_.resource(kPods, namespace_).get("p")["metadata"]["name"], "p");
  EXPECT_EQ(alice_.resource(kPods, namespace_).list().items.size(), 1u);
  EXPECT_THAT(forbidden([&] { (void)alice_.resource(kPods, namespace_).remove("p"); }),
              HasSubstr(R"(cannot delete resource "pods")"));
  EXPECT_THAT(forbidden([&] { (void)alice_.resource(kPods, "default").list(); }),
              HasSubstr(R"(in the namespace "default")"));
  EXPECT_THAT(forbidden([&] { (void)alice_.resource(kPods).list(); }), HasSubstr("at the cluster scope"));
  EXPECT_THAT(forbidden([&] { (void)bob_.resource(kPods, namespace_).get("p"); }),
              HasSubstr(R"(User "bob")"));
}

TEST_F(RbacServerTest, ServiceAccountAndGroupSubjects) {
  admin_.resource(kPods, namespace_).create(pod("p"));
  EXPECT_THAT(forbidden([&] { (void)robot_.resource(kPods, namespace_).get("p"); }),
              HasSubstr("system:serviceaccount:team:robot"));
  bind("robot-views", "ClusterRole", "view",
       {{"kind", "ServiceAccount"}, {"name", "robot"}, {"namespace", "team"}}, namespace_);
  EXPECT_EQ(robot_.resource(kPods, namespace_).get("p")["metadata"]["name"], "p");
  EXPECT_THAT(forbidden([&] { (void)alice_.resource(kPods, namespace_).get("p"); }), HasSubstr("alice"));
  bind("dev-views", "ClusterRole", "view",
       {{"kind", "Group"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "dev"}}, namespace_);
  EXPECT_EQ(alice_.resource(kPods, namespace_).get("p")["metadata"]["name"], "p");
}

TEST_F(RbacServerTest, BootstrapRolesHoldKubesRules) {
  auto can = [&](client::Client& as, const std::string& verb, const std::string& group,
                 const std::string& resource, const std::string& subresource = {}) {
    return review(as, {{"namespace", namespace_},
                       {"verb", verb},
                       {"group", group},
                       {"resource", resource},
                       {"subresource", subresource}})
        .value("allowed", false);
  };
  bind("alice-views", "ClusterRole", "view", user("alice"), namespace_);
  bind("bob-edits", "ClusterRole", "edit", user("bob"), namespace_);
  bind("robot-admins", "ClusterRole", "admin",
       {{"kind", "ServiceAccount"}, {"name", "robot"}, {"namespace", "team"}}, namespace_);
  EXPECT_TRUE(can(alice_, "list", "", "pods"));
  EXPECT_TRUE(can(alice_, "get", "", "pods", "log"));
  EXPECT_TRUE(can(alice_, "get", "apps", "deployments", "scale"));
  EXPECT_FALSE(can(alice_, "get", "", "secrets"));  // view never shows secrets
  EXPECT_FALSE(can(alice_, "create", "", "pods"));
  EXPECT_TRUE(can(bob_, "create", "", "pods"));
  EXPECT_TRUE(can(bob_, "get", "", "secrets"));
  EXPECT_TRUE(can(bob_, "create", "", "serviceaccounts", "token"));
  EXPECT_TRUE(can(bob_, "update", "coordination.k8s.io", "leases"));
  EXPECT_TRUE(can(bob_, "patch", "apps", "deployments", "scale"));
  EXPECT_FALSE(can(bob_, "create", "rbac.authorization.k8s.io", "roles"));  // admin only
  EXPECT_TRUE(can(robot_, "create", "rbac.authorization.k8s.io", "rolebindings"));
  EXPECT_TRUE(can(robot_, "delete", "", "configmaps"));
  EXPECT_FALSE(can(robot_, "delete", "", "nodes"));
  // Cluster-wide grants of the bootstrap bindings.
  EXPECT_TRUE(review(bob_, {{"path", "/apis/apps/v1"}, {"verb", "get"}}, true).value("allowed", false));
  EXPECT_TRUE(review(bob_, {{"path", "/healthz"}, {"verb", "get"}}, true).value("allowed", false));
  EXPECT_FALSE(review(bob_, {{"path", "/metrics"}, {"verb", "get"}}, true).value("allowed", true));
  const Json admin_role = admin_.resource(kClusterRoles).get("admin");
  EXPECT_EQ(admin_role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true");
}

TEST_F(RbacServerTest, AggregationFollowsLabelledClusterRoles) {
  Json widgets = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRole"},
      {"metadata",
       {{"name", "widgets-view-" + namespace_},
        {"labels", {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}}}}},
      {"rules", {{{"verbs", {"get"}}, {"apiGroups", {"example.com"}}, {"resources", {"widgets"}}}}}};
  const Json rule = widgets["rules"][0];
  auto has_rule = [&](const std::string& role) {
    const Json rules = admin_.resource(kClusterRoles).get(role)["rules"];
    return std::find(rules.begin(), rules.end(), rule) != rules.end();
  };
  admin_.resource(kClusterRoles).create(widgets);
  EXPECT_TRUE(has_rule("view"));
  EXPECT_TRUE(has_rule("edit"));   // view is aggregated into edit
  EXPECT_TRUE(has_rule("admin"));  // and edit into admin
  // A ClusterRole of one's own with an aggregationRule.
  admin_.resource(kClusterRoles)
      .create({{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", "gathered-" + namespace_}}},
               {"aggregationRule",
                {{"clusterRoleSelectors",
                  {{{"matchLabels", {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}}}}}}}}});
  EXPECT_TRUE(has_rule("gathered-" + namespace_));
  widgets["rules"][0]["verbs"] = {"get", "list"};
  admin_.resource(kClusterRoles).update(widgets);
  EXPECT_FALSE(has_rule("view"));
  const Json changed = widgets["rules"][0];
  const Json view_rules = admin_.resource(kClusterRoles).get("view")["rules"];
  EXPECT_NE(std::find(view_rules.begin(), view_rules.end(), changed), view_rules.end());
  (void)admin_.resource(kClusterRoles).remove("widgets-view-" + namespace_);
  const Json after = admin_.resource(kClusterRoles).get("admin")["rules"];
  EXPECT_EQ(std::find(after.begin(), after.end(), changed), after.end());
  const Json gathered = admin_.resource(kClusterRoles).get("gathered-" + namespace_)["rules"];
  EXPECT_EQ(std::find(gathered.begin(), gathered.end(), changed), gathered.end());
  EXPECT_FALSE(gathered.empty());  // system:aggregate-to-view's rules stay
}

TEST_F(RbacServerTest, EscalationIsRefusedUnlessHeldOrEscalateOrBind) {
  bind("alice-admin", "ClusterRole", "admin", user("alice"), namespace_);
  auto roles = alice_.resource(kRoles, namespace_);
  Json modest = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                 {"kind", "Role"},
                 {"metadata", {{"name", "modest"}}},
                 {"rules", kReadPods}};
  EXPECT_NO_THROW(roles.create(modest));  // admin holds it
  Json greedy = modest;
  greedy["metadata"]["name"] = "greedy";
  greedy["rules"] = {{{"verbs", {"get", "list"}}, {"apiGroups", {""}}, {"resources", {"nodes", "pods"}}}};
  EXPECT_EQ(
      forbidden([&] { roles.create(greedy); }),
      R"(roles.rbac.authorization.k8s.io "greedy" is forbidden: user "alice" (groups=["dev" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:)"
      "\n"
      R"({APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]})");
  // A binding to a role with more than alice holds.
  auto bindings = alice_.resource(kRoleBindings, namespace_);
  Json to_cluster_admin = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", {{"name", "bob-all"}}},
      {"roleRef",
       {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "cluster-admin"}}},
      {"subjects", Json::array({user("bob")})}};
  EXPECT_THAT(forbidden([&] { bindings.create(to_cluster_admin); }),
              HasSubstr(R"(rolebindings.rbac.authorization.k8s.io "bob-all" is forbidden: user "alice")"));
  Json to_modest = to_cluster_admin;
  to_modest["metadata"]["name"] = "bob-modest";
  to_modest["roleRef"] = {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "modest"}};
  EXPECT_NO_THROW(bindings.create(to_modest));
  // With escalate on roles and bind on cluster-admin, both go through.
  admin_.resource(kClusterRoles)
      .create({{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "ClusterRole"},
               {"metadata", {{"name", "escalator-" + namespace_}}},
               {"rules",
                {{{"verbs", {"escalate"}},
                  {"apiGroups", {"rbac.authorization.k8s.io"}},
                  {"resources", {"roles"}}},
                 {{"verbs", {"bind"}},
                  {"apiGroups", {"rbac.authorization.k8s.io"}},
                  {"resources", {"clusterroles"}},
                  {"resourceNames", {"cluster-admin"}}}}}});
  bind("alice-escalates", "ClusterRole", "escalator-" + namespace_, user("alice"), namespace_);
  EXPECT_NO_THROW(roles.create(greedy));
  EXPECT_NO_THROW(bindings.create(to_cluster_admin));
  // Still no ClusterRoles: escalate was granted on roles in this namespace only.
  Json cluster_greedy = greedy;
  cluster_greedy["kind"] = "ClusterRole";
  EXPECT_THAT(forbidden([&] { alice_.resource(kClusterRoles).create(cluster_greedy); }),
              HasSubstr(R"(cannot create resource "clusterroles")"));
}

TEST_F(RbacServerTest, ReviewsAnswerForTheCaller) {
  bind("alice-views", "ClusterRole", "view", user("alice"), namespace_);
  const Json yes = review(alice_, {{"namespace", namespace_}, {"verb", "list"}, {"resource", "pods"}});
  EXPECT_EQ(yes["allowed"], true);
  EXPECT_EQ(
      yes["reason"],
      fmt::format(R"(RBAC: allowed by RoleBinding "alice-views/{}" of ClusterRole "view" to User "alice")",
                  namespace_));
  EXPECT_EQ(review(alice_, {{"namespace", namespace_}, {"verb", "delete"}, {"resource", "pods"}}),
            (Json{{"allowed", false}}));
  EXPECT_EQ(review(admin_, {{"verb", "delete"}, {"resource", "nodes"}})["allowed"], true);
  EXPECT_THROW(alice_.resource(kAccessReviews)
                   .create({{"apiVersion", "authorization.k8s.io/v1"},
                            {"kind", "SelfSubjectAccessReview"},
                            {"spec", Json::object()}}),
               client::Invalid);

  const Json rules = alice_.resource(kRulesReviews)
                         .create({{"apiVersion", "authorization.k8s.io/v1"},
                                  {"kind", "SelfSubjectRulesReview"},
                                  {"spec", {{"namespace", namespace_}}}})["status"];
  EXPECT_EQ(rules["incomplete"], false);
  const Json review_rule = {{"verbs", {"create"}},
                            {"apiGroups", {"authorization.k8s.io"}},
                            {"resources", {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}}};
  EXPECT_NE(std::find(rules["resourceRules"].begin(), rules["resourceRules"].end(), review_rule),
            rules["resourceRules"].end());
  bool pods_readable = false;
  for (const auto& rule : rules["resourceRules"]) {
    const auto& resources = rule["resources"];
    if (std::find(resources.begin(), resources.end(), "pods") != resources.end()) pods_readable = true;
  }
  EXPECT_TRUE(pods_readable);
  EXPECT_FALSE(rules["nonResourceRules"].empty());
  const Json elsewhere = alice_.resource(kRulesReviews)
                             .create({{"apiVersion", "authorization.k8s.io/v1"},
                                      {"kind", "SelfSubjectRulesReview"},
                                      {"spec", {{"namespace", "default"}}}})["status"];
  EXPECT_LT(elsewhere["resourceRules"].size(), rules["resourceRules"].size());
}

}  // namespace
}  // namespace riasc::apiserver
