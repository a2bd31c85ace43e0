// Where the operator SDK keeps its records of an object (OperatorOptions::records), against the
// real embedded API server: in the status, a completed cycle is one write and an unfinished one
// survives a restart; a status schema that prunes them sends the records back to annotations.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "operator_test_support.hpp"

namespace riasc::operator_test {
namespace {

using client_test::eventually;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const client::GroupVersionResource kGizmos{"example.com", "v1", "gizmos"};

// The SDK's records in status.riasc.eu, null when there are none.
Json records(const Json& object) { return object.value("status", Json::object()).value("riasc.eu", Json()); }

// Handled, with nothing left in progress, by records in the status.
bool at_rest_in_status(const Json& object) {
  const Json kept = records(object);
  if (!kept.is_object() || !kept.contains("last-handled-configuration") ||
      kept.contains("handling-configuration"))
    return false;
  for (const auto& [key, value] : kept.items())
    if (key.starts_with("progress-") && value.get<std::string>().find("\"final\"") == std::string::npos)
      return false;
  return true;
}

bool has_sdk_annotations(const Json& object) {
  const Json annotations = object["metadata"].value("annotations", Json::object());
  for (const auto& [key, value] : annotations.items())
    if (key.starts_with("riasc.eu/")) return true;
  return false;
}

class OperatorRecordsTest : public OperatorTest {
 protected:
  static void create_gizmo(const client::Resource& gizmos, const std::string& name) {
    gizmos.create({{"apiVersion", "example.com/v1"},
                   {"kind", "Gizmo"},
                   {"metadata", {{"name", name}}},
                   {"spec", {{"size", 1}}}});
  }
  // A CRD whose status schema keeps status.create only: status.riasc.eu is pruned.
  client::Resource install_gizmos() {
    Json crd = test::widget_crd(test::yaml(R"(
type: object
properties:
  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
  status:
    type: object
    properties:
      create: {type: object, x-kubernetes-preserve-unknown-fields: true}
)"));
    crd["metadata"]["name"] = "gizmos.example.com";
    crd["spec"]["names"] = {
        {"plural", "gizmos"}, {"singular", "gizmo"}, {"kind", "Gizmo"}, {"listKind", "GizmoList"}};
    crd["spec"]["versions"][0]["subresources"] = {{"status", Json::object()}};
    try {
      client_
          .resource(client::GroupVersionResource{"apiextensions.k8s.io", "v1", "customresourcedefinitions"})
          .create(crd);
    } catch (const client::AlreadyExists&) {
      // Tests of this suite share the server.
    }
    EXPECT_TRUE(eventually([&] {
      try {
        (void)client_.resolve(kGizmos);
        return true;
      } catch (const client::NotFound&) {
        return false;
      }
    }));
    return client_.resource(kGizmos, namespace_);
  }

  op::OperatorOptions in_status() {
    op::OperatorOptions chosen = options();
    chosen.records = op::Records::Status;
    chosen.success_events = false;
    return chosen;
  }
};

TEST_F(OperatorRecordsTest, InTheStatusACompletedCycleIsOneStatusWrite) {
  const std::string created_version = create_widget("w", {{"size", 1}})["metadata"]["resourceVersion"];
  op::Operator operator_(client_, in_status());
  operator_.on_create(kWidgets, [](op::Context& ctx) { return Json{{"size", ctx.spec()["size"]}}; });
  operator_.start();
  ASSERT_TRUE(eventually([&] { return at_rest_in_status(get("w")); }));
  EXPECT_EQ(status("w")["create"], (Json{{"size", 1}}));
  EXPECT_FALSE(has_sdk_annotations(get("w")));

  client::WatchOptions from_creation;
  from_creation.resource_version = created_version;
  from_creation.timeout_seconds = 1;
  std::vector<std::string> writes;
  widgets().watch(from_creation).run([&](const client::WatchEvent& event) {
    if (event.type == client::EventType::Modified)
      writes.push_back(event.object["metadata"]["resourceVersion"]);
    return true;
  });
  EXPECT_EQ(writes.size(), 1U);
}

TEST_F(OperatorRecordsTest, InTheStatusARestartedOperatorDoesNotRepeatFinishedHandlers) {
  Calls calls;
  std::atomic<bool> first_operator{true};
  auto register_handlers = [&](op::Operator& operator_) {
    on_create_first_and_second(operator_, calls, [&](const std::string&) { return first_operator.load(); });
    operator_.on_update(kWidgets, [&](op::Context& ctx) { calls.add("update " + ctx.name()); });
  };
  {
    op::Operator first(client_, in_status());
    register_handlers(first);
    first.start();
    create_widget("half", {{"size", 1}});
    ASSERT_TRUE(eventually([&] { return calls.count("second half") >= 1; }));
    first.stop();
  }
  first_operator = false;
  const Json kept = records(get("half"));
  ASSERT_TRUE(kept.is_object());
  EXPECT_THAT(kept.value("progress-first", ""), HasSubstr("\"success\":true"));
  EXPECT_THAT(kept.value("progress-second", ""), HasSubstr("\"retries\":"));
  EXPECT_TRUE(kept.contains("handling-configuration"));

  op::Operator second(client_, in_status());
  register_handlers(second);
  second.start();
  ASSERT_TRUE(eventually([&] { return at_rest_in_status(get("half")); }));
  EXPECT_EQ(calls.count("first half"), 1);
  patch_spec("half", {{"size", 2}});
  ASSERT_TRUE(eventually([&] { return calls.count("update half") == 1 && at_rest_in_status(get("half")); }));
  EXPECT_FALSE(has_sdk_annotations(get("half")));
}

TEST_F(OperatorRecordsTest, AStatusSchemaThatPrunesThemSendsTheRecordsToAnnotations) {
  client::Resource gizmos = install_gizmos();
  create_gizmo(gizmos, "g");

  std::atomic<int> calls{0};
  op::Operator operator_(client_, in_status());
  operator_.on_create(kGizmos, [&](op::Context& ctx) {
    ++calls;
    return Json{{"size", ctx.spec()["size"]}};
  });
  operator_.start();
  ASSERT_TRUE(eventually([&] { return at_rest(gizmos.get("g")); }));
  EXPECT_LE(calls.load(), 2);  // once more at most, after the records were lost
  EXPECT_EQ(gizmos.get("g")["status"]["create"], (Json{{"size", 1}}));
  const auto lines = log();
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& line) {
    return line.find("was pruned") != std::string::npos;
  }));
  const int settled = calls.load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(calls.load(), settled);
}

