// The client against the real embedded API server, in process, over TLS with the admin's client
// certificate from the kubeconfig the server writes.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "client_test_support.hpp"
#include "riasc/apiserver/api_server.hpp"
#include "riasc/client/client.hpp"
#include "test_support.hpp"

namespace riasc::client {
namespace {

using client_test::eventually;
using client_test::kConfigMaps;
using client_test::kNamespaces;
using client_test::start_server;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const GroupVersionResource kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};

// A CRD for kind `kind` (plural `<kind in lower case>s`) in example.com with a status subresource
// and spec.size at most 10.
std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Json example_crd(const std::string& kind) {
  Json crd = riasc::test::widget_crd(riasc::test::yaml(R"(
type: object
properties:
  spec:
    type: object
    properties:
      size: {type: integer, maximum: 10}
      color: {type: string}
  status:
    type: object
    properties:
      ready: {type: boolean}
)"));
  const std::string lower = lowercase(kind);
  crd["metadata"]["name"] = lower + "s.example.com";
  crd["spec"]["names"] = {
      {"plural", lower + "s"}, {"singular", lower}, {"kind", kind}, {"listKind", kind + "List"}};
  crd["spec"]["versions"][0]["subresources"] = {{"status", Json::object()}};
  return crd;
}

Json config_map(const std::string& name, Json data = Json::object()) {
  return {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", std::move(data)}};
}

std::string resource_version(const Json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

// Every test runs twice: as the admin by client certificate and by bearer token.
enum class Credential { Certificate, Token };

// Never compacted: continue tokens stay valid.
class ClientApiTest : public client_test::ServerTest, public ::testing::WithParamInterface<Credential> {
 protected:
  void SetUp() override {
    if (GetParam() == Credential::Token) client_ = Client(admin_token_config());
    ServerTest::SetUp();
  }
  // CRDs are cluster-wide and both runs of a test share the suite's server: each run gets a kind
  // of its own.
  [[nodiscard]] std::string own_kind(const std::string& kind) const {
    return GetParam() == Credential::Token ? kind + "Token" : kind;
  }
};

TEST_P(ClientApiTest, DiscoveryMapsKindsToResources) {
  ResourceInfo config_maps = client_.resolve(GroupVersionKind{"", "v1", "ConfigMap"});
  EXPECT_EQ(config_maps.resource, "configmaps");
  EXPECT_TRUE(config_maps.namespaced);
  EXPECT_EQ(config_maps.api_version(), "v1");
  EXPECT_FALSE(client_.resolve(GroupVersionKind{"", "v1", "Namespace"}).namespaced);
  ResourceInfo deployments = client_.resolve(GroupVersionKind{"apps", "v1", "Deployment"});
  EXPECT_EQ(deployments.resource, "deployments");
  EXPECT_THAT(deployments.subresources, ::testing::IsSupersetOf({"status", "scale"}));
  EXPECT_EQ(client_.resolve(GroupVersionResource{"", "v1", "pods"}).kind, "Pod");

  // As kubectl reads its resource argument: short names, kinds, group-qualified names.
  EXPECT_EQ(client_.find("cm").resource, "configmaps");
  EXPECT_EQ(client_.find("deployments.apps").kind, "Deployment");
  ResourceInfo profiles = client_.find("tp");
  EXPECT_EQ(profiles.group, "k8s-netem.riasc.eu");
  EXPECT_EQ(profiles.resource, "trafficprofiles");
  EXPECT_FALSE(profiles.namespaced);

  EXPECT_THROW(client_.resolve(GroupVersionKind{"", "v1", "Nothing"}), NotFound);
  EXPECT_THROW(client_.resolve(GroupVersionKind{"nowhere.example", "v1", "Nothing"}), NotFound);
  EXPECT_THROW(client_.find("nothings"), NotFound);
}

TEST_P(ClientApiTest, DiscoveryFindsACrdCreatedAfterTheFirstLookup) {
  EXPECT_THROW(client_.resolve(GroupVersionKind{"example.com", "v1", own_kind("Gadget")}),
               NotFound);  // now cached
  client_.resource(kCrds).create(example_crd(own_kind("Gadget")));
  ResourceInfo gadgets =
      client_.resolve(GroupVersionKind{"example.com", "v1", own_kind("Gadget")});  // a miss refreshes
  EXPECT_EQ(gadgets.resource, lowercase(own_kind("Gadget")) + "s");
  EXPECT_TRUE(gadgets.namespaced);
  EXPECT_THAT(gadgets.subresources, ElementsAre("status"));

  Json gadget = {{"apiVersion", "example.com/v1"},
                 {"kind", own_kind("Gadget")},
                 {"metadata", {{"name", "g"}, {"namespace", namespace_}}},
                 {"spec", {{"size", 3}}}};
  Json created = client_.resource_for(gadget).create(gadget);
  EXPECT_EQ(created["spec"]["size"], 3);
}

TEST_P(ClientApiTest, CreateGetUpdateAndTypedErrors) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  Json created = config_maps.create(config_map("settings", {{"a", "1"}}));
  EXPECT_EQ(created["metadata"]["namespace"], namespace_);
  EXPECT_EQ(config_maps.get("settings")["data"]["a"], "1");

  Json changed = created;
  changed["data"]["a"] = "2";
  Json updated = config_maps.update(changed);
  EXPECT_EQ(updated["data"]["a"], "2");
  EXPECT_NE(resource_version(updated), resource_version(created));

  try {
    config_maps.update(changed);  // the resourceVersion read before the update is stale now
    FAIL() << "no Conflict";
  } catch (const Conflict& error) {
    EXPECT_EQ(error.code(), 409);
    EXPECT_EQ(error.reason(), "Conflict");
    EXPECT_THAT(error.what(), HasSubstr("the object has been modified"));
  }
  EXPECT_THROW(config_maps.create(config_map("settings")), AlreadyExists);
  try {
    (void)config_maps.get("missing");
    FAIL() << "no NotFound";
  } catch (const NotFound& error) {
    EXPECT_EQ(error.code(), 404);
    EXPECT_STREQ(error.what(), "configmaps \"missing\" not found");
  }
  // A namespaced resource without a namespace cannot be addressed by name.
  EXPECT_THROW((void)client_.resource(kConfigMaps).get("settings"), std::invalid_argument);
}

TEST_P(ClientApiTest, StatusSubresourceAndInvalidObjects) {
  client_.resource(kCrds).create(example_crd(own_kind("Widget")));
  Resource widgets = client_.resource(GroupVersionKind{"example.com", "v1", own_kind("Widget")}, namespace_);
  Json widget = {{"apiVersion", "example.com/v1"},
                 {"kind", own_kind("Widget")},
                 {"metadata", {{"name", "w"}}},
                 {"spec", {{"size", 3}}}};
  Json created = widgets.create(widget);

  Json with_status = created;
  with_status["status"] = {{"ready", true}};
  with_status["spec"]["size"] = 4;  // ignored by the status subresource
  Json updated = widgets.update_status(with_status);
  EXPECT_EQ(updated["status"]["ready"], true);
  EXPECT_EQ(updated["spec"]["size"], 3);
  EXPECT_EQ(updated["metadata"]["generation"], created["metadata"]["generation"]);

  PatchOptions status_patch;
  status_patch.subresource = "status";
  Json patched = widgets.patch("w", PatchType::Merge, {{"status", {{"ready", false}}}}, status_patch);
  EXPECT_EQ(patched["status"]["ready"], false);

  widget["metadata"]["name"] = "too-big";
  widget["spec"]["size"] = 100;
  try {
    widgets.create(widget);
    FAIL() << "no Invalid";
  } catch (const Invalid& error) {
    EXPECT_EQ(error.code(), 422);
    ASSERT_EQ(error.causes().size(), 1U);
    EXPECT_EQ(error.causes()[0].field, "spec.size");
    EXPECT_EQ(error.causes()[0].reason, "FieldValueInvalid");
    EXPECT_THAT(error.causes()[0].message, HasSubstr("less than or equal to 10"));
  }
}

TEST_P(ClientApiTest, EveryPatchType) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  config_maps.create(config_map("p", {{"a", "1"}}));
  EXPECT_EQ(config_maps.patch("p", PatchType::Merge, {{"data", {{"b", "2"}}}})["data"],
            Json({{"a", "1"}, {"b", "2"}}));
  Json operations = Json::array(
      {{{"op", "add"}, {"path", "/data/c"}, {"value", "3"}}, {{"op", "remove"}, {"path", "/data/a"}}});
  EXPECT_EQ(config_maps.patch("p", PatchType::Json, operations)["data"], Json({{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(config_maps.patch("p", PatchType::StrategicMerge, {{"data", {{"d", "4"}}}})["data"]["d"], "4");

  // A resourceVersion in a patch is a precondition.
  const std::string version = config_maps.get("p")["metadata"]["resourceVersion"];
  Json guarded = {{"metadata", {{"resourceVersion", version}}}, {"data", {{"e", "5"}}}};
  EXPECT_EQ(config_maps.patch("p", PatchType::Merge, guarded)["data"]["e"], "5");
  guarded["data"]["e"] = "6";  // `version` is stale now
  EXPECT_THROW(config_maps.patch("p", PatchType::Merge, guarded), Conflict);
  EXPECT_EQ(config_maps.get("p")["data"]["e"], "5");

  // Server-side apply: two managers conflict over a field until one forces.
  PatchOptions first;
  first.field_manager = "first";
  Json applied = config_maps.apply(config_map("applied", {{"owner", "first"}}), first);
  EXPECT_EQ(applied["data"]["owner"], "first");
  PatchOptions second;
  second.field_manager = "second";
  EXPECT_THROW(config_maps.apply(config_map("applied", {{"owner", "second"}}), second), Conflict);
  second.force = true;
  EXPECT_EQ(config_maps.apply(config_map("applied", {{"owner", "second"}}), second)["data"]["owner"],
            "second");
  EXPECT_THROW(config_maps.apply(config_map("applied"), PatchOptions()), std::invalid_argument);
}

TEST_P(ClientApiTest, DeleteWithPreconditionsAndPropagation) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  Json victim = config_maps.create(config_map("victim"));
  DeleteOptions wrong;
  wrong.precondition_uid = "00000000-0000-0000-0000-000000000000";
  EXPECT_THROW(config_maps.remove("victim", wrong), Conflict);
  DeleteOptions stale;
  stale.precondition_resource_version = "1";
  EXPECT_THROW(config_maps.remove("victim", stale), Conflict);
  DeleteOptions right;
  right.precondition_uid = victim["metadata"]["uid"].get<std::string>();
  right.precondition_resource_version = resource_version(victim);
  config_maps.remove("victim", right);
  EXPECT_THROW((void)config_maps.get("victim"), NotFound);

  // Orphan leaves the dependent (without its owner reference); background deletes it.
  for (const std::string policy : {"Orphan", "Background"}) {
    Json owner = config_maps.create(config_map("owner"));
    Json dependent = config_map("dependent");
    dependent["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "v1"},
                                                             {"kind", "ConfigMap"},
                                                             {"name", "owner"},
                                                             {"uid", owner["metadata"]["uid"]}}});
    config_maps.create(dependent);
    DeleteOptions options;
    options.propagation_policy = policy;
    config_maps.remove("owner", options);
    if (policy == "Orphan") {
      EXPECT_TRUE(
          eventually([&] { return !config_maps.get("dependent")["metadata"].contains("ownerReferences"); }));
      config_maps.remove("dependent");
    } else {
      EXPECT_TRUE(eventually([&] {
        try {
          (void)config_maps.get("dependent");
          return false;
        } catch (const NotFound&) {
          return true;
        }
      }));
    }
  }
}

TEST_P(ClientApiTest, ListFollowsContinueTokensPageByPage) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  for (int i = 0; i < 7; ++i) {
    Json object = config_map("item-" + std::to_string(i));
    object["metadata"]["labels"] = {{"batch", i % 2 == 0 ? "even" : "odd"}};
    config_maps.create(object);
  }
  ListOptions options;
  options.page_size = 2;
  ListResult all = config_maps.list(options);
  ASSERT_EQ(all.items.size(), 7U);
  EXPECT_FALSE(all.resource_version.empty());
  EXPECT_EQ(all.items[0]["kind"], "ConfigMap");
  EXPECT_EQ(all.items[0]["apiVersion"], "v1");
  options.label_selector = "batch in (even)";
  EXPECT_EQ(config_maps.list(options).items.size(), 4U);
  // All namespaces: at least these seven.
  EXPECT_GE(client_.resource(kConfigMaps).list(options).items.size(), 4U);
}

TEST_P(ClientApiTest, WatchDeliversEventsAndBookmarksFromAResourceVersion) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  config_maps.create(config_map("before"));
  ListResult listed = config_maps.list();
  WatchOptions options;
  options.resource_version = listed.resource_version;
  options.timeout_seconds = 20;
  WatchStream watch = config_maps.watch(options);
  std::thread writer([&] {
    config_maps.create(config_map("watched"));
    config_maps.patch("watched", PatchType::Merge, {{"data", {{"x", "1"}}}});
    config_maps.remove("watched");
  });
  std::vector<std::pair<EventType, std::string>> changes;
  bool bookmark = false;
  std::string last_version;
  WatchEnd end = watch.run([&](const WatchEvent& event) {
    last_version = event.object["metadata"].value("resourceVersion", "");
    if (event.type == EventType::Bookmark) {
      EXPECT_EQ(event.object["kind"], "ConfigMap");
      bookmark = true;
    } else {
      changes.emplace_back(event.type, event.object["metadata"]["name"].get<std::string>());
    }
    return !(bookmark && changes.size() == 3);
  });
  writer.join();
  EXPECT_EQ(end, WatchEnd::Stopped);
  EXPECT_THAT(changes, ElementsAre(std::pair(EventType::Added, std::string("watched")),
                                   std::pair(EventType::Modified, std::string("watched")),
                                   std::pair(EventType::Deleted, std::string("watched"))));
  EXPECT_TRUE(bookmark);
  EXPECT_EQ(watch.resource_version(), last_version);
}

TEST_P(ClientApiTest, ARunAgainResumesWhereTheLastOneStopped) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  WatchOptions options;
  options.resource_version = config_maps.list().resource_version;
  options.allow_bookmarks = false;
  options.timeout_seconds = 20;
  WatchStream watch = config_maps.watch(options);
  config_maps.create(config_map("first"));
  config_maps.create(config_map("second"));
  std::vector<std::string> names;
  auto take_one = [&](const WatchEvent& event) {
    names.push_back(event.object["metadata"]["name"].get<std::string>());
    return false;
  };
  EXPECT_EQ(watch.run(take_one), WatchEnd::Stopped);
  EXPECT_EQ(watch.run(take_one), WatchEnd::Stopped);
  EXPECT_THAT(names, ElementsAre("first", "second"));
}

