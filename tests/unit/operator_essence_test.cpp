// The operator SDK's pure parts: what counts as a change, diffs, progress records and times.

#include "riasc/operator/essence.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "riasc/core/rfc3339.hpp"

namespace riasc::op::detail {
namespace {

using ::testing::ElementsAre;

TEST(OperatorEssenceTest, LeavesOutStatusOwnAnnotationsAndServerMetadata) {
  const Json object = Json::parse(R"({
    "apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": {"name": "a", "resourceVersion": "7", "finalizers": ["riasc.eu/x"], "labels": {"app": "web"},
                 "annotations": {"riasc.eu/progress-create": "{}", "note": "kept",
                                 "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {"size": 1}, "data": {"k": "v"}, "status": {"phase": "Ready", "other": 1}})");
  EXPECT_EQ(essence_of(object, "riasc.eu", {}), Json::parse(R"({
    "spec": {"size": 1}, "data": {"k": "v"},
    "metadata": {"labels": {"app": "web"}, "annotations": {"note": "kept"}}})"));
  // A status field a field handler watches is part of it.
  EXPECT_EQ(essence_of(object, "riasc.eu", {{"status", "phase"}})["status"], (Json{{"phase", "Ready"}}));
}

TEST(OperatorEssenceTest, DiffsLeafByLeafWhateverTheMemberOrder) {
  const Json old_value = Json::parse(R"({"spec": {"a": 1, "b": {"c": 2}, "gone": true}})");
  const Json new_value = Json::parse(R"({"spec": {"b": {"c": 3}, "a": 1, "new": [1]}})");
  std::vector<std::string> entries;
  for (const DiffEntry& entry : diff(old_value, new_value))
    entries.push_back(fmt::format("{} {} {}->{}", static_cast<int>(entry.op), fmt::join(entry.path, "."),
                                  entry.old_value.dump(), entry.new_value.dump()));
  EXPECT_THAT(entries, ElementsAre("1 spec.b.c 2->3", "2 spec.gone true->null", "0 spec.new null->[1]"));
  EXPECT_TRUE(same(Json::parse(R"({"a": 1, "b": 2})"), Json::parse(R"({"b": 2, "a": 1})")));
  EXPECT_TRUE(diff(Json::parse(R"({"a": 1, "b": 2})"), Json::parse(R"({"b": 2, "a": 1})")).empty());
  EXPECT_EQ(value_at(new_value, split_path("spec.b.c")), 3);
  EXPECT_TRUE(value_at(new_value, split_path("spec.a.x")).is_null());
}

TEST(OperatorEssenceTest, ProgressRecordsRoundTripAndToleratePoorValues) {
  Progress progress;
  progress.started = "2026-12-04T16:47:02.123Z";
  progress.retries = 2;
  progress.failure = true;
  progress.message = "bad";
  const Json annotations = {{"p", progress.dump()}, {"text", "not json"}, {"typed", R"({"retries": "x"})"}};
  const Progress read = Progress::parse(annotations, "p");
  EXPECT_EQ(read.started, progress.started);
  EXPECT_EQ(read.retries, 2);
  EXPECT_TRUE(read.failure && read.done());
  EXPECT_EQ(read.message, "bad");
  EXPECT_FALSE(Progress::parse(annotations, "text").done());
  EXPECT_EQ(Progress::parse(annotations, "typed").retries, 0);
  EXPECT_FALSE(Progress::parse(annotations, "missing").done());
}

TEST(OperatorEssenceTest, TimesRoundTripInMilliseconds) {
  const auto time = SystemClock::time_point(std::chrono::milliseconds(1796402822123));
  EXPECT_EQ(format_time(time), "2026-12-04T16:47:02.123Z");
  EXPECT_EQ(parse_rfc3339(format_time(time)), time);  // the records' times, read back
  EXPECT_EQ(format_micro_time(time), "2026-12-04T16:47:02.123000Z");
}

TEST(OperatorEssenceTest, ResourceVersionsCompareAsNumbersOnly) {
  auto with = [](const char* version) { return Json{{"metadata", {{"resourceVersion", version}}}}; };
  EXPECT_TRUE(newer(with("10"), with("9")));
  EXPECT_FALSE(newer(with("9"), with("10")));
  EXPECT_FALSE(newer(with("b"), with("a")));  // opaque: the cache wins
}

}  // namespace
}  // namespace riasc::op::detail
