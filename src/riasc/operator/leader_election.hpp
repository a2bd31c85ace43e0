#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: a candidate
// takes the Lease when it is free or its holder has not renewed it for leaseDurationSeconds (by
// the candidate's own clock: it times how long the record stays unchanged, so clocks need not
// agree), the leader renews it every retry_period and gives up when no renewal succeeded within
// renew_deadline. Every write is an update with the resourceVersion read, so of two candidates
// only one can win. So that several replicas of an operator run its handlers once.
//
//   op::LeaderElector elector(api, {.lease_name = "chroma", .lease_namespace = "riasc-system",
//                                   .on_started_leading = [&] { run(); },
//                                   .on_stopped_leading = [&] { halt(); }});
//   elector.start();

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "riasc/client/client.hpp"
#include "riasc/operator/context.hpp"
#include "riasc/operator/metrics.hpp"

namespace riasc::op {

struct LeaderElectionOptions {
  std::string lease_name;
  std::string lease_namespace = "default";
  std::string identity{};  // "": host name and a random suffix, unique per elector
  // client-go's defaults; lease_duration > renew_deadline > retry_period.
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  // On its own thread, so that a slow start (informers filling) does not hold back renewal.
  std::function<void()> on_started_leading{};
  // When leadership ends (lost or stop()); after on_started_leading has returned, and before the
  // Lease is released, so that the next leader never overlaps this one's work.
  std::function<void()> on_stopped_leading{};
  // Each time another holder is seen (or this one), with its identity.
  std::function<void(const std::string& identity)> on_new_leader{};
  LogSink log = stderr_sink();
  Metrics* metrics = nullptr;  // leader_election_master_status{name=lease_name}
};

class LeaderElector {
 public:
  LeaderElector(client::Client& client, LeaderElectionOptions options);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns on a thread of its own until leadership is won and then lost, or stop().
  // A lost leadership is final, as in client-go: the process (or a new elector) starts over.
  void start();
  // Ends leadership and releases the Lease (holderIdentity cleared), so that another candidate
  // takes it at once rather than after the lease duration.
  void stop();
  // As a crashed process: stops renewing without releasing; the others wait for expiry.
  void abandon();

  [[nodiscard]] bool is_leader() const;
  // The election is over for this elector: leadership lost, or stop()/abandon() called.
  [[nodiscard]] bool finished() const;
  [[nodiscard]] const std::string& identity() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::op
