// Admission handlers: what the webhook server answers to AdmissionReviews, over HTTPS, and the
// webhook configurations an operator keeps in the embedded server.

#include <gtest/gtest.h>

#include "operator_test_support.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/http/client.hpp"
#include "riasc/operator/admission.hpp"

namespace riasc::operator_test {
namespace {

const client::GroupVersionResource kPods{"", "v1", "pods"};

Json pod(const std::string& name, Json labels = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "lab"}, {"labels", labels}}},
          {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
}

Json review_of(const std::string& operation, Json object, Json old_object = nullptr) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"name", "p"},
            {"namespace", "lab"},
            {"operation", operation},
            {"userInfo", {{"username", "admin"}, {"groups", {"system:masters"}}}},
            {"object", std::move(object)},
            {"oldObject", std::move(old_object)},
            {"dryRun", false}}}};
}

// The JSON patch of a response, applied to `object`.
Json patched(const Json& object, const Json& review) {
  const Json& response = review.at("response");
  if (!response.contains("patch")) return object;
  EXPECT_EQ(response.value("patchType", ""), "JSONPatch");
  return object.patch(Json::parse(*base64_decode(response["patch"].get<std::string>())));
}

TEST(AdmissionServer, ValidatingHandlerAllowsOrRejectsWithItsMessageAndCode) {
  op::AdmissionServer server({.configuration_name = "test.riasc.eu"});
  std::vector<std::string> seen;
  server.on_validate(kPods, [&](op::AdmissionContext& ctx) {
    seen.push_back(ctx.operation() + " " + ctx.name() + " " + ctx.user_info().value("username", ""));
    if (ctx.metadata()["labels"].value("lab", "") != "rwth")
      throw op::AdmissionError("pods need lab=rwth", 403);
    if (ctx.old().is_object()) ctx.warn("changed " + ctx.old()["metadata"]["labels"].value("lab", ""));
  });

  Json allowed = server.review("/validate/validate", review_of("CREATE", pod("p", {{"lab", "rwth"}})));
  EXPECT_EQ(allowed["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(allowed["kind"], "AdmissionReview");
  EXPECT_EQ(allowed["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(allowed["response"]["allowed"], true);
  EXPECT_FALSE(allowed["response"].contains("patch"));

  Json rejected = server.review("/validate/validate", review_of("CREATE", pod("p")));
  EXPECT_EQ(rejected["response"]["allowed"], false);
  EXPECT_EQ(rejected["response"]["status"]["code"], 403);
  EXPECT_EQ(rejected["response"]["status"]["message"], "pods need lab=rwth");

  Json update = server.review("/validate/validate",
                              review_of("UPDATE", pod("p", {{"lab", "rwth"}}), pod("p", {{"lab", "old"}})));
  EXPECT_EQ(update["response"]["warnings"], Json({"changed old"}));
  EXPECT_EQ(seen, (std::vector<std::string>{"CREATE p admin", "CREATE p admin", "UPDATE p admin"}));
}

TEST(AdmissionServer, MutatingHandlerPatchBecomesAJsonPatch) {
  op::AdmissionServer server({.configuration_name = "test.riasc.eu"});
  server.on_mutate(kPods, [](op::AdmissionContext& ctx) {
    ctx.patch()["metadata"]["labels"]["riasc.eu/site"] = "aachen";
    ctx.patch()["metadata"]["labels"]["remove-me"] = nullptr;
    ctx.patch()["spec"]["nodeName"] = "node-1";
  });
  const Json object = pod("p", {{"remove-me", "x"}, {"keep", "y"}});
  const Json answer = server.review("/mutate/mutate", review_of("CREATE", object));
  ASSERT_EQ(answer["response"]["allowed"], true);
  const Json result = patched(object, answer);
  EXPECT_EQ(result["metadata"]["labels"], Json({{"keep", "y"}, {"riasc.eu/site", "aachen"}}));
  EXPECT_EQ(result["spec"]["nodeName"], "node-1");
  EXPECT_EQ(result["spec"]["containers"], object["spec"]["containers"]);

  // A handler that changes nothing answers without a patch.
  op::AdmissionServer idle({.configuration_name = "test.riasc.eu"});
  idle.on_mutate(kPods, [](op::AdmissionContext& ctx) { ctx.patch()["metadata"]["name"] = "p"; });
  EXPECT_FALSE(idle.review("/mutate/mutate", review_of("CREATE", object))["response"].contains("patch"));
}

TEST(AdmissionServer, UnexpectedExceptionsRejectWith500AndMalformedReviewsAreRefused) {
  op::AdmissionServer server({.configuration_name = "test.riasc.eu"},
                             [](op::LogLevel, const std::string&, const std::string&) {});
  server.on_validate(kPods, [](op::AdmissionContext&) { throw std::runtime_error("database down"); },
                     {.id = "check"});
  const Json answer = server.review("/validate/check", review_of("CREATE", pod("p")));
  EXPECT_EQ(answer["response"]["allowed"], false);
  EXPECT_EQ(answer["response"]["status"]["code"], 500);
  EXPECT_EQ(answer["response"]["status"]["message"], "check failed: database down");

  EXPECT_THROW((void)server.review("/validate/other", review_of("CREATE", pod("p"))), std::invalid_argument);
  Json v1beta1 = review_of("CREATE", pod("p"));
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  EXPECT_THROW((void)server.review("/validate/check", v1beta1), std::invalid_argument);
  Json no_uid = review_of("CREATE", pod("p"));
  no_uid["request"].erase("uid");
  EXPECT_THROW((void)server.review("/validate/check", no_uid), std::invalid_argument);
  EXPECT_THROW((void)server.review("/validate/check", Json::array()), std::invalid_argument);
}

TEST(AdmissionServer, RegistrationRefusesBadIdsAndTimeouts) {
  op::AdmissionServer server({.configuration_name = "test.riasc.eu"});
  auto nothing = [](op::AdmissionContext&) {};
  server.on_validate(kPods, nothing);
  server.on_validate(kPods, nothing);  // "validate-2"
  EXPECT_THROW(server.on_validate(kPods, nothing, {.id = "validate-2"}), std::invalid_argument);
  EXPECT_THROW(server.on_validate(kPods, nothing, {.id = "Upper"}), std::invalid_argument);
  EXPECT_THROW(server.on_mutate(kPods, nothing, {.id = "m", .timeout = std::chrono::seconds(31)}),
               std::invalid_argument);
  server.on_mutate(kPods, nothing, {.id = "validate"});  // paths differ: /mutate/validate
  EXPECT_EQ(server.configurations().size(), 2u);
}

TEST(AdmissionServer, ServesReviewsOverHttpsWithItsOwnCa) {
  op::AdmissionServer server({.configuration_name = "test.riasc.eu"});
  server.on_validate(kPods, [](op::AdmissionContext& ctx) {
    if (ctx.name() == "bad") throw op::AdmissionError("no");
  });
  server.start(nullptr);
  ASSERT_NE(server.port(), 0);
  http::ClientOptions options;
  options.port = server.port();
  options.ca_pem = server.ca_pem();
  http::Client https(options);
  const http::Headers json = {{"Content-Type", "application/json"}};

  http::Response answer =
      https.request("POST", "/validate/validate?timeout=10s", review_of("CREATE", pod("bad")).dump(), json);
  ASSERT_EQ(answer.status, 200u) << answer.body;
  EXPECT_EQ(Json::parse(answer.body)["response"]["allowed"], false);
  EXPECT_EQ(Json::parse(answer.body)["response"]["status"]["message"], "no");

  EXPECT_EQ(https.request("POST", "/validate/validate", "{not json", json).status, 400u);
  EXPECT_EQ(https.request("POST", "/mutate/none", review_of("CREATE", pod("p")).dump(), json).status, 404u);
  EXPECT_EQ(https.request("GET", "/validate/validate").status, 405u);
  server.stop();
}

TEST(AdmissionServer, ConfigurationsPointAtTheServerWithItsCaAndRules) {
  op::AdmissionServer server(
      {.url = "https://webhooks.lab.example:9443/", .configuration_name = "lab.riasc.eu"});
  server.on_validate(kWidgets, [](op::AdmissionContext&) {},
                     {.id = "size",
                      .operations = {"CREATE"},
                      .subresource = "status",
                      .ignore_failures = true,
                      .timeout = std::chrono::seconds(3),
                      .namespace_selector = {{"matchLabels", {{"lab", "rwth"}}}}});
  server.on_mutate(kPods, [](op::AdmissionContext&) {}, {.side_effects = true});
  server.start(nullptr);
  const auto configurations = server.configurations();
  ASSERT_EQ(configurations.size(), 2u);
  const Json& validating = configurations[0];
  EXPECT_EQ(validating["kind"], "ValidatingWebhookConfiguration");
  EXPECT_EQ(validating["metadata"]["name"], "lab.riasc.eu");
  const Json& webhook = validating["webhooks"][0];
  EXPECT_EQ(webhook["name"], "size.lab.riasc.eu");
  EXPECT_EQ(webhook["clientConfig"]["url"], "https://webhooks.lab.example:9443/validate/size");
  EXPECT_EQ(*base64_decode(webhook["clientConfig"]["caBundle"].get<std::string>()), server.ca_pem());
  EXPECT_EQ(webhook["rules"][0]["resources"], Json({"widgets/status"}));
  EXPECT_EQ(webhook["rules"][0]["apiGroups"], Json({"example.com"}));
  EXPECT_EQ(webhook["rules"][0]["operations"], Json({"CREATE"}));
  EXPECT_EQ(webhook["failurePolicy"], "Ignore");
  EXPECT_EQ(webhook["timeoutSeconds"], 3);
  EXPECT_EQ(webhook["sideEffects"], "None");
  EXPECT_EQ(webhook["namespaceSelector"]["matchLabels"]["lab"], "rwth");
  EXPECT_FALSE(webhook.contains("objectSelector"));
  const Json& mutating = configurations[1];
  EXPECT_EQ(mutating["kind"], "MutatingWebhookConfiguration");
  EXPECT_EQ(mutating["webhooks"][0]["name"], "mutate.lab.riasc.eu");
  EXPECT_EQ(mutating["webhooks"][0]["failurePolicy"], "Fail");
  EXPECT_EQ(mutating["webhooks"][0]["sideEffects"], "NoneOnDryRun");
  EXPECT_EQ(mutating["webhooks"][0]["rules"][0]["operations"], Json({"CREATE", "UPDATE"}));
}

// Through the embedded server: the operator writes its webhook configurations, and pod writes in
// this test's namespace are rejected and mutated by its handlers.
class OperatorAdmissionTest : public OperatorTest {
 protected:
  bool gone_pod(const std::string& name) {
    try {
      (void)pods().get(name);
      return false;
    } catch (const client::NotFound&) {
      return true;
    }
  }
  void TearDown() override {
    // The configurations outlive the operator on purpose; other tests must not meet them.
    for (const char* plural : {"validatingwebhookconfigurations", "mutatingwebhookconfigurations"}) {
      try {
        client_.resource(client::GroupVersionResource{"admissionregistration.k8s.io", "v1", plural})
            .remove("test.riasc.eu");
      } catch (const client::NotFound&) {
      }
    }
    OperatorTest::TearDown();
  }
  client::Resource pods() { return client_.resource(kPods, namespace_); }
};

TEST_F(OperatorAdmissionTest, HandlersRejectAndMutatePodsThroughTheServer) {
  client_.resource(client::GroupVersionResource{"", "v1", "namespaces"})
      .patch(namespace_, client::PatchType::Merge,
             {{"metadata", {{"labels", {{"admission-test", namespace_}}}}}});
  const Json only_here = {{"matchLabels", {{"admission-test", namespace_}}}};
  Calls calls;
  op::Operator operator_(client_, options());
  operator_.on_validate(
      kPods,
      [&](op::AdmissionContext& ctx) {
        calls.add(ctx.operation() + " " + ctx.name() + " by " + ctx.user_info().value("username", ""));
        if (!ctx.metadata().value("labels", Json::object()).contains("lab"))
          throw op::AdmissionError("pods need a lab label");
      },
      {.namespace_selector = only_here});
  operator_.on_mutate(
      kPods, [](op::AdmissionContext& ctx) { ctx.patch()["metadata"]["labels"]["riasc.eu/site"] = "aachen"; },
      {.namespace_selector = only_here});
  operator_.start();

  Json unlabelled = pod("unlabelled");
  unlabelled["metadata"]["namespace"] = namespace_;
  unlabelled["metadata"].erase("labels");
  try {
    pods().create(unlabelled);
    FAIL() << "the pod was not rejected";
  } catch (const client::ApiError& error) {
    EXPECT_EQ(error.code(), 400);
    EXPECT_NE(std::string(error.what()).find("pods need a lab label"), std::string::npos) << error.what();
  }
  EXPECT_TRUE(gone_pod("unlabelled"));

  Json labelled = pod("labelled", {{"lab", "rwth"}});
  labelled["metadata"]["namespace"] = namespace_;
  const Json stored = pods().create(labelled);
  EXPECT_EQ(stored["metadata"]["labels"]["riasc.eu/site"], "aachen");
  EXPECT_EQ(pods().get("labelled")["metadata"]["labels"]["riasc.eu/site"], "aachen");
  // The validating handler saw the mutated object, from the admin's certificate.
  EXPECT_EQ(calls.count("CREATE labelled by admin"), 1);
  EXPECT_EQ(calls.count("CREATE unlabelled by admin"), 1);

  // Updates are checked too: removing the label is refused.
  Json update = pods().get("labelled");
  update["metadata"]["labels"].erase("lab");
  EXPECT_THROW(pods().update(update), client::ApiError);
}

}  // namespace
}  // namespace riasc::operator_test
