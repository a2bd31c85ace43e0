#include "riasc/operator/metrics.hpp"

#include <map>
#include <mutex>

namespace riasc::op {

struct Metrics::Readers {
  std::mutex mutex;
  std::uint64_t next = 0;
  std::map<std::uint64_t, std::function<void()>> read;
};

Metrics::Metrics(metrics::Registry& registry)
    : handler_calls(registry.counter("riasc_operator_handler_calls_total", "Handler calls by outcome.",
                                     {"operator", "resource", "handler", "outcome"})),
      handler_seconds(registry.histogram("riasc_operator_handler_duration_seconds", "Time handlers take.",
                                         {"operator", "resource", "handler"}, metrics::latency_buckets())),
      reconcile_errors(registry.counter("riasc_operator_reconcile_errors_total",
                                        "Reconciles that failed (API errors) and were queued again.",
                                        {"operator", "resource"})),
      queue_depth(
          registry.gauge("riasc_operator_workqueue_depth", "Objects waiting for a worker.", {"operator"})),
      daemons(registry.gauge("riasc_operator_daemons", "Daemon threads running.", {"operator", "resource"})),
      watch_restarts(registry.counter("riasc_operator_watch_restarts_total",
                                      "Watches started again after the first (ended, dead or failed).",
                                      {"operator", "resource"})),
      reconcile_total(registry.counter("controller_runtime_reconcile_total",
                                       "Total number of reconciliations per controller.",
                                       {"controller", "result"})),
      reconcile_errors_total(registry.counter("controller_runtime_reconcile_errors_total",
                                              "Total number of reconciliation errors per controller.",
                                              {"controller"})),
      reconcile_time(registry.histogram("controller_runtime_reconcile_time_seconds",
                                        "Length of time per reconciliation per controller.", {"controller"},
                                        metrics::latency_buckets())),
      workqueue_depth(registry.gauge("workqueue_depth", "Current depth of workqueue.", {"name"})),
      leader_status(registry.gauge("leader_election_master_status",
                                   "Gauge of if the reporting system is master of the relevant lease, 0 "
                                   "indicates backup, 1 indicates master.",
                                   {"name"})),
      readers_(std::make_shared<Readers>()) {
  registry.on_collect([readers = readers_] {
    std::lock_guard lock(readers->mutex);
    for (auto& [id, read] : readers->read) read();
  });
}

std::uint64_t Metrics::add_reader(std::function<void()> read) {
  std::lock_guard lock(readers_->mutex);
  readers_->read.emplace(++readers_->next, std::move(read));
  return readers_->next;
}

void Metrics::remove_reader(std::uint64_t id) {
  std::lock_guard lock(readers_->mutex);
  readers_->read.erase(id);
}

}  // namespace riasc::op
