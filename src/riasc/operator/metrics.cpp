#include "riasc/operator/metrics.hpp"

namespace riasc::op {

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
      daemons(registry.gauge("riasc_operator_daemons", "Daemon threads running.", {"operator", "resource"})) {
}

}  // namespace riasc::op
