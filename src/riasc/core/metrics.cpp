#include "riasc/core/metrics.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace riasc::metrics {

namespace {

// Label values escape backslash, double quote and newline; help texts backslash and newline.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  return fmt::format("{}", value);
}

std::string labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], escape(values[i], true));
  }
  if (!extra_name.empty()) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  return out.empty() ? out : "{" + out + "}";
}

template <typename Metric>
void header(std::string& out, const Family<Metric>& family, std::string_view type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name(), escape(family.help(), false),
                     family.name(), type);
}

// Resident memory, CPU time and open files of this process, from /proc.
void read_process(Gauge& resident, Counter& cpu, Gauge& open_fds) {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident_pages = 0;
  if (statm >> pages >> resident_pages)
    resident.set(static_cast<double>(resident_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command (which may hold spaces) start after the last ')'.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    double user = 0;
    double system = 0;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14) user = std::stod(field);
      if (i == 15) {
        system = std::stod(field);
        break;
      }
    }
    cpu.set_total((user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK)));
  }
  std::error_code error;
  std::size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  open_fds.set(static_cast<double>(count));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1)) {
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
}

void Histogram::observe(double value) {
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::set_totals(const std::vector<std::uint64_t>& cumulative, std::uint64_t count, double sum) {
  std::uint64_t below = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    // Counts never fall from one bound to the next, whatever the reading says.
    const std::uint64_t running =
        std::max(i < upper_bounds_.size() && i < cumulative.size() ? cumulative[i] : count, below);
    buckets_[i].store(running - below, std::memory_order_relaxed);
    below = running;
  }
  sum_.store(sum, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.upper_bounds.push_back(INFINITY);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Registry() {
  auto& resident = gauge("process_resident_memory_bytes", "Resident memory size in bytes.").with({});
  auto& cpu =
      counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").with({});
  auto& open_fds = gauge("process_open_fds", "Number of open file descriptors.").with({});
  const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
      .with({})
      .set(start);
  on_collect([&resident, &cpu, &open_fds] { read_process(resident, cpu, open_fds); });
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  counters_.push_back(std::make_unique<Family<Counter>>(
      std::move(name), std::move(help), std::move(label_names), [] { return std::make_unique<Counter>(); }));
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names),
                                                    [] { return std::make_unique<Gauge>(); }));
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); }));
  return *histograms_.back();
}

void Registry::on_collect(std::function<void()> refresh) {
  std::lock_guard lock(mutex_);
  refreshers_.push_back(std::move(refresh));
}

std::string Registry::expose() {
  std::lock_guard lock(mutex_);
  for (const auto& refresh : refreshers_) refresh();
  std::string out;
  for (const auto& family : counters_) {
    header(out, *family, "counter");
    family->each([&](const std::vector<std::string>& values, const Counter& counter) {
      out += fmt::format("{}{} {}\n", family->name(), labels(family->label_names(), values),
                         number(counter.value()));
    });
  }
  for (const auto& family : gauges_) {
    header(out, *family, "gauge");
    family->each([&](const std::vector<std::string>& values, const Gauge& gauge) {
      out += fmt::format("{}{} {}\n", family->name(), labels(family->label_names(), values),
                         number(gauge.value()));
    });
  }
  for (const auto& family : histograms_) {
    header(out, *family, "histogram");
    family->each([&](const std::vector<std::string>& values, const Histogram& histogram) {
      auto snapshot = histogram.snapshot();
      for (std::size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
        out += fmt::format("{}_bucket{} {}\n", family->name(),
                           labels(family->label_names(), values, "le", number(snapshot.upper_bounds[i])),
                           snapshot.cumulative[i]);
      }
      out += fmt::format("{}_sum{} {}\n", family->name(), labels(family->label_names(), values),
                         number(snapshot.sum));
      out += fmt::format("{}_count{} {}\n", family->name(), labels(family->label_names(), values),
                         snapshot.count);
    });
  }
  return out;
}

}  // namespace riasc::metrics
