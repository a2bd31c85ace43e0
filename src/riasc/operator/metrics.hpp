#pragma once

// Prometheus metrics of operators. One Metrics per registry, shared by all operators of a
// process (each series carries the operator's name): a registry holds each metric name once.
// Where controller-runtime has a metric for the same thing, its name and labels are used, so
// that existing dashboards and alerts work.

#include <cstdint>
#include <functional>
#include <memory>

#include "riasc/core/metrics.hpp"

namespace riasc::op {

struct Metrics {
  explicit Metrics(metrics::Registry& registry);

  // {operator, resource, handler, outcome}: outcome success, retry or failure.
  metrics::Family<metrics::Counter>& handler_calls;
  // {operator, resource, handler}
  metrics::Family<metrics::Histogram>& handler_seconds;
  // {operator, resource}: reconciles that threw (API errors) and were queued again.
  metrics::Family<metrics::Counter>& reconcile_errors;
  // {operator}: keys ready and waiting for a worker.
  metrics::Family<metrics::Gauge>& queue_depth;
  // {operator, resource}: daemon threads running.
  metrics::Family<metrics::Gauge>& daemons;
  // {operator, resource}: watches started again after the first (ended, dead or failed).
  metrics::Family<metrics::Counter>& watch_restarts;

  // controller-runtime's: controller is the operator's name.
  metrics::Family<metrics::Counter>& reconcile_total;         // {controller, result}: success, error
  metrics::Family<metrics::Counter>& reconcile_errors_total;  // {controller}
  metrics::Family<metrics::Histogram>& reconcile_time;        // {controller}
  metrics::Family<metrics::Gauge>& workqueue_depth;           // {name}
  metrics::Family<metrics::Gauge>& leader_status;             // {name}: the lease; 1 while leading

  // Readings taken before each exposition (queue depths, informer counters) by sources that may
  // go away before the registry does; remove_reader() waits for a reading in progress.
  std::uint64_t add_reader(std::function<void()> read);
  void remove_reader(std::uint64_t id);

 private:
  struct Readers;
  std::shared_ptr<Readers> readers_;
};

}  // namespace riasc::op
