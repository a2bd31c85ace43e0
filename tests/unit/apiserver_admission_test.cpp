// Admission webhooks called by the embedded API server: a real HTTPS webhook server in the test
// (its own CA, handed over as caBundle), configurations registered through the API, requests
// made with the client library as kubectl would make them.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "client_test_support.hpp"
#include "http_test_support.hpp"
#include "riasc/apiserver/object_service.hpp"
#include "riasc/apiserver/webhook_admission.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/errors.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/http/server.hpp"
#include "riasc/http/tls_certificates.hpp"
#include "test_support.hpp"

namespace riasc::apiserver {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

const client::GroupVersionResource kPods{"", "v1", "pods"};
const client::GroupVersionResource kValidating{"admissionregistration.k8s.io", "v1",
                                               "validatingwebhookconfigurations"};
const client::GroupVersionResource kMutating{"admissionregistration.k8s.io", "v1",
                                             "mutatingwebhookconfigurations"};

// The webhook servers serve with the HTTP tests' identity (a CA of their own, not the API
// server's: the caBundle is what makes the API server trust it).
const http::Identities& webhook_identity() { return http::identities(); }

// An HTTPS admission webhook: records every AdmissionReview request it gets (with the path it was
// posted to) and answers with what `decide` says, after `delay`.
class WebhookServer {
 public:
  using Decide = std::function<Json(const std::string& path, const Json& request)>;

  WebhookServer() {
    http::ServerOptions options;
    options.identity = webhook_identity().server;
    server_ =
        std::make_unique<http::Server>(options, [this](http::Exchange& exchange) { return serve(exchange); });
    server_->start();
  }
  ~WebhookServer() { server_->stop(); }

  [[nodiscard]] std::string url(const std::string& path) const {
    return fmt::format("https://127.0.0.1:{}{}", server_->port(), path);
  }
  void decide(Decide decide) {
    std::lock_guard lock(mutex_);
    decide_ = std::move(decide);
  }
  void delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delay_ = delay;
  }
  // The requests posted to `path` (the query, ?timeout=…s, left out), in order.
  std::vector<Json> requests(const std::string& path) const {
    std::lock_guard lock(mutex_);
    std::vector<Json> out;
    for (const auto& [at, request] : received_) {
      if (at.substr(0, at.find('?')) == path) out.push_back(request);
    }
    return out;
  }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& entry : received_) out.push_back(entry.first);
    return out;
  }

 private:
  boost::asio::awaitable<void> serve(http::Exchange& exchange) {
    const Json review = Json::parse(exchange.request().body, nullptr, false);
    const std::string target = exchange.request().target;
    const Json request = review.is_object() ? review.value("request", Json()) : Json();
    Decide decide;
    std::chrono::milliseconds delay{0};
    {
      std::lock_guard lock(mutex_);
      received_.emplace_back(target, request);
      decide = decide_;
      delay = delay_;
    }
    if (delay.count() > 0) co_await exchange.wait(delay);
    Json response = decide ? decide(target.substr(0, target.find('?')), request) : Json{{"allowed", true}};
    response["uid"] = request.value("uid", Json());
    http::Response answer;
    answer.headers.emplace_back("Content-Type", "application/json");
    answer.body =
        Json{{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}}
            .dump();
    co_await exchange.respond(std::move(answer));
  }

  mutable std::mutex mutex_;
  Decide decide_;
  std::chrono::milliseconds delay_{0};
  std::vector<std::pair<std::string, Json>> received_;
  std::unique_ptr<http::Server> server_;
};

Json json_patch_response(const Json& patch) {
  return {{"allowed", true}, {"patchType", "JSONPatch"}, {"patch", base64_encode(patch.dump())}};
}

class AdmissionWebhookTest : public client_test::ServerTest {
 protected:
  void TearDown() override {
    // Configurations are cluster-scoped and the server is the suite's: each test removes its own
    // (never sent to webhooks, so a webhook that refuses everything cannot block this).
    for (const auto& [resource, name] : configurations_) {
      try {
        client_.resource(resource).remove(name);
      } catch (const client::ApiError&) {
      }
    }
  }

