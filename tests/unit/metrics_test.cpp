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

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.counter("c_total", "C.", {"path"}).with({"a\"b\\c\nd"}).increment();
  EXPECT_THAT(registry.expose(), HasSubstr("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace riasc::metrics
