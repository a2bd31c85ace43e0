// The work queue. Timing tests only assert lower bounds precisely (a condition variable never
// wakes early) and generous upper bounds, because the test machine is often busy.

#include "riasc/client/work_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace riasc::client {
namespace {

using namespace std::chrono_literals;

constexpr auto kGenerous = 10s;

TEST(WorkQueueTest, KeyIsQueuedOnceHoweverOftenAdded) {
  WorkQueue queue;
  queue.add("a");
  queue.add("b");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.depth(), 2U);
  EXPECT_EQ(queue.adds(), 4U);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.get(), "b");
  EXPECT_EQ(queue.depth(), 0U);
  EXPECT_EQ(queue.in_progress(), 2U);
  queue.done("a");
  queue.done("b");
  EXPECT_EQ(queue.in_progress(), 0U);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsHandedOutAgainOnlyAfterDone) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.add("a");
  queue.add("b");
  // "a" is not handed to a second worker while the first has it.
  EXPECT_EQ(queue.depth(), 1U);
  EXPECT_EQ(queue.get(), "b");
  EXPECT_EQ(queue.depth(), 0U);
  queue.done("a");
  EXPECT_EQ(queue.depth(), 1U);
  EXPECT_EQ(queue.get(), "a");
  queue.done("a");
  queue.done("b");
  EXPECT_EQ(queue.depth(), 0U);
}

TEST(WorkQueueTest, WorkersNeverProcessOneKeyConcurrentlyAndSeeTheLastAdd) {
  WorkQueue queue;
  std::atomic<int> active{0};
  std::atomic<bool> overlapped{false};
  std::atomic<int> version{0};  // bumped before each add: the last add must be processed after it
  std::atomic<int> seen{0};
  std::thread runner([&] {
    queue.run(4, [&](const std::string&) {
      int observed = version.load();
      if (active.fetch_add(1) != 0) overlapped = true;
      std::this_thread::sleep_for(1ms);
      active.fetch_sub(1);
      seen = observed;
    });
  });
  std::vector<std::thread> adders;
  for (int t = 0; t < 3; ++t) {
    adders.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        version.fetch_add(1);
        queue.add("default/web");
        std::this_thread::sleep_for(200us);
      }
    });
  }
  for (auto& adder : adders) adder.join();
  auto deadline = Clock::now() + kGenerous;
  while (seen.load() != 150 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  queue.shut_down();
  runner.join();
  EXPECT_FALSE(overlapped);
  EXPECT_EQ(seen.load(), 150);
}

TEST(WorkQueueTest, AtMostTheGivenNumberOfWorkersRunAtOnce) {
  WorkQueue queue;
  constexpr int kWorkers = 3;
  std::mutex mutex;
  std::condition_variable changed;
  int active = 0;
  int most = 0;
  int finished = 0;
  for (int i = 0; i < 12; ++i) queue.add("key-" + std::to_string(i));
  std::thread runner([&] {
    queue.run(kWorkers, [&](const std::string&) {
      std::unique_lock lock(mutex);
      most = std::max(most, ++active);
      changed.notify_all();
      // The first ones hold on until all workers have been in at once, so a fourth would be seen
      // if the bound failed.
      changed.wait_for(lock, kGenerous, [&] { return most >= kWorkers; });
      --active;
      ++finished;
      changed.notify_all();
    });
  });
  {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, 2 * kGenerous, [&] { return finished == 12; });
  }
  queue.shut_down();
  runner.join();
  EXPECT_EQ(finished, 12);
  EXPECT_EQ(most, kWorkers);
}

TEST(WorkQueueTest, BackoffDoublesPerFailureUpToTheMaximumAndForgetStartsOver) {
  ExponentialBackoff backoff(5ms, 1000s);
  EXPECT_EQ(backoff.when("a"), 5ms);
  EXPECT_EQ(backoff.when("a"), 10ms);
  EXPECT_EQ(backoff.when("a"), 20ms);
  EXPECT_EQ(backoff.when("b"), 5ms);  // per key
  EXPECT_EQ(backoff.when("a"), 40ms);
  EXPECT_EQ(backoff.failures("a"), 4);
  for (int i = 0; i < 200; ++i) backoff.when("a");
  EXPECT_EQ(backoff.when("a"), 1000s);
  backoff.forget("a");
  EXPECT_EQ(backoff.failures("a"), 0);
  EXPECT_EQ(backoff.when("a"), 5ms);
  EXPECT_EQ(backoff.when("b"), 10ms);
}

