#pragma once

// Prometheus metrics of operators. One Metrics per registry, shared by all operators of a
// process (each series carries the operator's name): a registry holds each metric name once.

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
};

}  // namespace riasc::op
