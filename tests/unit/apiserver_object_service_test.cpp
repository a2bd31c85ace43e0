#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "riasc/apiserver/garbage_collector.hpp"
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

// A controller writing the object while it is deleted does not make the delete fail; a
// resourceVersion precondition still does.
TEST_F(ObjectServiceTest, APodOnANodeIsMarkedForItsGracePeriodAndGoesWhenTheNodeDeletesItWithZero) {
  create_namespace("lab");
  auto pods = type("", "v1", "pods");
  auto nodes = type("", "v1", "nodes");
  const char* pod_on =
      "{{apiVersion: v1, kind: Pod, metadata: {{name: {}}}, spec: {{nodeName: {}, "
      "terminationGracePeriodSeconds: 20, containers: [{{name: c, image: i}}]}}}}";
  ok(service_->create(nodes, {}, test::yaml("{apiVersion: v1, kind: Node, metadata: {name: n1}}")));
  ok(service_->create(pods, "lab", test::yaml(fmt::format(fmt::runtime(pod_on), "running", "n1"))));
  ok(service_->create(pods, "lab", test::yaml(fmt::format(fmt::runtime(pod_on), "nowhere", "absent"))));

  Json terminating = ok(service_->remove(pods, "lab", "running"));
  EXPECT_EQ(terminating["metadata"]["deletionGracePeriodSeconds"], 20);
  EXPECT_EQ(terminating["metadata"]["deletionTimestamp"], "2025-11-24T16:00:20Z");  // now + grace
  DeleteOptions shorter;
  shorter.grace_period_seconds = 5;
  EXPECT_EQ(ok(service_->remove(pods, "lab", "running", shorter))["metadata"]["deletionGracePeriodSeconds"],
            5);
  DeleteOptions longer;
  longer.grace_period_seconds = 60;  // never lengthened
  EXPECT_EQ(ok(service_->remove(pods, "lab", "running", longer))["metadata"]["deletionGracePeriodSeconds"],
            5);
  Json status_write = ok(service_->get(pods, "lab", "running"));
  status_write["status"] = {{"phase", "Running"}};
  ok(service_->update(pods, "lab", "running", status_write, true));  // the node reporting meanwhile
  EXPECT_EQ(ok(service_->get(pods, "lab", "running"))["status"]["phase"], "Running");
  DeleteOptions now;
  now.grace_period_seconds = 0;  // what the node sends once the containers are stopped
  ok(service_->remove(pods, "lab", "running", now));
  EXPECT_EQ(failed(service_->get(pods, "lab", "running")).code(), 404U);

  // No Node object runs this one: nothing would finish a graceful deletion, so it goes at once.
  ok(service_->remove(pods, "lab", "nowhere"));
  EXPECT_EQ(failed(service_->get(pods, "lab", "nowhere")).code(), 404U);
}

TEST_F(ObjectServiceTest, ADeleteIsTriedAgainWhenAnotherWriteComesBetween) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  for (const char* name : {"busy", "held"})
    ok(service_->create(configmaps, "lab",
                        Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}}));
  std::atomic<bool> writing{true};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      auto current = service_->get(configmaps, "lab", "busy");
      if (!std::holds_alternative<Json>(current)) return;
      Json object = std::get<Json>(current);
      object["data"] = {{"i", std::to_string(i)}};
      if (std::holds_alternative<Json>(service_->update(configmaps, "lab", "busy", object))) ++writes;
    }
  });
  while (writes < 20) std::this_thread::yield();
  for (int i = 0; i < 20 && std::holds_alternative<Json>(service_->get(configmaps, "lab", "busy")); ++i)
    ok(service_->remove(configmaps, "lab", "busy"));
  writing = false;
  writer.join();
  EXPECT_EQ(failed(service_->get(configmaps, "lab", "busy")).code(), 404U);

  DeleteOptions stale;
  stale.expected_resource_version = "1";
  EXPECT_EQ(failed(service_->remove(configmaps, "lab", "held", stale)).code(), 409U);
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

