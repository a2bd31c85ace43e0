// Figures for the store under the API server (issue 3's targets are for the whole server; these
// are the store's share): creates/s with 8 concurrent writers, gets/s, listing 10k objects, watch
// delivery latency to 1,000 watchers, and the resident memory with 100k small objects.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "riasc/store/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using riasc::store::Store;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// A Pod-sized JSON document (about 600 bytes), as the API server will store it.
std::string object(int i) {
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{}","namespace":"bench",)"
      R"("labels":{{"app":"bench","shard":"{}"}},"annotations":{{"note":"{}"}}}},"data":{{"key":"{}"}}}})",
      i, i % 16, std::string(300, 'a'), std::string(200, 'b'));
}

void run(const std::filesystem::path& directory, bool fsync) {
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  riasc::store::Options options;
  options.path = directory / "state.db";
  options.fsync = fsync;
  auto store = Store::open(options);
  fmt::print("-- fsync={}\n", fsync);

  constexpr int kWriters = 8;
  const int kCreates = fsync ? 2000 : 20000;
  auto start = Clock::now();
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kCreates; i += kWriters)
        store->create(fmt::format("/configmaps/bench/cm-{:06}", i), object(i));
    });
  }
  for (auto& thread : writers) thread.join();
  fmt::print("creates/s (8 writers): {:.0f}\n", kCreates / seconds_since(start));
  if (fsync) return;

  constexpr int kGets = 1'000'000;
  start = Clock::now();
  std::vector<std::thread> readers;
  std::atomic<long> found{0};
  for (int t = 0; t < kWriters; ++t) {
    readers.emplace_back([&, t] {
      long hits = 0;
      for (int i = t; i < kGets; i += kWriters)
        hits += store->get(fmt::format("/configmaps/bench/cm-{:06}", i % kCreates)).has_value();
      found += hits;
    });
  }
  for (auto& thread : readers) thread.join();
  fmt::print("gets/s (8 readers): {:.0f} ({} found)\n", kGets / seconds_since(start), found.load());

  std::vector<double> list_ms;
  for (int i = 0; i < 20; ++i) {
    start = Clock::now();
    auto page = store->list("/configmaps/bench/", 10000);
    list_ms.push_back(seconds_since(start) * 1000);
    if (page.records.size() != 10000) fmt::print("unexpected list size {}\n", page.records.size());
  }
  std::sort(list_ms.begin(), list_ms.end());
  fmt::print("list of 10k records: median {:.2f} ms\n", list_ms[list_ms.size() / 2]);

  // 1,000 watchers, each on its own thread's wait(); latency from a write's return to delivery.
  constexpr int kWatchers = 1000;
  constexpr int kEvents = 200;
  std::vector<std::shared_ptr<riasc::store::Watch>> watches;
  for (int w = 0; w < kWatchers; ++w) watches.push_back(store->watch("/configmaps/", 0));
  std::vector<double> latencies_us;
  std::mutex mutex;
  std::atomic<int> done{0};
  std::vector<Clock::time_point> written(kEvents + 1);
  std::vector<std::thread> watchers;
  for (int w = 0; w < kWatchers; ++w) {
    watchers.emplace_back([&, w] {
      std::vector<riasc::store::Event> events;
      int seen = 0;
      std::vector<double> mine;
      while (seen < kEvents) {
        events.clear();
        watches[static_cast<std::size_t>(w)]->wait(events, std::chrono::milliseconds(100));
        auto now = Clock::now();
        for (const auto& event : events) {
          int index = std::stoi(event.record.key.substr(event.record.key.rfind('-') + 1));
          mine.push_back(
              std::chrono::duration<double, std::micro>(now - written[static_cast<std::size_t>(index)])
                  .count());
          ++seen;
        }
      }
      std::lock_guard lock(mutex);
      latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
      ++done;
    });
  }
  for (int i = 1; i <= kEvents; ++i) {
    written[static_cast<std::size_t>(i)] = Clock::now();
    store->create(fmt::format("/configmaps/watch/w-{}", i), object(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& thread : watchers) thread.join();
  std::sort(latencies_us.begin(), latencies_us.end());
  fmt::print("watch delivery, {} watchers: p50 {:.0f} us, p99 {:.0f} us (from write start, incl. commit)\n",
             kWatchers, latencies_us[latencies_us.size() / 2], latencies_us[latencies_us.size() * 99 / 100]);
  watches.clear();

  for (int i = kCreates; i < 100000; i += 1)
    store->create(fmt::format("/configmaps/bench/cm-{:06}", i), object(i));
  fmt::print("RSS with 100k objects of ~600 bytes: {} MiB\n", rss_kib() / 1024);
  store->compact(store->revision());
  fmt::print("database after compaction: {:.1f} MiB\n",
             static_cast<double>(std::filesystem::file_size(options.path)) / (1024.0 * 1024.0));
}

}  // namespace

int main() {
  const auto directory =
      std::filesystem::temp_directory_path() / fmt::format("riasc-store-bench-{}", ::getpid());
  fmt::print("RSS at start: {} MiB\n", rss_kib() / 1024);
  run(directory, false);
  run(directory, true);
  std::filesystem::remove_all(directory);
}
