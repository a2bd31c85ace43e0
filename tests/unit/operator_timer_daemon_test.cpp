// The operator SDK's timers and daemons against the real embedded API server: timers keep their
// interval, initial delay and idle time and stop with the object; daemons start per object and
// stop (their stop token) when the object is deleted, before its delete handlers, or when the
// operator stops.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "operator_test_support.hpp"

namespace riasc::operator_test {
namespace {

using client_test::eventually;
using ::testing::ElementsAre;

class OperatorTimerDaemonTest : public OperatorTest {};

TEST_F(OperatorTimerDaemonTest, TimerRunsAtItsIntervalWritesStatusAndStopsWithTheObject) {
  Calls calls;
  op::Operator operator_(client_, options());
  operator_.timer(kWidgets,
                  [&](op::Context& ctx) {
                    calls.add("tick " + ctx.name());
                    return Json(calls.count("tick " + ctx.name()));
                  },
                  {.id = "tick", .interval = 100ms, .initial_delay = 300ms});
  operator_.start();
  const auto created = std::chrono::steady_clock::now();
  create_widget("a");
  ASSERT_TRUE(eventually([&] { return calls.count("tick a") >= 3; }));
  EXPECT_GE(calls.time_of("tick a", 0) - created, 300ms);
  EXPECT_GE(calls.time_of("tick a", 2) - calls.time_of("tick a", 1), 100ms);
  EXPECT_TRUE(eventually([&] { return status("a").value("tick", 0) >= 3; }));

  widgets().remove("a");
  ASSERT_TRUE(eventually([&] { return gone("a"); }));
  const long ticks = calls.count("tick a");
  std::this_thread::sleep_for(400ms);           // four intervals: a tick would have come by now
  EXPECT_LE(calls.count("tick a"), ticks + 1);  // at most one that was running at the delete
}

TEST_F(OperatorTimerDaemonTest, IdleTimerWaitsUntilTheObjectIsUnchanged) {
  Calls calls;
  op::Operator operator_(client_, options());
  operator_.timer(kWidgets, [&](op::Context& ctx) { calls.add("idle " + ctx.spec().value("v", "")); },
                  {.id = "idle", .interval = 50ms, .idle = 500ms});
  operator_.start();
  create_widget("a", {{"v", "1"}});
  const auto created = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return calls.count("idle 1") >= 1; }));
  EXPECT_GE(calls.time_of("idle 1", 0) - created, 500ms);

  patch_spec("a", {{"v", "2"}});
  const auto changed = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return calls.count("idle 2") >= 1; }));
  // The change reached the operator after `changed`; its idle time counts from then.
  EXPECT_GE(calls.time_of("idle 2", 0) - changed, 450ms);
}

TEST_F(OperatorTimerDaemonTest, DaemonRunsPerObjectAndStopsOnDeleteBeforeTheDeleteHandler) {
  Calls calls;
  op::Operator operator_(client_, options());
  operator_.daemon(kWidgets, [&](op::Context& ctx) {
    calls.add("start " + ctx.name());
    while (ctx.sleep_for(20ms)) ctx.memo()["ticks"] = ctx.memo().value("ticks", 0) + 1;
    calls.add("stop " + ctx.name());
  });
  operator_.on_delete(kWidgets, [&](op::Context& ctx) { calls.add("delete " + ctx.name()); });
  operator_.start();
  create_widget("a");
  create_widget("b");
  ASSERT_TRUE(eventually([&] { return calls.count("start a") == 1 && calls.count("start b") == 1; }));

  widgets().remove("a");
  ASSERT_TRUE(eventually([&] { return gone("a"); }));
  std::vector<std::string> about_a;
  for (const std::string& call : calls.all())
    if (call.ends_with(" a")) about_a.push_back(call);
  EXPECT_THAT(about_a, ElementsAre("start a", "stop a", "delete a"));
  EXPECT_EQ(calls.count("stop b"), 0);

  operator_.stop();  // waits for the daemons
  EXPECT_EQ(calls.count("stop b"), 1);
  EXPECT_EQ(calls.count("start b"), 1);
}

TEST_F(OperatorTimerDaemonTest, DaemonIsRestartedAfterAnErrorAndNotAfterItReturns) {
  Calls calls;
  op::Operator operator_(client_, options());
  operator_.daemon(kWidgets,
                   [&](op::Context& ctx) {
                     calls.add("run");
                     if (ctx.retry() == 0) throw op::TemporaryError("device busy", 100ms);
                     if (ctx.retry() == 1) throw std::runtime_error("unexpected");
                     return Json("finished");
                   },
                   {.id = "worker", .backoff = 50ms});
  operator_.start();
  create_widget("a");
  ASSERT_TRUE(eventually([&] { return status("a").value("worker", "") == "finished"; }));
  EXPECT_EQ(calls.count("run"), 3);
  EXPECT_GE(calls.time_of("run", 1) - calls.time_of("run", 0), 100ms);
  EXPECT_GE(calls.time_of("run", 2) - calls.time_of("run", 1), 50ms);
  EXPECT_TRUE(has_event("a", "Daemon worker failed, restarting in 0.1 s: device busy"));

  patch_spec("a", {{"size", 1}});  // a change does not start a finished daemon again
  ASSERT_TRUE(eventually([&] { return get("a")["spec"].value("size", 0) == 1; }));
  operator_.stop();
  EXPECT_EQ(calls.count("run"), 3);
}

TEST_F(OperatorTimerDaemonTest, MetricsCountHandlerCallsAndRunningDaemons) {
  metrics::Registry registry;
  op::Metrics metrics(registry);
  op::OperatorOptions with_metrics = options();
  with_metrics.metrics = &metrics;
  op::Operator operator_(client_, with_metrics);
  operator_.on_create(kWidgets, [](op::Context& ctx) {
    if (ctx.retry() == 0) throw op::TemporaryError("later", 50ms);
  });
  operator_.daemon(kWidgets, [](op::Context& ctx) { ctx.sleep_for(std::chrono::hours(1)); });
  operator_.start();
  create_widget("a");
  const std::string labels = R"(operator="test",resource="widgets.example.com")";
  auto exposed = [&](const std::string& line) {
    return registry.expose().find(line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(eventually([&] {
    return exposed("riasc_operator_handler_calls_total{" + labels +
                   R"(,handler="create",outcome="success"} 1)");
  }));
  EXPECT_TRUE(
      exposed("riasc_operator_handler_calls_total{" + labels + R"(,handler="create",outcome="retry"} 1)"));
  EXPECT_TRUE(exposed("riasc_operator_handler_duration_seconds_count{" + labels + R"(,handler="create"} 2)"));
  EXPECT_TRUE(eventually([&] { return exposed("riasc_operator_daemons{" + labels + "} 1"); }));
  operator_.stop();
  EXPECT_TRUE(exposed("riasc_operator_daemons{" + labels + "} 0"));
}

}  // namespace
}  // namespace riasc::operator_test