// The default: status where the schema keeps it, annotations where it does not, found out by a
// dry run before any handler runs.
TEST_F(OperatorRecordsTest, AutoKeepsThemInTheStatusWhereTheSchemaAllowsAndElseInAnnotations) {
  client::Resource gizmos = install_gizmos();
  create_gizmo(gizmos, "g");
  create_widget("w", {{"size", 1}});
  Calls calls;
  op::OperatorOptions automatic = options();
  automatic.records = op::Records::Auto;
  op::Operator operator_(client_, automatic);
  operator_.on_create(kGizmos, [&](op::Context& ctx) { calls.add("gizmo " + ctx.name()); });
  operator_.on_create(kWidgets, [&](op::Context& ctx) { calls.add("widget " + ctx.name()); });
  operator_.start();
  ASSERT_TRUE(eventually([&] { return at_rest(gizmos.get("g")) && at_rest_in_status(get("w")); }));
  EXPECT_FALSE(has_sdk_annotations(get("w")));
  EXPECT_TRUE(records(gizmos.get("g")).is_null());
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(calls.all(), ::testing::UnorderedElementsAre("gizmo g", "widget w"));
}

// Records written in annotations (another setting, an older operator) count as handled and move
// to the status with the next write.
TEST_F(OperatorRecordsTest, RecordsMoveWhenTheSettingChangesWithoutHandlersRunningAgain) {
  Calls calls;
  auto register_handlers = [&](op::Operator& operator_) {
    operator_.on_create(kWidgets, [&](op::Context& ctx) { calls.add("create " + ctx.name()); });
    operator_.on_update(kWidgets, [&](op::Context& ctx) { calls.add("update " + ctx.name()); });
  };
  create_widget("w", {{"size", 1}});
  {
    op::Operator annotating(client_, options());  // records in annotations
    register_handlers(annotating);
    annotating.start();
    ASSERT_TRUE(eventually([&] { return at_rest(get("w")); }));
  }
  op::Operator in_the_status(client_, in_status());
  register_handlers(in_the_status);
  in_the_status.start();
  patch_spec("w", {{"size", 2}});
  // The status is written before the annotations are removed (two requests, in the order that never
  // loses the records), so the object is briefly at rest in the status with the annotations still there.
  ASSERT_TRUE(eventually([&] {
    const Json object = get("w");
    return calls.count("update w") == 1 && at_rest_in_status(object) && !has_sdk_annotations(object);
  }));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(calls.all(), ElementsAre("create w", "update w"));
}

}  // namespace
}  // namespace riasc::operator_test
