// deploy/operator/rbac.yaml's ClusterRole covers every call the Project operator makes: the
// operator runs as a token user bound only to that role, through a project's whole life
// (namespace, bindings, node labels, webhook configurations, admission with a pod limit,
// deletion), and must log no refusal. Meaningful once the embedded server authorizes by RBAC
// (in progress on another branch); until then it checks that the manifests apply and the
// operator works through a bearer token.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "client_test_support.hpp"
#include "riasc/client/errors.hpp"
#include "riasc/tenancy/project_operator.hpp"
#include "riasc/tenancy/rules.hpp"
#include "test_support.hpp"

namespace riasc::tenancy {
namespace {

using namespace std::chrono_literals;

const client::GroupVersionResource kNodes{"", "v1", "nodes"};
const client::GroupVersionResource kPods{"", "v1", "pods"};
constexpr const char* kOperatorToken = "operator-token-7d1e";
constexpr const char* kOperatorUser = "system:serviceaccount:riasc-system:riasc-operator";

std::vector<Json> manifests(const std::string& path) {
  std::ifstream in(std::string(RIASC_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<Json> objects;
  std::string all = text.str();
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find("\n---\n", start);
    if (end == std::string::npos) end = all.size();
    objects.push_back(test::yaml(all.substr(start, end - start)));
    start = end + 5;
  }
  return objects;
}

TEST(TenancyRbac, TheOperatorNeedsNoMoreThanItsClusterRole) {
  client_test::TemporaryDirectory directory;
  apiserver::ApiServerOptions options;
  options.data_dir = directory.path() / "server";
  std::filesystem::create_directories(options.data_dir);
  options.token_auth_file = directory.path() / "tokens.csv";
  std::ofstream(options.token_auth_file)
      << fmt::format("{},admin,admin-uid,\"system:masters\"\n{},{},operator-uid,\n", client_test::kAdminToken,
                     kOperatorToken, kOperatorUser);
  apiserver::ApiServer server(options);
  server.start();
  client::Client admin(client::load_kubeconfig({server.kubeconfig_path()}));
  client_test::create_namespace(admin, "riasc-system");
  for (const Json& object : manifests("deploy/operator/rbac.yaml")) admin.resource_for(object).create(object);

  client::Config config = client::load_kubeconfig({server.kubeconfig_path()});
  config.client_identity.reset();
  config.bearer_token = kOperatorToken;
  client::Client as_operator(config);

  std::mutex log_mutex;
  std::vector<std::string> log;
  const op::LogSink sink = [&](op::LogLevel, const std::string& object, const std::string& message) {
    std::lock_guard lock(log_mutex);
    log.push_back(object + ": " + message);
  };
  op::OperatorOptions operator_options = ProjectOperator::operator_options();
  operator_options.log = sink;
  operator_options.leader_election = op::LeaderElectionOptions{};
  operator_options.leader_election->lease_name = "project";
  operator_options.leader_election->lease_namespace = "riasc-system";
  op::Operator operator_(as_operator, operator_options);
  ProjectOperator projects(operator_, as_operator, {.log = sink, .retry_delay = 200ms});
  operator_.start();

  admin.resource(kNodes).create(
      {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "rbac-node"}}}});
  admin.resource(kProjects).create(test::yaml(R"(
apiVersion: riasc.eu/v1
kind: Project
metadata: {name: rbac-project}
spec: {users: [jane@example.org], nodes: [rbac-node], limits: {pods: 1}}
)"));
  auto ready = [&] {
    const Json status = admin.resource(kProjects).get("rbac-project").value("status", Json::object());
    for (const Json& condition : status.value("conditions", Json::array()))
      if (condition["type"] == "Ready") return condition["status"] == "True";
    return false;
  };
  ASSERT_TRUE(client_test::eventually(ready));
  const Json pod = test::yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: first}
spec: {containers: [{name: main, image: "busybox:1"}]}
)");
  EXPECT_EQ(admin.resource(kPods, "rbac-project").create(pod)["spec"]["nodeSelector"],
            Json({{node_label("rbac-project"), ""}}));
  admin.resource(kProjects).remove("rbac-project");
  EXPECT_TRUE(client_test::eventually([&] {
    try {
      (void)admin.resource(kProjects).get("rbac-project");
      return false;
    } catch (const client::NotFound&) {
      return true;
    }
  }));
  operator_.stop();
  server.stop();
  std::lock_guard lock(log_mutex);
  for (const std::string& line : log) {
    EXPECT_EQ(line.find("orbidden"), std::string::npos) << line;
    EXPECT_EQ(line.find("403"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace riasc::tenancy
