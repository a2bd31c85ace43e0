#pragma once

// The object store under the embedded API server: keys to serialized objects, a global revision
// (Kubernetes' resourceVersion), and watches pushed from memory. SQLite in WAL mode makes every
// write durable before it is acknowledged; reads and watches never touch the disk.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace riasc::store {

using Revision = std::int64_t;

struct Record {
  std::string key;
  Revision revision = 0;         // of the write that gave this value: the resourceVersion
  Revision create_revision = 0;  // of the write that created the key
  std::shared_ptr<const std::string> value;
};

struct Event {
  enum class Type { Added, Modified, Deleted };
  Type type = Type::Added;
  Record record;  // for Deleted: the last value, with the deleting write's revision
};

enum class WriteStatus { Ok, NotFound, AlreadyExists, Conflict };

struct WriteResult {
  WriteStatus status = WriteStatus::Ok;
  Record record;  // Ok: the stored record; NotFound/AlreadyExists/Conflict: the current one, if any
};

// Raised for what the caller cannot fix by retrying differently: the disk, the database file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A watch asked for a revision that compaction has removed (Kubernetes: 410 Gone).
class RevisionGone : public std::runtime_error {
 public:
  RevisionGone(Revision requested, Revision compacted);
  [[nodiscard]] Revision compacted() const { return compacted_; }

 private:
  Revision compacted_;
};

// Events for one watcher, queued by writers and taken by the watcher's own thread or event
// loop. A watcher that falls more than `capacity` events behind is closed (overflowed) instead of
// slowing writers or other watchers; it must list again, as Kubernetes clients do.
class Watch {
 public:
  virtual ~Watch() = default;
  // Moves the queued events into `out`; false once the watch is closed and drained.
  virtual bool take(std::vector<Event>& out) = 0;
  // Called (from a writer's thread) whenever events arrive or the watch closes; keep it short.
  virtual void set_notify(std::function<void()> notify) = 0;
  // Blocks until events arrive, the watch closes, or `timeout` passes.
  virtual bool wait(std::vector<Event>& out, std::chrono::milliseconds timeout) = 0;
  [[nodiscard]] virtual bool overflowed() const = 0;
  virtual void close() = 0;
};

struct Options {
  std::filesystem::path path;          // the SQLite database file; created if missing
  bool fsync = false;                  // survive power loss too (synchronous=FULL), not only crashes
  std::size_t memory_history = 10000;  // recent events kept in memory to start watches from
  std::size_t watch_capacity = 10000;  // events a watcher may fall behind before it is closed
};

class Store {
 public:
  static std::unique_ptr<Store> open(const Options& options);
  virtual ~Store() = default;

  // Writes are applied in one order; each returns once it is durable. Concurrent writes are
  // committed together (group commit). `expected` is an optimistic-concurrency precondition.
  virtual WriteResult create(std::string key, std::string value) = 0;
  virtual WriteResult update(std::string key, std::string value, std::optional<Revision> expected = {}) = 0;
  virtual WriteResult remove(std::string key, std::optional<Revision> expected = {}) = 0;

  [[nodiscard]] virtual std::optional<Record> get(std::string_view key) const = 0;

  struct Page {
    std::vector<Record> records;
    Revision revision = 0;  // the snapshot the page was read at
    bool more = false;      // more records follow the last one
  };
  // Keys starting with `prefix` in key order, after `start_after` (exclusive; empty: from the
  // start), at most `limit` (0: all), all from one snapshot.
  [[nodiscard]] virtual Page list(std::string_view prefix, std::size_t limit = 0,
                                  std::string_view start_after = {}) const = 0;

  // Events for keys starting with `prefix` after revision `after` (0: from now on), with no gap
  // and no duplicate relative to a list at that revision. Throws RevisionGone.
  virtual std::shared_ptr<Watch> watch(std::string prefix, Revision after) = 0;

  [[nodiscard]] virtual Revision revision() const = 0;
  [[nodiscard]] virtual Revision compacted_revision() const = 0;

  // Forgets the history of writes up to `revision` (the current values stay); watches can no
  // longer start before it. Returns the rows removed.
  virtual std::size_t compact(Revision revision) = 0;
};

}  // namespace riasc::store