  // A webhook entry: `name`, called at `path` of the test's webhook server for `rules`.
  Json webhook(const std::string& name, const std::string& path, const Json& rules) const {
    return {
        {"name", name},
        {"clientConfig",
         {{"url", webhooks_.url(path)}, {"caBundle", base64_encode(webhook_identity().ca.certificate_pem)}}},
        {"rules", rules},
        {"sideEffects", "None"},
        {"admissionReviewVersions", Json::array({"v1"})}};
  }
  static Json rule(const Json& operations, const Json& resources, const std::string& scope = "*") {
    return Json::array({{{"operations", operations},
                         {"apiGroups", Json::array({""})},
                         {"apiVersions", Json::array({"v1"})},
                         {"resources", resources},
                         {"scope", scope}}});
  }
  Json configure(const client::GroupVersionResource& resource, const std::string& name,
                 const Json& webhooks) {
    Json configuration = {
        {"apiVersion", "admissionregistration.k8s.io/v1"},
        {"kind", resource.resource == "mutatingwebhookconfigurations" ? "MutatingWebhookConfiguration"
                                                                      : "ValidatingWebhookConfiguration"},
        {"metadata", {{"name", name}}},
        {"webhooks", webhooks}};
    configurations_.emplace_back(resource, name);
    return client_.resource(resource).create(configuration);
  }