TEST(WorkQueueTest, RateLimitedAddWaitsForTheKeysBackoff) {
  WorkQueue queue({.base_delay = 100ms, .max_delay = 1000s});
  auto start = Clock::now();
  queue.add_rate_limited("a");
  EXPECT_EQ(queue.depth(), 0U);
  ASSERT_EQ(queue.get(), "a");
  auto first = Clock::now() - start;
  EXPECT_GE(first, 100ms);
  EXPECT_LT(first, kGenerous);
  queue.done("a");

  start = Clock::now();
  queue.add_rate_limited("a");
  ASSERT_EQ(queue.get(), "a");
  EXPECT_GE(Clock::now() - start, 200ms);
  queue.done("a");
  EXPECT_EQ(queue.failures("a"), 2);
  EXPECT_EQ(queue.retries(), 2U);

  queue.forget("a");
  EXPECT_EQ(queue.failures("a"), 0);
  start = Clock::now();
  queue.add_rate_limited("a");
  ASSERT_EQ(queue.get(), "a");
  auto after_forget = Clock::now() - start;
  EXPECT_GE(after_forget, 100ms);
  EXPECT_LT(after_forget, kGenerous);
}

TEST(WorkQueueTest, HandlerThatThrowsIsRetriedWithBackoffAndForgottenOnSuccess) {
  WorkQueue queue({.base_delay = 1ms, .max_delay = 1s});
  std::atomic<int> calls{0};
  std::thread runner([&] {
    queue.run(2, [&](const std::string&) {
      if (calls.fetch_add(1) < 3) throw std::runtime_error("not yet");
    });
  });
  queue.add("a");
  auto deadline = Clock::now() + kGenerous;
  while (calls.load() < 4 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  // The success after three failures forgets them (forget() comes before done()).
  while (queue.in_progress() != 0 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  queue.shut_down();
  runner.join();
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(queue.retries(), 3U);
  EXPECT_EQ(queue.failures("a"), 0);
}

TEST(WorkQueueTest, AddAfterHandsTheKeyOutOnceItsDelayHasPassed) {
  WorkQueue queue;
  auto start = Clock::now();
  queue.add_after("late", 300ms);
  queue.add_after("late", 5s);  // a later time does not postpone it
  queue.add_after("early", 150ms);
  queue.add("now");
  EXPECT_EQ(queue.depth(), 1U);
  EXPECT_EQ(queue.get(), "now");
  EXPECT_EQ(queue.get(), "early");
  EXPECT_GE(Clock::now() - start, 150ms);
  EXPECT_EQ(queue.get(), "late");
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, kGenerous);
}

TEST(WorkQueueTest, EarlierAddAfterWinsAndWakesASleepingGetter) {
  WorkQueue queue;
  auto start = Clock::now();
  queue.add_after("a", 1000s);
  std::thread getter([&] {
    EXPECT_EQ(queue.get(), "a");
    queue.done("a");
  });
  std::this_thread::sleep_for(20ms);  // most likely asleep by now; correct either way
  queue.add_after("a", 100ms);
  getter.join();
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, kGenerous);
  EXPECT_EQ(queue.depth(), 0U);
}

TEST(WorkQueueTest, ShutDownWakesWorkersAndDropsWhatIsNotStarted) {
  WorkQueue queue;
  std::mutex mutex;
  std::condition_variable changed;
  bool started = false;
  bool release = false;
  std::vector<std::string> processed;
  queue.add("first");
  std::thread runner([&] {
    queue.run(1, [&](const std::string& key) {
      std::unique_lock lock(mutex);
      processed.push_back(key);
      started = true;
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
    });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kGenerous, [&] { return started; }));
  }
  queue.add("second");
  queue.add_after("third", 1ms);
  queue.shut_down();
  queue.add("fourth");
  EXPECT_TRUE(queue.shutting_down());
  EXPECT_EQ(queue.depth(), 0U);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  runner.join();  // run() returns: the busy worker finished, nothing else was handed out
  EXPECT_EQ(processed, std::vector<std::string>{"first"});
  EXPECT_EQ(queue.get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWakesABlockedGet) {
  WorkQueue queue;
  std::thread getter([&] { EXPECT_EQ(queue.get(), std::nullopt); });
  std::this_thread::sleep_for(20ms);
  queue.shut_down();
  getter.join();
}

}  // namespace
}  // namespace riasc::client