TEST_F(ObjectServiceTest, DryRunChecksEverythingAndStoresNothing) {
  create_namespace("lab");
  create_widget_crd();
  auto widgets = type("example.com", "v1", "widgets");
  WriteOptions dry;
  dry.dry_run = true;
  Json would_be = ok(service_->create(widgets, "lab", widget("w", "{color: red}"), dry));
  EXPECT_EQ(would_be["spec"]["size"], 3);
  EXPECT_EQ(failed(service_->get(widgets, "lab", "w")).code(), 404U);
  EXPECT_EQ(failed(service_->create(widgets, "lab", widget("w", "{size: 0}"), dry)).code(), 422U);
  Json created = ok(service_->create(widgets, "lab", widget("w", "{color: red}")));
  Json changed = created;
  changed["spec"]["color"] = "blue";
  EXPECT_EQ(ok(service_->update(widgets, "lab", "w", changed, false, dry))["spec"]["color"], "blue");
  EXPECT_EQ(ok(service_->get(widgets, "lab", "w"))["spec"]["color"], "red");
  DeleteOptions dry_delete;
  dry_delete.dry_run = true;
  ok(service_->remove(widgets, "lab", "w", dry_delete));
  EXPECT_EQ(ok(service_->get(widgets, "lab", "w"))["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]);
}

TEST_F(ObjectServiceTest, UnknownFieldsArePrunedWithAWarningOrRefusedWhenStrict) {
  create_namespace("lab");
  create_widget_crd();
  auto widgets = type("example.com", "v1", "widgets");
  std::vector<std::string> warnings;
  WriteOptions warn;
  warn.warnings = &warnings;
  Json created = ok(service_->create(widgets, "lab", widget("w", "{colour: red}"), warn));
  EXPECT_FALSE(created["spec"].contains("colour"));
  EXPECT_THAT(warnings, ElementsAre("unknown field \"spec.colour\""));
  WriteOptions strict;
  strict.field_validation = FieldValidation::Strict;
  auto refused = failed(service_->create(widgets, "lab", widget("v", "{colour: red}"), strict));
  EXPECT_EQ(refused.code(), 400U);
  EXPECT_THAT(refused.message(), HasSubstr("strict decoding error: unknown field \"spec.colour\""));
}

TEST_F(ObjectServiceTest, DeletePreconditionsOnUidAndResourceVersion) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  Json created = ok(service_->create(configmaps, "lab",
                                     test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")));
  DeleteOptions wrong_uid;
  wrong_uid.expected_uid = "not-the-uid";
  auto refused = failed(service_->remove(configmaps, "lab", "c", wrong_uid));
  EXPECT_EQ(refused.code(), 409U);
  EXPECT_THAT(refused.message(), HasSubstr("Precondition failed: UID in precondition: not-the-uid"));
  DeleteOptions stale;
  stale.expected_resource_version = "999";
  EXPECT_EQ(failed(service_->remove(configmaps, "lab", "c", stale)).code(), 409U);
  DeleteOptions matching;
  matching.expected_uid = created["metadata"]["uid"].get<std::string>();
  matching.expected_resource_version = created["metadata"]["resourceVersion"].get<std::string>();
  ok(service_->remove(configmaps, "lab", "c", matching));
  EXPECT_EQ(failed(service_->get(configmaps, "lab", "c")).code(), 404U);
}

TEST_F(ObjectServiceTest, ATerminatingNamespaceTakesNoNewContent) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  ok(service_->create(
      configmaps, "lab",
      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: held, finalizers: [x/y]}}")));
  ok(service_->remove(type("", "v1", "namespaces"), {}, "lab"));
  auto refused = failed(service_->create(
      configmaps, "lab", test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")));
  EXPECT_EQ(refused.code(), 403U);
  EXPECT_THAT(refused.message(),
              HasSubstr("unable to create new content in namespace lab because it is being terminated"));
}

TEST_F(ObjectServiceTest, ContinueTokensExpireWithCompaction) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  for (int i = 0; i < 3; ++i) {
    ok(service_->create(
        configmaps, "lab",
        test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c" + std::to_string(i) + "}}")));
  }
  ObjectService::ListOptions options;
  options.namespace_name = "lab";
  options.limit = 1;
  Json first = ok(service_->list(configmaps, options));
  options.continue_token = string_member(first["metadata"], "continue");
  ASSERT_FALSE(options.continue_token.empty());
  Json second = ok(service_->list(configmaps, options));
  EXPECT_EQ(second["items"][0]["metadata"]["name"], "c1");
  EXPECT_EQ(second["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);
  ok(service_->create(configmaps, "lab",
                      test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: d}}")));
  store_->compact(store_->revision());
  auto expired = failed(service_->list(configmaps, options));
  EXPECT_EQ(expired.code(), 410U);
  EXPECT_THAT(expired.message(), HasSubstr("continue parameter is too old"));
}

TEST_F(ObjectServiceTest, DeletingACrdDeletesItsCustomResourcesFirst) {
  create_namespace("lab");
  create_widget_crd();
  auto widgets = type("example.com", "v1", "widgets");
  auto crds = type("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  ok(service_->create(widgets, "lab", widget("plain", "{}")));
  Json held = widget("held", "{}");
  held["metadata"]["finalizers"] = Json::array({"example.com/hold"});
  ok(service_->create(widgets, "lab", held));
  Json terminating = ok(service_->remove(crds, {}, "widgets.example.com"));
  EXPECT_EQ(terminating["status"]["conditions"].back()["type"], "Terminating");
  EXPECT_EQ(failed(service_->get(widgets, "lab", "plain")).code(), 404U);
  EXPECT_EQ(failed(service_->create(widgets, "lab", widget("new", "{}"))).code(), 405U);
  Json last = ok(service_->get(widgets, "lab", "held"));
  EXPECT_TRUE(last["metadata"].contains("deletionTimestamp"));
  last["metadata"]["finalizers"] = Json::array();
  ok(service_->update(widgets, "lab", "held", last));
  EXPECT_EQ(failed(service_->get(crds, {}, "widgets.example.com")).code(), 404U);
  EXPECT_FALSE(registry_->find("example.com", "v1", "widgets").has_value());
  EXPECT_TRUE(store_->list("/registry/example.com/").records.empty());
}

TEST_F(ObjectServiceTest, ObjectTextPutsTheResourceVersionInWithoutParsing) {
  auto record = [](std::string value) {
    store::Record r;
    r.revision = 42;
    r.value = std::make_shared<const std::string>(std::move(value));
    return r;
  };
  for (
      const char* stored :
      {R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}})",
       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{},"data":{}})",
       R"({"spec":{"template":{"metadata":{"name":"inner"}}},"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}})",
       R"({"apiVersion":"v\"1","kind":"X","metadata":{"name":"q"}})"}) {
    SCOPED_TRACE(stored);
    // Member order aside, the same object.
    EXPECT_EQ(nlohmann::json::parse(ObjectService::object_text(record(stored))),
              nlohmann::json::parse(ObjectService::to_object(record(stored)).dump()));
  }
}