  Json pod(const std::string& name, const Json& labels = Json::object()) const {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", namespace_}, {"labels", labels}}},
            {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  }
  client::Resource pods() { return client_.resource(kPods, namespace_); }
  client::Resource config_maps() { return client_.resource(client_test::kConfigMaps, namespace_); }

  // The error a call throws; fails the test when it succeeds.
  template <class Call>
  static client::ApiError refused(Call call) {
    try {
      call();
    } catch (const client::ApiError& error) {
      return error;
    }
    ADD_FAILURE() << "the request succeeded";
    return {0, "", ""};
  }

  WebhookServer webhooks_;
  std::vector<std::pair<client::GroupVersionResource, std::string>> configurations_;
};

TEST_F(AdmissionWebhookTest, AValidatingWebhookDeniesAPodCreateWithItsMessageAndCode) {
  webhooks_.decide([](const std::string&, const Json& request) -> Json {
    const std::string name = request["object"]["metadata"]["name"];
    if (name == "forbidden")
      return {{"allowed", false},
              {"status", {{"code", 403}, {"message", "pods may not be named forbidden"}}}};
    if (name == "plain") return {{"allowed", false}, {"status", {{"message", "no"}}}};
    return {{"allowed", true}};
  });
  configure(kValidating, "pod-policy",
            Json::array({webhook("pods.policy.example.com", "/validate", rule({"CREATE"}, {"pods"}))}));

  auto error = refused([&] { pods().create(pod("forbidden")); });
  EXPECT_EQ(error.code(), 403);
  EXPECT_STREQ(
      error.what(),
      "admission webhook \"pods.policy.example.com\" denied the request: pods may not be named forbidden");
  EXPECT_THROW((void)pods().get("forbidden"), client::NotFound);
  // Without a code of its own a denial is 400.
  EXPECT_EQ(refused([&] { pods().create(pod("plain")); }).code(), 400);
  pods().create(pod("allowed"));

  const auto requests = webhooks_.requests("/validate");
  ASSERT_EQ(requests.size(), 3U);
  const Json& request = requests[2];
  EXPECT_EQ(request["operation"], "CREATE");
  EXPECT_EQ(request["kind"], (Json{{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}));
  EXPECT_EQ(request["resource"], (Json{{"group", ""}, {"version", "v1"}, {"resource", "pods"}}));
  EXPECT_EQ(request["requestResource"], request["resource"]);
  EXPECT_EQ(request["name"], "allowed");
  EXPECT_EQ(request["namespace"], namespace_);
  EXPECT_EQ(request["userInfo"]["username"], "admin");
  EXPECT_THAT(request["userInfo"]["groups"], UnorderedElementsAre("system:masters", "system:authenticated"));
  EXPECT_EQ(request["uid"].get<std::string>().size(), 36U);
  EXPECT_NE(request["uid"], requests[1]["uid"]);
  EXPECT_TRUE(request["oldObject"].is_null());
  EXPECT_EQ(request["dryRun"], false);
  EXPECT_EQ(request["options"]["kind"], "CreateOptions");
  // Validating webhooks see the object as it will be stored.
  EXPECT_EQ(request["object"]["metadata"]["uid"].get<std::string>().size(), 36U);
  // kube-apiserver tells the webhook its time limit in the query.
  EXPECT_THAT(webhooks_.targets(), Contains("/validate?timeout=10s"));
}

TEST_F(AdmissionWebhookTest, MutatingWebhooksPatchInNameOrderBeforeValidatingWebhooksSeeTheResult) {
  webhooks_.decide([](const std::string& path, const Json& request) -> Json {
    if (path == "/first")
      return json_patch_response(
          Json::parse(R"([{"op":"add","path":"/metadata/labels/first","value":"yes"}])"));
    if (path == "/second") {
      // Runs after /first (configuration "a-…" before "b-…") and sees its label.
      const Json labels = request["object"]["metadata"]["labels"];
      return json_patch_response(Json::array({{{"op", "add"},
                                               {"path", "/metadata/labels/second"},
                                               {"value", labels.value("first", "missing")}}}));
    }
    return {{"allowed", true}};
  });
  configure(kMutating, "b-second",
            Json::array({webhook("second.label.example.com", "/second", rule({"CREATE"}, {"pods"}))}));
  configure(kMutating, "a-first",
            Json::array({webhook("first.label.example.com", "/first", rule({"CREATE"}, {"pods"}))}));
  configure(kValidating, "check",
            Json::array({webhook("check.label.example.com", "/check", rule({"CREATE"}, {"pods"}))}));

  const Json created = pods().create(pod("web", {{"app", "web"}}));
  EXPECT_EQ(created["metadata"]["labels"], (Json{{"app", "web"}, {"first", "yes"}, {"second", "yes"}}));
  EXPECT_EQ(pods().get("web")["metadata"]["labels"], created["metadata"]["labels"]);
  const auto validated = webhooks_.requests("/check");
  ASSERT_EQ(validated.size(), 1U);
  EXPECT_EQ(validated[0]["object"]["metadata"]["labels"]["second"], "yes");
}

TEST_F(AdmissionWebhookTest, RulesAndSelectorsThatDoNotMatchDoNotCallTheWebhook) {
  configure(
      kValidating, "selective",
      Json::array(
          {webhook("resource.match.example.com", "/configmaps-create", rule({"CREATE"}, {"configmaps"})),
           webhook("status.match.example.com", "/pod-status", rule({"UPDATE"}, {"pods/status"})),
           webhook("cluster.match.example.com", "/cluster", rule({"*"}, {"*"}, "Cluster"))}));
  Json by_namespace =
      webhook("namespace.match.example.com", "/by-namespace", rule({"CREATE"}, {"configmaps"}));
  by_namespace["namespaceSelector"] = {{"matchLabels", {{"admission", "on"}}}};
  Json by_object = webhook("object.match.example.com", "/by-object", rule({"*"}, {"configmaps"}));
  by_object["objectSelector"] = {
      {"matchExpressions", Json::array({{{"key", "check"}, {"operator", "Exists"}}})}};
  configure(kValidating, "selectors", Json::array({by_namespace, by_object}));

  // Another resource, another operation: not called.
  pods().create(pod("p"));
  const Json map = config_maps().create({{"metadata", {{"name", "plain"}}}, {"data", {{"a", "1"}}}});
  EXPECT_EQ(webhooks_.requests("/configmaps-create").size(), 1U);
  Json changed = map;
  changed["data"]["a"] = "2";
  config_maps().update(changed);
  EXPECT_EQ(webhooks_.requests("/configmaps-create").size(), 1U);
  // The namespace has no admission=on label, the config map no check label.
  EXPECT_TRUE(webhooks_.requests("/by-namespace").empty());
  EXPECT_TRUE(webhooks_.requests("/by-object").empty());
  // Namespaced objects are not in scope Cluster.
  EXPECT_TRUE(webhooks_.requests("/cluster").empty());

  // pods/status: the status subresource only.
  Json running = pods().get("p");
  running["status"] = {{"phase", "Running"}};
  pods().update_status(running);
  const auto status_requests = webhooks_.requests("/pod-status");
  ASSERT_EQ(status_requests.size(), 1U);
  EXPECT_EQ(status_requests[0]["subResource"], "status");
  EXPECT_EQ(status_requests[0]["requestSubResource"], "status");
  EXPECT_EQ(status_requests[0]["kind"]["kind"], "Pod");
  Json relabelled = pods().get("p");
  relabelled["metadata"]["labels"] = {{"x", "y"}};
  pods().update(relabelled);
  EXPECT_EQ(webhooks_.requests("/pod-status").size(), 1U);

  // The object's labels, old or new, select it.
  config_maps().create({{"metadata", {{"name", "checked"}, {"labels", {{"check", "1"}}}}}});
  EXPECT_EQ(webhooks_.requests("/by-object").size(), 1U);
  Json unlabelled = config_maps().get("checked");
  unlabelled["metadata"].erase("labels");
  config_maps().update(unlabelled);  // the old object has the label
  EXPECT_EQ(webhooks_.requests("/by-object").size(), 2U);

  // A namespace labelled admission=on: its objects are selected. The Namespace itself is
  // cluster-scoped.
  const std::string labelled = namespace_ + "-on";
  client_.resource(client_test::kNamespaces)
      .create({{"metadata", {{"name", labelled}, {"labels", {{"admission", "on"}}}}}});
  EXPECT_EQ(webhooks_.requests("/cluster").size(), 1U);
  EXPECT_EQ(webhooks_.requests("/cluster")[0]["kind"]["kind"], "Namespace");
  client_.resource(client_test::kConfigMaps, labelled).create({{"metadata", {{"name", "selected"}}}});
  const auto selected = webhooks_.requests("/by-namespace");
  ASSERT_EQ(selected.size(), 1U);
  EXPECT_EQ(selected[0]["namespace"], labelled);
}

TEST_F(AdmissionWebhookTest, FailurePolicyDecidesWhenTheWebhookIsSlowOrUnreachable) {
  webhooks_.delay(4s);
  Json slow = webhook("slow.example.com", "/slow", rule({"CREATE"}, {"configmaps"}));
  slow["timeoutSeconds"] = 1;
  configure(kValidating, "slow", Json::array({slow}));

  const auto started = std::chrono::steady_clock::now();
  auto error = refused([&] { config_maps().create({{"metadata", {{"name", "late"}}}}); });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(error.code(), 500);
  EXPECT_THAT(error.what(),
              HasSubstr("failed calling webhook \"slow.example.com\": failed to call webhook: Post"));
  EXPECT_LT(took, 3s) << "the 1 s timeout was not enforced";
  EXPECT_GE(took, 900ms);
  EXPECT_THROW((void)config_maps().get("late"), client::NotFound);

  // Ignore: the request goes on without the webhook.
  Json patch = Json::array({{{"op", "add"}, {"path", "/webhooks/0/failurePolicy"}, {"value", "Ignore"}}});
  client_.resource(kValidating).patch("slow", client::PatchType::Json, patch);
  config_maps().create({{"metadata", {{"name", "ignored"}}}});
  EXPECT_EQ(config_maps().get("ignored")["metadata"]["name"], "ignored");

  // Nothing listens on port 1.
  Json unreachable = webhook("unreachable.example.com", "/", rule({"CREATE"}, {"pods"}));
  unreachable["clientConfig"]["url"] = "https://127.0.0.1:1/";
  configure(kMutating, "unreachable", Json::array({unreachable}));
  auto failed = refused([&] { pods().create(pod("nowhere")); });
  EXPECT_EQ(failed.code(), 500);
  EXPECT_THAT(failed.what(), HasSubstr("failed calling webhook \"unreachable.example.com\""));
  client_.resource(kMutating).patch("unreachable", client::PatchType::Json, patch);
  pods().create(pod("nowhere"));
}

TEST_F(AdmissionWebhookTest, ServiceClientConfigsCannotBeCalledHere) {
  Json by_service = webhook("service.example.com", "/", rule({"CREATE"}, {"configmaps"}));
  by_service["clientConfig"] = {{"service", {{"namespace", "default"}, {"name", "webhook"}}}};
  const Json stored = configure(kValidating, "by-service", Json::array({by_service}));
  EXPECT_EQ(stored["webhooks"][0]["clientConfig"]["service"]["port"], 443);  // defaulted
  auto error = refused([&] { config_maps().create({{"metadata", {{"name", "c"}}}}); });
  EXPECT_EQ(error.code(), 500);
  EXPECT_THAT(error.what(), HasSubstr("no Service network"));
}

TEST_F(AdmissionWebhookTest, DryRunReachesWebhooksWithoutSideEffectsAndStoresNothing) {
  configure(kMutating, "dry", Json::array({webhook("dry.example.com", "/dry", rule({"CREATE"}, {"pods"}))}));
  client::WriteOptions dry;
  dry.dry_run = true;
  pods().create(pod("dry"), dry);
  const auto requests = webhooks_.requests("/dry");
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0]["dryRun"], true);
  EXPECT_EQ(requests[0]["options"]["dryRun"], Json::array({"All"}));
  EXPECT_THROW((void)pods().get("dry"), client::NotFound);
}