TEST_P(ClientApiTest, AWatchIsCancelledFromAnotherThread) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  WatchOptions options;
  options.allow_bookmarks = false;  // nothing arrives: only cancel() can end it
  WatchStream watch = config_maps.watch(options);
  std::atomic<bool> started{false};
  std::thread canceller([&] {
    while (!started) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(300ms);
    watch.cancel();
  });
  const auto begin = std::chrono::steady_clock::now();
  started = true;
  EXPECT_EQ(watch.run([](const WatchEvent&) { return true; }), WatchEnd::Cancelled);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  // Cancelled stays cancelled: no connection is made.
  EXPECT_EQ(watch.run([](const WatchEvent&) { return true; }), WatchEnd::Cancelled);
}

TEST_P(ClientApiTest, WatchErrorsAreTyped) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  WatchOptions options;
  options.field_selector = "data.nope=x";
  WatchStream watch = config_maps.watch(options);
  try {
    watch.run([](const WatchEvent&) { return true; });
    FAIL() << "no BadRequest";
  } catch (const BadRequest& error) {
    EXPECT_THAT(error.what(), HasSubstr("field label not supported"));
  }
  // An exception from the callback ends the watch and comes out of run().
  WatchStream throwing = config_maps.watch();
  config_maps.create(config_map("x"));
  EXPECT_THROW(throwing.run([](const WatchEvent&) -> bool { throw std::logic_error("handler failed"); }),
               std::logic_error);
}