TEST_F(ObjectServiceTest, ListTextMatchesTheParsedList) {
  create_namespace("lab");
  auto configmaps = type("", "v1", "configmaps");
  for (int i = 0; i < 5; ++i) {
    ok(service_->create(configmaps, "lab",
                        test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c" +
                                   std::to_string(i) + "}, data: {k: v}}")));
  }
  ObjectService::ListOptions options;
  options.namespace_name = "lab";
  options.limit = 3;
  auto text = service_->list_text(configmaps, options);
  ASSERT_TRUE(std::holds_alternative<std::string>(text));
  EXPECT_EQ(nlohmann::json::parse(std::get<std::string>(text)),
            nlohmann::json::parse(ok(service_->list(configmaps, options)).dump()));
}

// The collector against a real store: owners and dependents as ConfigMaps in one namespace.
class GarbageCollectorTest : public ObjectServiceTest {
 protected:
  void SetUp() override {
    ObjectServiceTest::SetUp();
    create_namespace("lab");
    collector_ = std::make_unique<GarbageCollector>(*store_, *service_);
    collector_->start();
  }
  void TearDown() override {
    collector_.reset();
    ObjectServiceTest::TearDown();
  }
  Json config_map(const std::string& name, const std::vector<Json>& owners = {}, bool block = false) {
    Json object = test::yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: " + name + "}}");
    for (const auto& owner : owners) {
      Json reference = {{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"name", owner["metadata"]["name"]},
                        {"uid", owner["metadata"]["uid"]}};
      if (block) reference["blockOwnerDeletion"] = true;
      object["metadata"]["ownerReferences"].push_back(reference);
    }
    return ok(service_->create(configmaps_, "lab", object));
  }
  bool exists(const std::string& name) {
    return std::holds_alternative<Json>(service_->get(configmaps_, "lab", name));
  }
  void settle() { ASSERT_TRUE(collector_->wait_idle(std::chrono::seconds(10))); }

  ResourceType configmaps_ = *ResourceRegistry::with_builtins()->find("", "v1", "configmaps");
  std::unique_ptr<GarbageCollector> collector_;
};