TEST_F(AdmissionWebhookTest, UpdatesAndPatchesCarryTheOldObject) {
  configure(kValidating, "updates",
            Json::array({webhook("updates.example.com", "/updates", rule({"UPDATE"}, {"pods"}))}));
  Json created = pods().create(pod("p", {{"version", "1"}}));
  created["metadata"]["labels"]["version"] = "2";
  pods().update(created);
  pods().patch("p", client::PatchType::Merge, {{"metadata", {{"labels", {{"version", "3"}}}}}});
  const auto requests = webhooks_.requests("/updates");
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[0]["operation"], "UPDATE");
  EXPECT_EQ(requests[0]["oldObject"]["metadata"]["labels"]["version"], "1");
  EXPECT_EQ(requests[0]["object"]["metadata"]["labels"]["version"], "2");
  EXPECT_EQ(requests[1]["oldObject"]["metadata"]["labels"]["version"], "2");
  EXPECT_EQ(requests[1]["object"]["metadata"]["labels"]["version"], "3");
  EXPECT_EQ(requests[1]["options"]["kind"], "UpdateOptions");
}

TEST_F(AdmissionWebhookTest, DeletesCarryTheOldObjectAndCanBeDenied) {
  webhooks_.decide([](const std::string&, const Json& request) -> Json {
    if (request["oldObject"]["metadata"]["labels"].value("keep", "") == "yes")
      return {{"allowed", false}, {"status", {{"reason", "Forbidden"}, {"code", 403}, {"message", "kept"}}}};
    return {{"allowed", true}};
  });
  configure(kValidating, "deletes",
            Json::array({webhook("deletes.example.com", "/deletes", rule({"DELETE"}, {"pods"}))}));
  pods().create(pod("kept", {{"keep", "yes"}}));
  pods().create(pod("gone"));
  auto error = refused([&] { pods().remove("kept"); });
  EXPECT_EQ(error.code(), 403);
  EXPECT_EQ(error.reason(), "Forbidden");
  EXPECT_EQ(pods().get("kept")["metadata"]["name"], "kept");
  pods().remove("gone");
  EXPECT_THROW((void)pods().get("gone"), client::NotFound);
  const auto requests = webhooks_.requests("/deletes");
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[1]["operation"], "DELETE");
  EXPECT_EQ(requests[1]["name"], "gone");
  EXPECT_TRUE(requests[1]["object"].is_null());
  EXPECT_EQ(requests[1]["oldObject"]["metadata"]["name"], "gone");
  EXPECT_EQ(requests[1]["options"]["kind"], "DeleteOptions");
}

