#include "riasc/store/store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

namespace riasc::store {
namespace {

using ::testing::ElementsAre;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("riasc-store-test-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    options_.path = directory_ / "state.db";
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::unique_ptr<Store> open() { return Store::open(options_); }

  std::filesystem::path directory_;
  Options options_;
};

std::vector<std::string> keys(const Store::Page& page) {
  std::vector<std::string> out;
  for (const auto& record : page.records) out.push_back(record.key);
  return out;
}

// "ADDED /a 1" for each event
std::vector<std::string> describe(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) {
    const char* type = event.type == Event::Type::Added      ? "ADDED"
                       : event.type == Event::Type::Modified ? "MODIFIED"
                                                             : "DELETED";
    out.push_back(std::string(type) + " " + event.record.key + " " + std::to_string(event.record.revision) +
                  " " + *event.record.value);
  }
  return out;
}

std::vector<std::string> drain(Watch& watch) {
  std::vector<Event> events;
  watch.take(events);
  return describe(events);
}

TEST_F(StoreTest, WritesGetOneGlobalRevisionEach) {
  auto store = open();
  EXPECT_EQ(store->revision(), 0);
  auto a = store->create("/a", "1");
  auto b = store->create("/b", "2");
  ASSERT_EQ(a.status, WriteStatus::Ok);
  EXPECT_EQ(a.record.revision, 1);
  EXPECT_EQ(b.record.revision, 2);
  auto updated = store->update("/a", "3");
  ASSERT_EQ(updated.status, WriteStatus::Ok);
  EXPECT_EQ(updated.record.revision, 3);
  EXPECT_EQ(updated.record.create_revision, 1);
  EXPECT_EQ(*store->get("/a")->value, "3");
  EXPECT_EQ(store->remove("/b").status, WriteStatus::Ok);
  EXPECT_FALSE(store->get("/b").has_value());
  EXPECT_EQ(store->revision(), 4);
}

TEST_F(StoreTest, PreconditionsReportTheCurrentRecord) {
  auto store = open();
  store->create("/a", "1");
  auto again = store->create("/a", "2");
  EXPECT_EQ(again.status, WriteStatus::AlreadyExists);
  EXPECT_EQ(*again.record.value, "1");
  EXPECT_EQ(store->update("/missing", "x").status, WriteStatus::NotFound);
  EXPECT_EQ(store->remove("/missing").status, WriteStatus::NotFound);
  auto stale = store->update("/a", "2", Revision{7});
  EXPECT_EQ(stale.status, WriteStatus::Conflict);
  EXPECT_EQ(stale.record.revision, 1);
  EXPECT_EQ(store->update("/a", "2", Revision{1}).status, WriteStatus::Ok);
  EXPECT_EQ(store->remove("/a", Revision{1}).status, WriteStatus::Conflict);
  EXPECT_EQ(store->revision(), 2);  // failed writes take no revision
}

TEST_F(StoreTest, ListsByPrefixInKeyOrderWithPages) {
  auto store = open();
  for (const char* key : {"/pods/b/2", "/pods/a/1", "/pods/b/1", "/nodes/x", "/podsx/1"})
    store->create(key, "v");
  EXPECT_THAT(keys(store->list("/pods/")), ElementsAre("/pods/a/1", "/pods/b/1", "/pods/b/2"));
  EXPECT_THAT(keys(store->list("/pods/b/")), ElementsAre("/pods/b/1", "/pods/b/2"));
  auto first = store->list("/pods/", 2);
  EXPECT_THAT(keys(first), ElementsAre("/pods/a/1", "/pods/b/1"));
  EXPECT_TRUE(first.more);
  EXPECT_EQ(first.revision, 5);
  auto second = store->list("/pods/", 2, first.records.back().key);
  EXPECT_THAT(keys(second), ElementsAre("/pods/b/2"));
  EXPECT_FALSE(second.more);
  EXPECT_THAT(keys(store->list("/none/")), ElementsAre());
}

TEST_F(StoreTest, WatchFromNowSeesLaterWritesUnderItsPrefix) {
  auto store = open();
  store->create("/pods/a", "1");
  auto watch = store->watch("/pods/", 0);
  store->update("/pods/a", "2");
  store->create("/nodes/n", "x");
  store->remove("/pods/a");
  EXPECT_THAT(drain(*watch), ElementsAre("MODIFIED /pods/a 2 2", "DELETED /pods/a 4 2"));
}

TEST_F(StoreTest, WatchFromAListRevisionHasNoGapAndNoDuplicate) {
  auto store = open();
  store->create("/a", "1");
  store->create("/b", "1");
  const auto page = store->list("/");
  store->update("/a", "2");
  store->create("/c", "1");
  auto watch = store->watch("/", page.revision);
  store->remove("/b");
  EXPECT_THAT(drain(*watch), ElementsAre("MODIFIED /a 3 2", "ADDED /c 4 1", "DELETED /b 5 1"));
}

TEST_F(StoreTest, WatchOlderThanMemoryIsServedFromTheLog) {
  options_.memory_history = 2;
  auto store = open();
  for (int i = 1; i <= 6; ++i) store->create("/k" + std::to_string(i), std::to_string(i));
  auto watch = store->watch("/", 2);
  store->create("/k7", "7");
  EXPECT_THAT(drain(*watch), ElementsAre("ADDED /k3 3 3", "ADDED /k4 4 4", "ADDED /k5 5 5", "ADDED /k6 6 6",
                                         "ADDED /k7 7 7"));
}

TEST_F(StoreTest, CompactionMakesOlderRevisionsGone) {
  options_.memory_history = 2;
  auto store = open();
  store->create("/k", "0");
  for (int i = 1; i <= 5; ++i) store->update("/k", std::to_string(i));
  const Revision now = store->revision();
  EXPECT_GT(store->compact(now - 2), 0U);
  EXPECT_EQ(store->compacted_revision(), now - 2);
  EXPECT_THROW(store->watch("/", now - 3), RevisionGone);
  auto watch = store->watch("/", now - 2);
  EXPECT_EQ(drain(*watch).size(), 2U);
  EXPECT_EQ(*store->get("/k")->value, "5");  // values survive compaction
}

TEST_F(StoreTest, ReopeningContinuesRevisionsAndWatches) {
  {
    auto store = open();
    store->create("/a", "1");
    store->create("/b", "2");
    store->update("/a", "3");
  }
  auto store = open();
  EXPECT_EQ(store->revision(), 3);
  EXPECT_EQ(*store->get("/a")->value, "3");
  EXPECT_EQ(store->get("/a")->create_revision, 1);
  auto watch = store->watch("/", 1);
  EXPECT_EQ(store->create("/c", "4").record.revision, 4);
  EXPECT_THAT(drain(*watch), ElementsAre("ADDED /b 2 2", "MODIFIED /a 3 3", "ADDED /c 4 4"));
}

TEST_F(StoreTest, ASecondStoreOnTheSameFileIsRefused) {
  auto store = open();
  store->create("/a", "1");
  EXPECT_THROW(open(), StoreError);
}

TEST_F(StoreTest, ASlowWatcherIsClosedWithoutSlowingOthers) {
  options_.watch_capacity = 3;
  auto store = open();
  auto slow = store->watch("/", 0);
  auto fast = store->watch("/", 0);
  std::vector<Event> seen;
  for (int i = 0; i < 10; ++i) {
    store->create("/k" + std::to_string(i), "v");
    fast->take(seen);
  }
  EXPECT_EQ(seen.size(), 10U);
  EXPECT_TRUE(slow->overflowed());
  std::vector<Event> none;
  EXPECT_FALSE(slow->take(none));
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(fast->overflowed());
}

TEST_F(StoreTest, WaitWakesOnAWriteFromAnotherThread) {
  auto store = open();
  auto watch = store->watch("/", 0);
  std::thread writer([&] { store->create("/a", "1"); });
  std::vector<Event> events;
  while (events.empty()) ASSERT_TRUE(watch->wait(events, std::chrono::seconds(5)));
  writer.join();
  EXPECT_THAT(describe(events), ElementsAre("ADDED /a 1 1"));
}

TEST_F(StoreTest, ConcurrentWritersGetUniqueContiguousRevisions) {
  auto store = open();
  constexpr int kThreads = 8;
  constexpr int kWrites = 200;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<Revision> revisions;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        auto result = store->create("/t" + std::to_string(t) + "/" + std::to_string(i), "v");
        ASSERT_EQ(result.status, WriteStatus::Ok);
        std::lock_guard lock(mutex);
        revisions.insert(result.record.revision);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(revisions.size(), static_cast<std::size_t>(kThreads * kWrites));
  EXPECT_EQ(*revisions.begin(), 1);
  EXPECT_EQ(*revisions.rbegin(), kThreads * kWrites);
  EXPECT_EQ(store->list("/").records.size(), static_cast<std::size_t>(kThreads * kWrites));
}

// A child process writes and reports each acknowledged write; it is killed with SIGKILL in the
// middle of the stream. Every acknowledged write must be there when the store is reopened.
TEST_F(StoreTest, AcknowledgedWritesSurviveSigkill) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto store = open();
    for (int i = 0;; ++i) {
      auto result = store->create("/k/" + std::to_string(i), std::string(100, 'x'));
      if (result.status != WriteStatus::Ok) ::_exit(2);
      std::int64_t acknowledged = result.record.revision;
      if (::write(pipe_fds[1], &acknowledged, sizeof acknowledged) != sizeof acknowledged) ::_exit(3);
    }
  }
  ::close(pipe_fds[1]);
  std::int64_t last = 0;
  for (int received = 0; received < 300; ++received) {
    ASSERT_EQ(::read(pipe_fds[0], &last, sizeof last), static_cast<ssize_t>(sizeof last));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  // Acknowledgements still in the pipe were written before the kill too.
  std::int64_t more = 0;
  while (::read(pipe_fds[0], &more, sizeof more) == static_cast<ssize_t>(sizeof more)) last = more;
  ::close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = open();
  EXPECT_GE(store->revision(), last);
  for (std::int64_t i = 0; i < last; ++i) {
    ASSERT_TRUE(store->get("/k/" + std::to_string(i)).has_value())
        << "acknowledged write " << i + 1 << " lost";
  }
  const auto after = store->create("/after", "v");
  EXPECT_EQ(after.record.revision, store->revision());
}

}  // namespace
}  // namespace riasc::store