TEST_P(ClientApiTest, WithoutCredentialsTheServerSaysUnauthorized) {
  Config config = admin_config();
  config.client_identity.reset();
  Client anonymous(config);
  try {
    (void)anonymous.resource(kNamespaces);
    FAIL() << "no Unauthorized";
  } catch (const Unauthorized& error) {
    EXPECT_EQ(error.code(), 401);
  }
  EXPECT_EQ(anonymous.get_path("/version")["major"], "1");  // /version needs no credentials
}

TEST_P(ClientApiTest, OneClientServesManyThreads) {
  Resource config_maps = client_.resource(kConfigMaps, namespace_);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        try {
          std::string name = fmt::format("t{}-{}", t, i);
          config_maps.create(config_map(name));
          if (config_maps.get(name)["metadata"]["name"] != name) ++failures;
        } catch (const std::exception& error) {
          ADD_FAILURE() << error.what();
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(config_maps.list().items.size(), 40U);
}

// kubectl config set-cluster/set-credentials/set-context write the file; we read it.
TEST_P(ClientApiTest, ReadsAKubeconfigWrittenByKubectl) {
  if (!std::filesystem::exists("/usr/bin/kubectl")) GTEST_SKIP() << "no /usr/bin/kubectl";
  client_test::TemporaryDirectory directory;
  const auto file = directory.path() / "config";
  const auto pki = directory_ / "pki";
  auto kubectl = [&](const std::string& arguments) {
    std::string command = fmt::format("/usr/bin/kubectl config {} --kubeconfig={} >{} 2>&1", arguments,
                                      file.string(), (directory.path() / "kubectl.log").string());
    ASSERT_EQ(std::system(command.c_str()), 0) << command;  // NOLINT(concurrency-mt-unsafe)
  };
  kubectl(fmt::format(
      "set-cluster lab --server=https://127.0.0.1:{} --certificate-authority={} --embed-certs=true",
      server_->port(), (pki / "ca.crt").string()));
  kubectl(fmt::format("set-credentials admin --client-certificate={} --client-key={} --embed-certs=true",
                      (pki / "admin.crt").string(), (pki / "admin.key").string()));
  kubectl(fmt::format("set-credentials admin-files --client-certificate={} --client-key={}",
                      (pki / "admin.crt").string(), (pki / "admin.key").string()));
  kubectl("set-credentials robot --token=robot-token");
  kubectl(fmt::format("set-credentials admin-token --token={}", client_test::kAdminToken));
  kubectl(fmt::format("set-context token --cluster=lab --user=admin-token --namespace={}", namespace_));
  kubectl(fmt::format("set-context lab --cluster=lab --user=admin --namespace={}", namespace_));
  kubectl(fmt::format("set-context files --cluster=lab --user=admin-files --namespace={}", namespace_));
  kubectl("set-context robot --cluster=lab --user=robot");
  kubectl("use-context lab");

  for (std::string context : {"", "files", "token"}) {
    ConfigOverrides overrides;
    overrides.context = context;
    Client client(load_kubeconfig({file}, overrides));
    EXPECT_EQ(client.default_namespace(), namespace_);
    client.resource(kConfigMaps, client.default_namespace())
        .create(config_map("from-kubectl-" + context + "x"));
  }
  ConfigOverrides robot;
  robot.context = "robot";
  Config config = load_kubeconfig({file}, robot);
  EXPECT_EQ(config.bearer_token, "robot-token");
  EXPECT_FALSE(config.client_identity);
  EXPECT_THROW((void)Client(config).resource(kNamespaces), Unauthorized);  // a token the server does not know
}

INSTANTIATE_TEST_SUITE_P(Credentials, ClientApiTest,
                         ::testing::Values(Credential::Certificate, Credential::Token),
                         [](const ::testing::TestParamInfo<Credential>& param) {
                           return param.param == Credential::Token ? "BearerToken" : "ClientCertificate";
                         });

// Compaction every 100 ms: a watch from before it is answered with ERROR 410 Expired.
TEST(ClientCompactionTest, AWatchFromACompactedRevisionIsGone) {
  auto directory =
      std::filesystem::temp_directory_path() / ("riasc-client-compaction-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  auto server = start_server(directory, 100ms);
  Client client(load_kubeconfig({server->kubeconfig_path()}));
  Resource config_maps = client.resource(kConfigMaps, "default");
  const std::string old_version = resource_version(config_maps.create(config_map("old")));
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    config_maps.create(config_map("later-" + std::to_string(i)));
    std::this_thread::sleep_for(100ms);
    WatchOptions options;
    options.resource_version = old_version;
    options.timeout_seconds = 1;
    WatchStream watch = client.resource(kConfigMaps, "default").watch(options);
    try {
      watch.run([](const WatchEvent& event) {
        event.throw_if_error();
        return true;
      });
    } catch (const Gone& error) {
      EXPECT_EQ(error.code(), 410);
      EXPECT_EQ(error.reason(), "Expired");
      EXPECT_THAT(error.what(), HasSubstr("too old resource version"));
      gone = true;
    }
  }
  EXPECT_TRUE(gone);
  server->stop();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace riasc::client
