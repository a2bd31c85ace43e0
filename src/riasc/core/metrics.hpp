#pragma once

// Prometheus metrics for every RIasC daemon: counters, gauges and histograms with labels, and
// the text exposition format (version 0.0.4) that /metrics serves. Debian packages no C++
// Prometheus client, so this is the small part of one that the daemons need
// (docs/dependencies.md). Updates are lock-free; only creating a new label combination locks.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace riasc::metrics {

class Counter {
 public:
  void increment(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  // For totals the system counts (CPU time): takes its reading.
  void set_total(double total) { value_.store(total, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // For a histogram another process keeps (the engine's): takes its reading, the cumulative count
  // at each upper bound (as many as the bounds), the count of all and the sum.
  void set_totals(const std::vector<std::uint64_t>& cumulative, std::uint64_t count, double sum);
  // Cumulative counts per upper bound (the last is +Inf), the sum and the count.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, plus +Inf
  std::atomic<double> sum_{0};
};

// Buckets for request latencies in seconds: 1 ms to 10 s.
std::vector<double> latency_buckets();

// One metric name with its label names; each combination of label values is one series.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The series for these label values (as many as label names), created on first use.
  Metric& with(const std::vector<std::string>& label_values) {
    std::lock_guard lock(mutex_);
    auto& slot = series_[label_values];
    if (!slot) slot = make_();
    return *slot;
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Drops every series whose label values `keep` rejects: those of things that are gone.
  template <typename Keep>
  void retain(Keep keep) {
    std::lock_guard lock(mutex_);
    std::erase_if(series_, [&](const auto& entry) { return !keep(entry.first); });
  }
  template <typename Visit>
  void each(Visit visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [labels, metric] : series_) visit(labels, *metric);
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

class Registry {
 public:
  Registry();  // with the process_* metrics every Prometheus client exports
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                               std::vector<double> upper_bounds);
  // Runs before each exposition, to set gauges whose value is read rather than counted.
  void on_collect(std::function<void()> refresh);

  // The text exposition format; Content-Type kContentType.
  [[nodiscard]] std::string expose();
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void()>> refreshers_;
};

}  // namespace riasc::metrics