TEST_F(GarbageCollectorTest, BackgroundDeletionRemovesDependentsAfterTheOwner) {
  Json owner = config_map("owner");
  Json other = config_map("other");
  config_map("child", {owner});
  config_map("grandchild", {ok(service_->get(configmaps_, "lab", "child"))});
  config_map("shared", {owner, other});
  ok(service_->remove(configmaps_, "lab", "owner"));
  settle();
  EXPECT_FALSE(exists("owner"));
  EXPECT_FALSE(exists("child"));
  EXPECT_FALSE(exists("grandchild"));
  ASSERT_TRUE(exists("shared"));  // another owner remains: only the dangling reference goes
  Json shared = ok(service_->get(configmaps_, "lab", "shared"));
  ASSERT_EQ(shared["metadata"]["ownerReferences"].size(), 1U);
  EXPECT_EQ(shared["metadata"]["ownerReferences"][0]["name"], "other");
}

TEST_F(GarbageCollectorTest, ForegroundDeletionKeepsTheOwnerUntilBlockingDependentsAreGone) {
  Json owner = config_map("owner");
  Json child = config_map("child", {owner}, true);
  ok(service_->update(configmaps_, "lab", "child", [&] {
    Json held = child;
    held["metadata"]["finalizers"] = Json::array({"riasc.eu/hold"});
    return held;
  }()));
  DeleteOptions foreground;
  foreground.propagation = Propagation::Foreground;
  Json deleting = ok(service_->remove(configmaps_, "lab", "owner", foreground));
  EXPECT_EQ(deleting["metadata"]["finalizers"], Json::array({"foregroundDeletion"}));
  settle();
  ASSERT_TRUE(exists("owner"));  // the child is held by its own finalizer
  Json held = ok(service_->get(configmaps_, "lab", "child"));
  EXPECT_TRUE(held["metadata"].contains("deletionTimestamp"));
  held["metadata"]["finalizers"] = Json::array();
  ok(service_->update(configmaps_, "lab", "child", held));
  settle();
  EXPECT_FALSE(exists("child"));
  EXPECT_FALSE(exists("owner"));
}

TEST_F(GarbageCollectorTest, OrphanDeletionReleasesDependents) {
  Json owner = config_map("owner");
  config_map("child", {owner});
  DeleteOptions orphan;
  orphan.propagation = Propagation::Orphan;
  ok(service_->remove(configmaps_, "lab", "owner", orphan));
  settle();
  EXPECT_FALSE(exists("owner"));
  ASSERT_TRUE(exists("child"));
  EXPECT_FALSE(ok(service_->get(configmaps_, "lab", "child"))["metadata"].contains("ownerReferences"));
}

TEST_F(GarbageCollectorTest, DependentsOfOwnersDeletedWhileStoppedGoAtStart) {
  Json owner = config_map("owner");
  config_map("child", {owner});
  collector_.reset();
  ok(service_->remove(configmaps_, "lab", "owner"));
  EXPECT_TRUE(exists("child"));
  collector_ = std::make_unique<GarbageCollector>(*store_, *service_);
  collector_->start();
  settle();
  EXPECT_FALSE(exists("child"));
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
