// Lease-based leader election against the real embedded API server, in process: one of two
// candidates leads; the other takes over when the leader stops renewing (after the lease
// duration) or releases (at once); leaseTransitions counts handovers; an operator with leader
// election runs its handlers only while it leads. And the probe server (/healthz, /metrics)
// scraped with a real HTTPS client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "operator_test_support.hpp"
#include "riasc/http/client.hpp"
#include "riasc/operator/leader_election.hpp"
#include "riasc/operator/probe_server.hpp"

namespace riasc::operator_test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// Polls `condition` for up to `limit`; how long it took, or nothing.
template <class Condition>
std::optional<Clock::duration> within(std::chrono::milliseconds limit, Condition condition) {
  const auto began = Clock::now();
  while (Clock::now() - began < limit) {
    if (condition()) return Clock::now() - began;
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

class LeaderElectionTest : public OperatorTest {
 protected:
  // For tests about who leads rather than about expiry: a leader on a busy machine must not lose
  // a 1 s lease to one slow renewal.
  static constexpr std::chrono::milliseconds kSteady{3000};

  // A 1 s lease renewed every 200 ms, as the brief's "short durations".
  op::LeaderElectionOptions election(const std::string& identity, std::chrono::milliseconds lease = 1000ms) {
    op::LeaderElectionOptions result;
    result.lease_name = "leader";
    result.lease_namespace = namespace_;
    result.identity = identity;
    result.lease_duration = lease;
    result.renew_deadline = lease * 7 / 10;
    result.retry_period = 200ms;
    result.log = options().log;
    return result;
  }
  std::unique_ptr<op::LeaderElector> candidate(const std::string& identity,
                                               std::chrono::milliseconds lease = 1000ms) {
    return std::make_unique<op::LeaderElector>(client_, election(identity, lease));
  }
  Json lease_spec() {
    return client_.resource(client::GroupVersionResource{"coordination.k8s.io", "v1", "leases"}, namespace_)
        .get("leader")["spec"];
  }
  std::string holder() { return lease_spec().value("holderIdentity", ""); }
};

TEST_F(LeaderElectionTest, OneOfTwoCandidatesLeads) {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  auto make = [&](const std::string& identity) {
    op::LeaderElectionOptions callbacks = election(identity, kSteady);
    callbacks.on_started_leading = [&] { ++started; };
    callbacks.on_stopped_leading = [&] { ++stopped; };
    return std::make_unique<op::LeaderElector>(client_, callbacks);
  };
  auto a = make("a");
  auto b = make("b");
  a->start();
  b->start();
  ASSERT_TRUE(within(5s, [&] { return a->is_leader() || b->is_leader(); }));
  // Through several renewals of a 1 s lease, never both, and the Lease names the one.
  const auto watched = within(2500ms, [&] {
    EXPECT_FALSE(a->is_leader() && b->is_leader());
    return false;
  });
  EXPECT_FALSE(watched);
  op::LeaderElector& leader = a->is_leader() ? *a : *b;
  EXPECT_EQ(holder(), leader.identity());
  EXPECT_EQ(started, 1);
  EXPECT_EQ(lease_spec()["leaseTransitions"], 0);
  EXPECT_EQ(lease_spec()["leaseDurationSeconds"], 3);
  leader.stop();
  EXPECT_EQ(stopped, 1);
  EXPECT_TRUE(leader.finished());
}

TEST_F(LeaderElectionTest, TakesOverWhenTheLeaderStopsRenewing) {
  auto a = candidate("a");
  a->start();
  ASSERT_TRUE(within(5s, [&] { return a->is_leader(); }));
  auto b = candidate("b");
  b->start();
  ASSERT_TRUE(within(2s, [&] { return holder() == "a" && !b->is_leader(); }));

  a->abandon();  // as a process that died: no release
  EXPECT_EQ(holder(), "a");
  const auto took = within(5s, [&] { return b->is_leader(); });
  ASSERT_TRUE(took);
  // Not before the lease expired (less one renewal period: b times it from the last change it
  // saw), and within the lease duration plus two retry periods and a margin for a busy machine.
  EXPECT_GE(*took, 750ms);
  EXPECT_LE(*took, 2500ms);
  EXPECT_EQ(holder(), "b");
  EXPECT_EQ(lease_spec()["leaseTransitions"], 1);
}

TEST_F(LeaderElectionTest, AReleasedLeaseIsTakenOverAtOnce) {
  // A long lease, so that taking over at once is told apart from waiting for expiry.
  auto a = candidate("a", 5000ms);
  a->start();
  ASSERT_TRUE(within(5s, [&] { return a->is_leader(); }));
  auto b = candidate("b", 5000ms);
  b->start();
  ASSERT_TRUE(within(2s, [&] { return holder() == "a"; }));

  a->stop();
  EXPECT_FALSE(a->is_leader());
  const auto took = within(5s, [&] { return b->is_leader(); });
  ASSERT_TRUE(took);
  EXPECT_LE(*took, 2500ms);
  EXPECT_EQ(holder(), "b");
}

TEST_F(LeaderElectionTest, LeaseTransitionsCountHandovers) {
  auto a = candidate("a", kSteady);
  a->start();
  ASSERT_TRUE(within(5s, [&] { return a->is_leader(); }));
  const auto acquired = lease_spec()["acquireTime"].get<std::string>();
  auto b = candidate("b", kSteady);
  b->start();
  a->stop();
  ASSERT_TRUE(within(5s, [&] { return b->is_leader(); }));
  auto c = candidate("c", kSteady);
  c->start();
  b->stop();
  ASSERT_TRUE(within(5s, [&] { return c->is_leader(); }));

  const Json spec = lease_spec();
  EXPECT_EQ(spec["holderIdentity"], "c");
  EXPECT_EQ(spec["leaseTransitions"], 2);
  EXPECT_NE(spec["acquireTime"], acquired);
  // metav1.MicroTime: six fraction digits, as Go parses them.
  EXPECT_THAT(spec["renewTime"].get<std::string>(), ::testing::MatchesRegex(R"(.*T.*\.[0-9]{6}Z)"));
  c->stop();
  EXPECT_EQ(holder(), "");
  EXPECT_EQ(lease_spec()["leaseTransitions"], 2);  // a release is no handover
}

TEST_F(LeaderElectionTest, OnlyTheLeadingOperatorRunsHandlers) {
  Calls calls;
  auto replica = [&](const std::string& identity) {
    op::OperatorOptions replica_options = options();
    replica_options.leader_election = election(identity, kSteady);
    auto operator_ = std::make_unique<op::Operator>(client_, replica_options);
    operator_->on_create(kWidgets,
                         [&calls, identity](op::Context& ctx) { calls.add(identity + " " + ctx.name()); });
    operator_->start();
    return operator_;
  };
  auto a = replica("a");
  auto b = replica("b");
  ASSERT_TRUE(within(5s, [&] { return a->is_leader() || b->is_leader(); }));
  op::Operator& first = a->is_leader() ? *a : *b;
  op::Operator& second = a->is_leader() ? *b : *a;
  const std::string first_id = &first == a.get() ? "a" : "b";
  const std::string second_id = first_id == "a" ? "b" : "a";
  EXPECT_TRUE(within(5s, [&] { return first.healthy(); }));
  EXPECT_TRUE(second.healthy());  // a standby replica is healthy

  create_widget("one");
  ASSERT_TRUE(within(5s, [&] { return calls.count(first_id + " one") == 1; }));
  first.stop();
  EXPECT_FALSE(first.healthy());  // a stopped replica is not
  ASSERT_TRUE(within(5s, [&] { return second.is_leader(); }));
  create_widget("two");
  ASSERT_TRUE(within(5s, [&] { return calls.count(second_id + " two") == 1; }));
  // The new leader resumes from the annotations: "one" is not handled again.
  ASSERT_TRUE(within(5s, [&] { return second.healthy(); }));
  EXPECT_EQ(calls.all().size(), 2U) << ::testing::PrintToString(calls.all());
}

TEST_F(LeaderElectionTest, AnOperatorThatLosesItsLeaseStopsAndTurnsUnhealthy) {
  Calls calls;
  op::OperatorOptions operator_options = options();
  operator_options.leader_election = election("a");
  op::Operator operator_(client_, operator_options);
  operator_.on_create(kWidgets, [&](op::Context& ctx) { calls.add("create " + ctx.name()); });
  operator_.start();
  ASSERT_TRUE(within(5s, [&] { return operator_.is_leader() && operator_.healthy(); }));

  // Another holder writes the Lease (as one whose clock saw it expire): renewals fail from now on.
  auto leases =
      client_.resource(client::GroupVersionResource{"coordination.k8s.io", "v1", "leases"}, namespace_);
  Json lease = leases.get("leader");
  lease["spec"]["holderIdentity"] = "intruder";
  lease["spec"]["leaseDurationSeconds"] = 60;
  (void)leases.update(lease);
  const auto lost = within(5s, [&] { return !operator_.is_leader() && !operator_.healthy(); });
  ASSERT_TRUE(lost);
  EXPECT_LE(*lost, 2000ms);  // the renew deadline (700 ms) and a renewal period, with a margin
  EXPECT_EQ(holder(), "intruder");
  create_widget("late");
  EXPECT_FALSE(within(500ms, [&] { return calls.count("create late") > 0; }));
}

class ProbeServerTest : public OperatorTest {
 protected:
  http::Response scrape(op::ProbeServer& probes, const std::string& path) {
    http::ClientOptions client_options;
    client_options.port = probes.port();
    client_options.ca_pem = probes.ca_pem();
    return http::Client(client_options).request("GET", path);
  }
  static op::ProbeServerOptions local(metrics::Registry* registry) {
    return {.host = "127.0.0.1", .port = 0, .registry = registry};
  }
};

TEST_F(ProbeServerTest, HealthzFollowsTheOperator) {
  op::Operator operator_(client_, options());
  operator_.on_create(kWidgets, [](op::Context&) {});
  op::ProbeServer probes(local(nullptr));
  probes.add(operator_);
  probes.start();

  http::Response before = scrape(probes, "/healthz");
  EXPECT_EQ(before.status, 500U);
  EXPECT_THAT(before.body, HasSubstr("[-]operator-test failed"));
  operator_.start();
  http::Response running = scrape(probes, "/healthz?verbose");
  EXPECT_EQ(running.status, 200U);
  EXPECT_EQ(running.body, "ok");
  EXPECT_EQ(scrape(probes, "/metrics").status, 404U);  // no registry
  operator_.stop();
  EXPECT_EQ(scrape(probes, "/healthz").status, 500U);
}

TEST_F(ProbeServerTest, MetricsUseControllerRuntimeNames) {
  metrics::Registry registry;
  op::Metrics metrics(registry);
  op::OperatorOptions operator_options = options();
  operator_options.metrics = &metrics;
  op::LeaderElectionOptions election;
  election.lease_name = "probe-leader";
  election.lease_namespace = namespace_;
  election.lease_duration = 1000ms;
  election.renew_deadline = 700ms;
  election.retry_period = 200ms;
  operator_options.leader_election = election;
  op::Operator operator_(client_, operator_options);
  operator_.on_create(kWidgets, [](op::Context&) {});
  op::ProbeServer probes(local(&registry));
  probes.add(operator_);
  probes.start();
  operator_.start();
  ASSERT_TRUE(within(5s, [&] { return operator_.is_leader() && operator_.healthy(); }));
  create_widget("a");

  std::string text;
  const bool scraped =
      within(5s, [&] {
        http::Response response = scrape(probes, "/metrics");
        EXPECT_EQ(response.status, 200U);
        text = response.body;
        // The handler's own progress annotation queues one more event, so the depth reaches 0 only
        // once that echo is handled too.
        return text.find(R"(controller_runtime_reconcile_total{controller="test",result="success"})") !=
                   std::string::npos &&
               text.find(R"(workqueue_depth{name="test"} 0)") != std::string::npos;
      }).has_value();
  ASSERT_TRUE(scraped) << text;
  EXPECT_THAT(text, HasSubstr("# TYPE controller_runtime_reconcile_time_seconds histogram"));
  EXPECT_THAT(text, HasSubstr(R"(controller_runtime_reconcile_time_seconds_count{controller="test"})"));
  EXPECT_THAT(text, HasSubstr(R"(leader_election_master_status{name="probe-leader"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(riasc_operator_watch_restarts_total{operator="test",resource="widgets.example.com"} 0)"));
  EXPECT_THAT(text, HasSubstr("# TYPE controller_runtime_reconcile_errors_total counter"));

  operator_.stop();
  EXPECT_THAT(scrape(probes, "/metrics").body,
              HasSubstr(R"(leader_election_master_status{name="probe-leader"} 0)"));
}

}  // namespace
}  // namespace riasc::operator_test
