#include "riasc/core/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace riasc::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, ExposesCountersGaugesAndHistogramsInTheTextFormat) {
  Registry registry;
  auto& requests = registry.counter("requests_total", "Requests served.", {"verb", "code"});
  requests.with({"GET", "200"}).increment();
  requests.with({"GET", "200"}).increment(2);
  requests.with({"POST", "409"}).increment();
  registry.gauge("watchers", "Open \"watches\"\nnow.").with({}).set(7);
  auto& latency = registry.histogram("latency_seconds", "Latency.", {"verb"}, {0.01, 0.1});
  latency.with({"GET"}).observe(0.005);
  latency.with({"GET"}).observe(0.01);
  latency.with({"GET"}).observe(0.5);
  const std::string text = registry.expose();
  EXPECT_THAT(text, HasSubstr("# HELP requests_total Requests served.\n# TYPE requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("requests_total{verb=\"GET\",code=\"200\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("requests_total{verb=\"POST\",code=\"409\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("# HELP watchers Open \"watches\"\\nnow.\n# TYPE watchers gauge\nwatchers 7\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{verb=\"GET\",le=\"0.01\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{verb=\"GET\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_sum{verb=\"GET\"} 0.515\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_count{verb=\"GET\"} 3\n"));
}

TEST(MetricsTest, ProcessMetricsAreReadAtCollection) {
  Registry registry;
  const std::string text = registry.expose();
  EXPECT_THAT(text, ::testing::ContainsRegex("process_resident_memory_bytes [1-9][0-9]+\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex("process_open_fds [1-9][0-9]*\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
}

TEST(MetricsTest, AHistogramKeptElsewhereIsExposedFromItsReading) {
  Registry registry;
  auto& lateness = registry.histogram("late_seconds", "Late.", {"band"}, {0.001, 0.01});
  lateness.with({"a"}).set_totals({4, 9}, 10, 0.25);
  lateness.with({"b"}).set_totals({5, 3}, 2, 0.0);  // an inconsistent reading never counts down
  const std::string text = registry.expose();
  EXPECT_THAT(text, HasSubstr("late_seconds_bucket{band=\"a\",le=\"0.001\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_bucket{band=\"a\",le=\"0.01\"} 9\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_bucket{band=\"a\",le=\"+Inf\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_sum{band=\"a\"} 0.25\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_count{band=\"a\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_bucket{band=\"b\",le=\"0.01\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("late_seconds_count{band=\"b\"} 5\n"));
}

TEST(MetricsTest, SeriesOfThingsThatAreGoneCanBeDropped) {
  Registry registry;
  auto& queued = registry.gauge("queued", "Queued.", {"band"});
  queued.with({"kept"}).set(1);
  queued.with({"gone"}).set(2);
  queued.retain([](const std::vector<std::string>& labels) { return labels[0] == "kept"; });
  const std::string text = registry.expose();
  EXPECT_THAT(text, HasSubstr("queued{band=\"kept\"} 1\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("gone")));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.counter("c_total", "C.", {"path"}).with({"a\"b\\c\nd"}).increment();
  EXPECT_THAT(registry.expose(), HasSubstr("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace riasc::metrics