TEST_F(AdmissionWebhookTest, WebhookConfigurationsAreNeverSentToWebhooks) {
  webhooks_.decide([](const std::string&, const Json&) -> Json {
    return {{"allowed", false}, {"status", {{"message", "everything is refused"}}}};
  });
  Json everything = webhook(
      "everything.example.com", "/everything",
      Json::array(
          {{{"operations", {"*"}}, {"apiGroups", {"*"}}, {"apiVersions", {"*"}}, {"resources", {"*/*"}}}}));
  configure(kValidating, "refuse-all", Json::array({everything}));
  EXPECT_EQ(refused([&] { config_maps().create({{"metadata", {{"name", "c"}}}}); }).code(), 400);
  configure(kMutating, "another",
            Json::array({webhook("another.example.com", "/another", rule({"CREATE"}, {"pods"}))}));
  client_.resource(kValidating).remove("refuse-all");
  config_maps().create({{"metadata", {{"name", "c"}}}});
}

TEST_F(AdmissionWebhookTest, AnInvalidConfigurationIsRefusedNamingEachField) {
  Json bad = webhook("two.segments", "/", rule({"GET"}, {"pods"}));
  bad["clientConfig"]["url"] = "http://127.0.0.1/";
  bad.erase("sideEffects");
  bad["failurePolicy"] = "Sometimes";
  bad["timeoutSeconds"] = 31;
  bad["admissionReviewVersions"] = {"v1beta1"};
  Json duplicate = webhook("dup.example.com", "/", rule({"CREATE"}, {"pods"}));
  Json no_client = webhook("dup.example.com", "/", rule({"CREATE"}, {"pods"}));
  no_client.erase("clientConfig");
  auto error = refused([&] { configure(kValidating, "bad", Json::array({bad, duplicate, no_client})); });
  EXPECT_EQ(error.code(), 422);
  std::vector<std::string> fields;
  for (const auto& cause : error.causes()) fields.push_back(cause.field);
  EXPECT_THAT(fields, UnorderedElementsAre("webhooks[0].name", "webhooks[0].clientConfig.url",
                                           "webhooks[0].rules[0].operations[0]", "webhooks[0].failurePolicy",
                                           "webhooks[0].sideEffects", "webhooks[0].timeoutSeconds",
                                           "webhooks[0].admissionReviewVersions", "webhooks[2].name",
                                           "webhooks[2].clientConfig"));
  EXPECT_THAT(error.what(), HasSubstr("webhooks[0].clientConfig.url: Invalid value: \"http://127.0.0.1/\": "
                                      "'https' is the only allowed URL scheme"));
  EXPECT_THAT(error.what(),
              HasSubstr("webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be "
                        "between 1 and 30 seconds"));
  Json some = webhook("some.example.com", "/", rule({"CREATE"}, {"pods"}));
  some["sideEffects"] = "Some";
  auto unsupported = refused([&] { configure(kMutating, "some", Json::array({some})); });
  EXPECT_THAT(unsupported.what(), HasSubstr("webhooks[0].sideEffects: Unsupported value: \"Some\": supported "
                                            "values: \"None\", \"NoneOnDryRun\""));
  // Defaults are filled in, as kube-apiserver's.
  const Json stored = configure(
      kMutating, "defaults", Json::array({webhook("defaults.example.com", "/", rule({"CREATE"}, {"pods"}))}));
  const Json& defaulted = stored["webhooks"][0];
  EXPECT_EQ(defaulted["failurePolicy"], "Fail");
  EXPECT_EQ(defaulted["matchPolicy"], "Equivalent");
  EXPECT_EQ(defaulted["timeoutSeconds"], 10);
  EXPECT_EQ(defaulted["reinvocationPolicy"], "Never");
  EXPECT_EQ(defaulted["namespaceSelector"], Json::object());
  EXPECT_EQ(defaulted["objectSelector"], Json::object());
}

