#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "test_support.hpp"

namespace riasc::apiserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* const kWidgetCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1, default: 3}
                color: {type: string}
            status:
              type: object
              properties:
                ready: {type: boolean}
)";

class ObjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("riasc-objects-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    open();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }
  void open() {
    service_.reset();
    store_.reset();
    store::Options options;
    options.path = directory_ / "state.db";
    store_ = store::Store::open(options);
    registry_ = ResourceRegistry::with_builtins();
    service_ = std::make_unique<ObjectService>(*store_, *registry_, [] {
      return std::chrono::system_clock::time_point(
          std::chrono::seconds(1'764'000'000));  // 2025-11-24T16:00:00Z
    });
    service_->load_crds();
  }
  ResourceType type(std::string_view group, std::string_view version, std::string_view resource) const {
    auto found = registry_->find(group, version, resource);
    EXPECT_TRUE(found.has_value()) << group << "/" << version << " " << resource;
    return found.value_or(ResourceType{});
  }
  static Json ok(Outcome<Json> outcome) {
    if (auto* error = std::get_if<ApiError>(&outcome)) {
      ADD_FAILURE() << error->code() << " " << error->message();
      return nullptr;
    }
    return std::get<Json>(std::move(outcome));
  }
  static ApiError failed(Outcome<Json> outcome) {
    if (auto* error = std::get_if<ApiError>(&outcome)) return *error;
    ADD_FAILURE() << "expected an error, got " << std::get<Json>(outcome).dump();
    return {};
  }
  Json create_namespace(const std::string& name) {
    return ok(
        service_->create(type("", "v1", "namespaces"), {},
                         test::yaml("{apiVersion: v1, kind: Namespace, metadata: {name: " + name + "}}")));
  }
  void create_widget_crd() {
    ok(service_->create(type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {},
                        test::yaml(kWidgetCrd)));
  }
  Json widget(const std::string& name, const std::string& spec) {
    return test::yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: " + name +
                      "}, spec: " + spec + "}");
  }

  std::filesystem::path directory_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ResourceRegistry> registry_;
  std::unique_ptr<ObjectService> service_;
};

TEST_F(ObjectServiceTest, CreateFillsServerOwnedMetadata) {
  Json created = create_namespace("lab");
  EXPECT_EQ(created["metadata"]["name"], "lab");
  EXPECT_EQ(created["metadata"]["creationTimestamp"], "2025-11-24T16:00:00Z");
  EXPECT_EQ(created["metadata"]["generation"], 1);
  EXPECT_EQ(created["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(created["metadata"]["uid"].get<std::string>().size(), 36U);
  EXPECT_EQ(created["status"]["phase"], "Active");
  EXPECT_EQ(ok(service_->get(type("", "v1", "namespaces"), {}, "lab")), created);
}

TEST_F(ObjectServiceTest, GenerateNameAddsFiveCharacters) {
  Json created =
      ok(service_->create(type("", "v1", "namespaces"), {},
                          test::yaml("{apiVersion: v1, kind: Namespace, metadata: {generateName: run-}}")));
  EXPECT_THAT(created["metadata"]["name"].get<std::string>(), ::testing::MatchesRegex("run-[a-z0-9]{5}"));
}

TEST_F(ObjectServiceTest, ErrorsReadLikeKubeApiserver) {
  create_namespace("lab");
  auto duplicate =
      failed(service_->create(type("", "v1", "namespaces"), {},
                              test::yaml("{apiVersion: v1, kind: Namespace, metadata: {name: lab}}")));
  EXPECT_EQ(duplicate.code(), 409U);
  EXPECT_EQ(duplicate.message(), R"(namespaces "lab" already exists)");
  auto missing = failed(service_->get(type("", "v1", "configmaps"), "lab", "nope"));
  EXPECT_EQ(missing.code(), 404U);
  EXPECT_EQ(missing.message(), R"(configmaps "nope" not found)");
  auto no_namespace =
      failed(service_->create(type("", "v1", "configmaps"), "elsewhere",
                              test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")));
  EXPECT_EQ(no_namespace.message(), R"(namespaces "elsewhere" not found)");
  auto wrong_kind =
      failed(service_->create(type("", "v1", "configmaps"), "lab",
                              test::yaml("{apiVersion: v1, kind: Secret, metadata: {name: c}}")));
  EXPECT_EQ(wrong_kind.code(), 400U);
}

TEST_F(ObjectServiceTest, ACrdServesItsResourceWithValidationDefaultsAndPruning) {
  create_widget_crd();
  auto widgets = registry_->find("example.com", "v1", "widgets");
  ASSERT_TRUE(widgets.has_value());
  EXPECT_TRUE(widgets->status_subresource);
  Json crd = ok(service_->get(type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {},
                              "widgets.example.com"));
  EXPECT_EQ(crd["status"]["conditions"][1]["type"], "Established");
  create_namespace("lab");
  Json created = ok(service_->create(*widgets, "lab", widget("w", "{color: red, shade: dark}")));
  EXPECT_EQ(created["spec"], Json::parse(R"({"color":"red","size":3})"));  // defaulted, pruned
  EXPECT_EQ(created["metadata"]["namespace"], "lab");
  auto bad = failed(service_->create(*widgets, "lab", widget("v", "{size: 0, color: 5}")));
  EXPECT_EQ(bad.code(), 422U);
  EXPECT_EQ(
      bad.message(),
      R"(Widget.example.com "v" is invalid: [spec.size: Invalid value: 0: must be greater than or equal to 1, )"
      R"(spec.color: Invalid value: 5: must be of type string])");
  EXPECT_EQ(bad.status["details"]["causes"].size(), 2U);
}

TEST_F(ObjectServiceTest, AnInvalidCrdIsRefusedAndServesNothing) {
  Json crd = test::yaml(kWidgetCrd);
  crd["metadata"]["name"] = "gadgets.example.com";
  auto refused =
      failed(service_->create(type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {}, crd));
  EXPECT_EQ(refused.code(), 422U);
  EXPECT_THAT(refused.message(), HasSubstr("metadata.name: Invalid value"));
  EXPECT_FALSE(registry_->find("example.com", "v1", "widgets").has_value());
}

TEST_F(ObjectServiceTest, UpdatesNeedTheCurrentResourceVersionAndBumpGenerationOnSpecChanges) {
  create_widget_crd();
  create_namespace("lab");
  auto widgets = *registry_->find("example.com", "v1", "widgets");
  Json created = ok(service_->create(widgets, "lab", widget("w", "{size: 2}")));
  Json stale = created;
  Json changed = created;
  changed["spec"]["size"] = 5;
  Json updated = ok(service_->update(widgets, "lab", "w", changed));
  EXPECT_EQ(updated["metadata"]["generation"], 2);
  EXPECT_EQ(updated["metadata"]["uid"], created["metadata"]["uid"]);
  stale["spec"]["size"] = 7;
  auto conflict = failed(service_->update(widgets, "lab", "w", stale));
  EXPECT_EQ(conflict.code(), 409U);
  EXPECT_EQ(
      conflict.message(),
      R"(Operation cannot be fulfilled on widgets.example.com "w": the object has been modified; please )"
      R"(apply your changes to the latest version and try again)");
  Json labelled = updated;
  labelled["metadata"]["labels"] = {{"app", "x"}};
  EXPECT_EQ(ok(service_->update(widgets, "lab", "w", labelled))["metadata"]["generation"], 2);
}

TEST_F(ObjectServiceTest, TheStatusSubresourceSeparatesStatusFromTheRest) {
  create_widget_crd();
  create_namespace("lab");
  auto widgets = *registry_->find("example.com", "v1", "widgets");
  Json created = ok(service_->create(widgets, "lab", widget("w", "{size: 2}")));
  Json with_status = created;
  with_status["status"] = {{"ready", true}};
  with_status["spec"]["size"] = 9;
  Json after_status = ok(service_->update(widgets, "lab", "w", with_status, true));
  EXPECT_EQ(after_status["status"]["ready"], true);
  EXPECT_EQ(after_status["spec"]["size"], 2);  // the status subresource changes only the status
  EXPECT_EQ(after_status["metadata"]["generation"], 1);
  Json main = after_status;
  main["status"]["ready"] = false;
  main["spec"]["size"] = 4;
  Json after_main = ok(service_->update(widgets, "lab", "w", main));
  EXPECT_EQ(after_main["status"]["ready"], true);  // the main resource cannot change the status
  EXPECT_EQ(after_main["spec"]["size"], 4);
}

TEST_F(ObjectServiceTest, FinalizersKeepAnObjectUntilTheyAreRemoved) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  ok(service_->create(
      configmaps, "lab",
      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c, finalizers: [riasc.eu/test]}}")));
  Json terminating = ok(service_->remove(configmaps, "lab", "c"));
  EXPECT_EQ(terminating["metadata"]["deletionTimestamp"], "2025-11-24T16:00:00Z");
  EXPECT_TRUE(std::holds_alternative<Json>(service_->get(configmaps, "lab", "c")));
  terminating["metadata"]["finalizers"] = Json::array();
  ok(service_->update(configmaps, "lab", "c", terminating));
  EXPECT_EQ(failed(service_->get(configmaps, "lab", "c")).code(), 404U);
}

TEST_F(ObjectServiceTest, DeletingANamespaceDeletesItsContentFirst) {
  create_namespace("lab");
  create_namespace("other");
  auto configmaps = type("", "v1", "configmaps");
  auto namespaces = type("", "v1", "namespaces");
  ok(service_->create(configmaps, "lab",
                      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}")));
  ok(service_->create(
      configmaps, "lab",
      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: b, finalizers: [x/y]}}")));
  ok(service_->create(configmaps, "other",
                      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}")));
  Json terminating = ok(service_->remove(namespaces, {}, "lab"));
  EXPECT_EQ(terminating["status"]["phase"], "Terminating");
  EXPECT_EQ(failed(service_->get(configmaps, "lab", "a")).code(), 404U);
  Json held = ok(service_->get(configmaps, "lab", "b"));
  EXPECT_TRUE(held["metadata"].contains("deletionTimestamp"));
  EXPECT_TRUE(std::holds_alternative<Json>(service_->get(namespaces, {}, "lab")));
  held["metadata"]["finalizers"] = Json::array();
  ok(service_->update(configmaps, "lab", "b", held));
  EXPECT_EQ(failed(service_->get(namespaces, {}, "lab")).code(), 404U);
  EXPECT_TRUE(std::holds_alternative<Json>(service_->get(configmaps, "other", "a")));
}

TEST_F(ObjectServiceTest, ListsPageWithContinueTokensAfterFiltering) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  for (int i = 0; i < 7; ++i) {
    ok(service_->create(
        configmaps, "lab",
        test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c" + std::to_string(i) +
                   ", labels: {even: '" + (i % 2 == 0 ? "yes" : "no") + "'}}}")));
  }
  ObjectService::ListOptions options;
  options.namespace_name = "lab";
  options.limit = 2;
  options.filter = [](const Json& object) { return object["metadata"]["labels"]["even"] == "yes"; };
  std::vector<std::string> names;
  int pages = 0;
  do {
    Json page = ok(service_->list(configmaps, options));
    EXPECT_EQ(page["kind"], "ConfigMapList");
    for (const auto& item : page["items"]) names.push_back(item["metadata"]["name"]);
    options.continue_token = string_member(page["metadata"], "continue");
    ++pages;
  } while (!options.continue_token.empty() && pages < 10);
  EXPECT_THAT(names, ElementsAre("c0", "c2", "c4", "c6"));
  EXPECT_EQ(pages, 2);
  options.continue_token = "zz";
  EXPECT_EQ(failed(service_->list(configmaps, options)).code(), 400U);
}

TEST_F(ObjectServiceTest, StoredCrdsAreServedAgainAfterARestart) {
  create_widget_crd();
  open();
  EXPECT_TRUE(registry_->find("example.com", "v1", "widgets").has_value());
  ok(service_->remove(type("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {},
                      "widgets.example.com"));
  EXPECT_FALSE(registry_->find("example.com", "v1", "widgets").has_value());
}

TEST(ResourceRegistryTest, DiscoveryDocuments) {
  auto registry = ResourceRegistry::with_builtins();
  for (const auto& crd : kinds::builtin_crds()) registry->add_crd(crd);
  auto list = registry->resource_list("k8s-netem.riasc.eu", "v1");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ((*list)["groupVersion"], "k8s-netem.riasc.eu/v1");
  EXPECT_EQ((*list)["resources"][0]["name"], "trafficprofiles");
  EXPECT_EQ((*list)["resources"][0]["shortNames"], Json::parse(R"(["tp","tps"])"));
  EXPECT_EQ((*list)["resources"][0]["namespaced"], false);
  EXPECT_EQ((*list)["resources"][1]["name"], "trafficprofiles/status");
  EXPECT_FALSE(registry->resource_list("nothing.example", "v1").has_value());
  Json groups = registry->group_list();
  auto riasc = std::ranges::find_if(groups["groups"], [](const Json& g) { return g["name"] == "riasc.eu"; });
  ASSERT_NE(riasc, groups["groups"].end());
  EXPECT_EQ((*riasc)["preferredVersion"]["groupVersion"], "riasc.eu/v1");
  Json aggregated = registry->aggregated(false, "v2");
  EXPECT_EQ(aggregated["apiVersion"], "apidiscovery.k8s.io/v2");
  Json core = registry->aggregated(true, "v2beta1");
  ASSERT_EQ(core["items"].size(), 1U);
  EXPECT_EQ(core["items"][0]["metadata"]["name"], "");
  const Json& pods = *std::ranges::find_if(core["items"][0]["versions"][0]["resources"],
                                           [](const Json& r) { return r["resource"] == "pods"; });
  EXPECT_EQ(pods["responseKind"], Json::parse(R"({"group":"","version":"v1","kind":"Pod"})"));
  EXPECT_EQ(pods["scope"], "Namespaced");
  EXPECT_EQ(pods["subresources"][0]["subresource"], "status");
}

TEST(NegotiateDiscoveryTest, FollowsTheAcceptHeaderExactly) {
  EXPECT_EQ(negotiate_discovery("application/json, */*"), "");  // kubectl 1.20
  EXPECT_EQ(negotiate_discovery("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                                "application/json"),
            "v2beta1");  // kubectl 1.27-1.29: never v2
  EXPECT_EQ(negotiate_discovery("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                                "application/json"),
            "v2");
  EXPECT_EQ(negotiate_discovery("application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"),
            "v2");
  EXPECT_EQ(negotiate_discovery("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"), "");
  EXPECT_EQ(negotiate_discovery(""), "");
}

}  // namespace
}  // namespace riasc::apiserver