// A configuration stored before validation refused sideEffects Some (or written to the store by
// another tool): a dry run that would reach its webhook is refused, as kube-apiserver does.
TEST(AdmissionWebhookSideEffects, ADryRunIsRefusedByAWebhookWithSideEffects) {
  const auto directory =
      std::filesystem::temp_directory_path() / ("riasc-admission-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  {
    store::Options options;
    options.path = directory / "state.db";
    auto store = store::Store::open(options);
    auto registry = ResourceRegistry::with_builtins();
    ObjectService objects(*store, *registry);
    WebhookAdmission admission(*store, *registry);
    objects.set_admission(&admission);
    const auto namespaces = *registry->find("", "v1", "namespaces");
    const auto pods = *registry->find("", "v1", "pods");
    const auto validating =
        *registry->find("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations");
    ASSERT_TRUE(std::holds_alternative<Json>(objects.create(
        namespaces, {}, test::yaml("{apiVersion: v1, kind: Namespace, metadata: {name: lab}}"))));
    store->create(validating.key({}, "legacy"), test::yaml(R"({
apiVersion: admissionregistration.k8s.io/v1, kind: ValidatingWebhookConfiguration, metadata: {name: legacy},
webhooks: [{name: legacy.example.com, sideEffects: Some, failurePolicy: Ignore,
            clientConfig: {url: "https://127.0.0.1:1/"},
            rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]}]})")
                                                    .dump());
    admission.configurations_changed();
    const Json pod = test::yaml("{apiVersion: v1, kind: Pod, metadata: {name: p}}");
    WriteOptions dry_run;
    dry_run.dry_run = true;
    auto refused = objects.create(pods, "lab", pod, dry_run);
    ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
    EXPECT_EQ(std::get<ApiError>(refused).code(), 400U);
    EXPECT_EQ(std::get<ApiError>(refused).message(),
              "admission webhook \"legacy.example.com\" does not support dry run");
    // Without dryRun it is called (unreachable, and ignored).
    EXPECT_TRUE(std::holds_alternative<Json>(objects.create(pods, "lab", pod)));
  }
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace riasc::apiserver
