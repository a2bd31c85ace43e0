#include "riasc/store/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include "riasc/store/sqlite.hpp"

namespace riasc::store {

RevisionGone::RevisionGone(Revision requested, Revision compacted)
    : std::runtime_error(fmt::format("too old resource version: {} ({})", requested, compacted)),
      compacted_(compacted) {}

namespace {

constexpr std::size_t kMaxBatch = 512;  // writes committed in one transaction at most

bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

class QueuedWatch final : public Watch {
 public:
  QueuedWatch(std::string prefix, Revision after, std::size_t capacity)
      : prefix_(std::move(prefix)), after_(after), capacity_(capacity) {}

  [[nodiscard]] const std::string& prefix() const { return prefix_; }

  // Called by the store with its state lock held, in revision order. Never blocks on the reader.
  void push(const Event& event) {
    std::shared_ptr<const std::function<void()>> notify;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || event.record.revision <= after_ || !has_prefix(event.record.key, prefix_)) return;
      if (queue_.size() >= capacity_) {
        overflowed_ = true;
        closed_ = true;
        queue_.clear();  // the watcher has to list again; partial history would mislead it
      } else {
        queue_.push_back(event);
      }
      after_ = event.record.revision;
      notify = notify_;
    }
    ready_.notify_all();
    if (notify) (*notify)();
  }

  [[nodiscard]] bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  bool take(std::vector<Event>& out) override {
    std::lock_guard lock(mutex_);
    for (auto& event : queue_) out.push_back(std::move(event));
    queue_.clear();
    return !closed_;
  }

  void set_notify(std::function<void()> notify) override {
    auto shared = std::make_shared<const std::function<void()>>(std::move(notify));
    std::lock_guard lock(mutex_);
    notify_ = std::move(shared);
  }

  bool wait(std::vector<Event>& out, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
    for (auto& event : queue_) out.push_back(std::move(event));
    queue_.clear();
    return !closed_;
  }

  [[nodiscard]] bool overflowed() const override {
    std::lock_guard lock(mutex_);
    return overflowed_;
  }

  void close() override {
    std::shared_ptr<const std::function<void()>> notify;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      notify = notify_;
    }
    ready_.notify_all();
    if (notify) (*notify)();
  }

 private:
  const std::string prefix_;
  Revision after_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<Event> queue_;
  // Shared, not copied, for each event: copying a std::function that holds a weak_ptr allocates.
  std::shared_ptr<const std::function<void()>> notify_;
  bool closed_ = false;
  bool overflowed_ = false;
};

struct WriteRequest {
  enum class Kind { Create, Update, Remove };
  Kind kind;
  std::string key;
  std::string value;
  std::optional<Revision> expected;
  std::promise<WriteResult> done;
};

struct CompactRequest {
  Revision revision;
  std::promise<std::size_t> done;
};

// A watch that starts before the in-memory history: its older events are read from the log on
// the writer thread, so no write can slip in between reading them and registering the watch.
struct WatchRequest {
  std::string prefix;
  Revision after;
  std::promise<std::shared_ptr<Watch>> done;
};

using Request = std::variant<WriteRequest*, CompactRequest*, WatchRequest*>;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const Options& options) : options_(options), db_(options.path) {
    // Set before the first table exists; lets compaction hand freed pages back to the file system.
    db_.execute("PRAGMA auto_vacuum=INCREMENTAL");
    db_.execute("PRAGMA journal_mode=WAL");
    db_.execute(options.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    // One process owns a data directory; a second server on it fails instead of corrupting it.
    db_.execute("PRAGMA locking_mode=EXCLUSIVE");
    db_.execute(
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, revision INTEGER NOT NULL, "
        "  create_revision INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS log (revision INTEGER PRIMARY KEY, key TEXT NOT NULL, "
        "  type INTEGER NOT NULL, create_revision INTEGER NOT NULL, value BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0);");
    load();
    insert_log_ = std::make_unique<sqlite::Statement>(
        db_.handle(), "INSERT INTO log (revision, key, type, create_revision, value) VALUES (?, ?, ?, ?, ?)");
    upsert_ = std::make_unique<sqlite::Statement>(
        db_.handle(),
        "INSERT OR REPLACE INTO kv (key, revision, create_revision, value) VALUES (?, ?, ?, ?)");
    delete_ = std::make_unique<sqlite::Statement>(db_.handle(), "DELETE FROM kv WHERE key = ?");
    set_meta_ = std::make_unique<sqlite::Statement>(db_.handle(), "UPDATE meta SET value = ? WHERE name = ?");
    writer_ = std::thread([this] { write_loop(); });
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_ready_.notify_all();
    writer_.join();
    std::unique_lock state(state_mutex_);
    for (auto& weak : watchers_) {
      if (auto watch = weak.lock()) watch->close();
    }
  }

  WriteResult create(std::string key, std::string value) override {
    return submit({WriteRequest::Kind::Create, std::move(key), std::move(value), {}, {}});
  }
  WriteResult update(std::string key, std::string value, std::optional<Revision> expected) override {
    return submit({WriteRequest::Kind::Update, std::move(key), std::move(value), expected, {}});
  }
  WriteResult remove(std::string key, std::optional<Revision> expected) override {
    return submit({WriteRequest::Kind::Remove, std::move(key), {}, expected, {}});
  }

  std::optional<Record> get(std::string_view key) const override {
    std::shared_lock lock(state_mutex_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

  Page list(std::string_view prefix, std::size_t limit, std::string_view start_after) const override {
    Page page;
    std::shared_lock lock(state_mutex_);
    page.revision = revision_;
    auto it = start_after.empty() ? objects_.lower_bound(prefix) : objects_.upper_bound(start_after);
    if (it != objects_.end() && it->first < prefix) it = objects_.lower_bound(prefix);
    for (; it != objects_.end() && has_prefix(it->first, prefix); ++it) {
      if (limit != 0 && page.records.size() == limit) {
        page.more = true;
        break;
      }
      page.records.push_back(it->second);
    }
    return page;
  }

  std::shared_ptr<Watch> watch(std::string prefix, Revision after) override {
    {
      std::unique_lock lock(state_mutex_);
      if (after == 0) after = revision_;
      if (after < compacted_) throw RevisionGone(after, compacted_);
      const bool in_memory =
          after >= revision_ || (!history_.empty() && after >= history_.front().record.revision - 1);
      if (in_memory) return register_watch(prefix, after);
    }
    WatchRequest request{std::move(prefix), after, {}};
    auto done = request.done.get_future();
    enqueue(&request);
    return done.get();
  }

  Revision revision() const override { return published_.load(std::memory_order_acquire); }

  Revision compacted_revision() const override {
    std::shared_lock lock(state_mutex_);
    return compacted_;
  }

  std::size_t compact(Revision revision) override {
    CompactRequest request{revision, {}};
    auto done = request.done.get_future();
    enqueue(&request);
    return done.get();
  }

 private:
  void load() {
    sqlite::Statement meta(db_.handle(), "SELECT name, value FROM meta");
    while (meta.step()) {
      (meta.text(0) == "revision" ? revision_ : compacted_) = meta.integer(1);
    }
    published_ = revision_;
    sqlite::Statement rows(db_.handle(), "SELECT key, revision, create_revision, value FROM kv");
    while (rows.step()) {
      Record record{rows.text(0), rows.integer(1), rows.integer(2),
                    std::make_shared<const std::string>(rows.text(3))};
      std::string key = record.key;
      objects_.emplace(std::move(key), std::move(record));
    }
    sqlite::Statement recent(db_.handle(),
                             "SELECT revision, key, type, create_revision, value FROM log "
                             "ORDER BY revision DESC LIMIT ?");
    recent.bind(1, static_cast<std::int64_t>(options_.memory_history));
    while (recent.step()) history_.push_front(event_from(recent));
  }

  static Event event_from(const sqlite::Statement& row) {
    Event event;
    event.type = static_cast<Event::Type>(row.integer(2));
    event.record = {row.text(1), row.integer(0), row.integer(3),
                    std::make_shared<const std::string>(row.text(4))};
    return event;
  }

  WriteResult submit(WriteRequest request) {
    auto done = request.done.get_future();
    enqueue(&request);
    return done.get();
  }

  void enqueue(Request request) {
    {
      std::lock_guard lock(queue_mutex_);
      if (stopping_) throw StoreError("the store is shutting down");
      queue_.push_back(request);
    }
    queue_ready_.notify_one();
  }

  void write_loop() {
    while (true) {
      std::vector<Request> batch;
      {
        std::unique_lock lock(queue_mutex_);
        queue_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and every request answered
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      std::vector<WriteRequest*> writes;
      for (auto& request : batch) {
        if (auto* write = std::get_if<WriteRequest*>(&request)) {
          writes.push_back(*write);
          continue;
        }
        if (!writes.empty()) commit(writes);  // keep the requests' order
        writes.clear();
        if (auto* compaction = std::get_if<CompactRequest*>(&request)) run_compaction(**compaction);
        if (auto* watch = std::get_if<WatchRequest*>(&request)) start_watch_from_log(**watch);
      }
      if (!writes.empty()) commit(writes);
    }
  }

  // Applies a batch in order against the committed state plus the batch's own earlier writes,
  // commits it in one transaction, then publishes it. Readers never see uncommitted writes.
  void commit(const std::vector<WriteRequest*>& writes) {
    std::unordered_map<std::string, std::optional<Record>> staged;
    std::vector<Event> events;
    std::vector<WriteResult> results(writes.size());
    Revision next = revision_;  // only this thread changes revision_
    for (std::size_t i = 0; i < writes.size(); ++i) {
      const WriteRequest& write = *writes[i];
      std::optional<Record> current;
      if (auto found = staged.find(write.key); found != staged.end()) {
        current = found->second;
      } else if (auto it = objects_.find(write.key); it != objects_.end()) {
        current = it->second;
      }
      WriteResult& result = results[i];
      if (current) result.record = *current;
      if (write.kind == WriteRequest::Kind::Create && current) {
        result.status = WriteStatus::AlreadyExists;
        continue;
      }
      if (write.kind != WriteRequest::Kind::Create && !current) {
        result.status = WriteStatus::NotFound;
        continue;
      }
      if (write.expected && current && *write.expected != current->revision) {
        result.status = WriteStatus::Conflict;
        continue;
      }
      Event event;
      event.record.key = write.key;
      event.record.revision = ++next;
      switch (write.kind) {
        case WriteRequest::Kind::Create:
          event.type = Event::Type::Added;
          event.record.create_revision = next;
          event.record.value = std::make_shared<const std::string>(write.value);
          staged[write.key] = event.record;
          break;
        case WriteRequest::Kind::Update:
          event.type = Event::Type::Modified;
          event.record.create_revision = current->create_revision;
          event.record.value = std::make_shared<const std::string>(write.value);
          staged[write.key] = event.record;
          break;
        case WriteRequest::Kind::Remove:
          event.type = Event::Type::Deleted;
          event.record.create_revision = current->create_revision;
          event.record.value = current->value;
          staged[write.key] = std::nullopt;
          break;
      }
      result.record = event.record;
      events.push_back(event);
    }
    try {
      if (!events.empty()) persist(events, next);
    } catch (...) {
      for (auto* write : writes) write->done.set_exception(std::current_exception());
      return;
    }
    publish(staged, events, next);
    for (std::size_t i = 0; i < writes.size(); ++i) writes[i]->done.set_value(std::move(results[i]));
  }

  void persist(const std::vector<Event>& events, Revision next) {
    db_.execute("BEGIN IMMEDIATE");
    try {
      for (const auto& event : events) {
        const Record& record = event.record;
        insert_log_->bind(1, record.revision)
            .bind(2, record.key)
            .bind(3, static_cast<std::int64_t>(event.type))
            .bind(4, record.create_revision)
            .bind_blob(5, *record.value)
            .run();
        if (event.type == Event::Type::Deleted) {
          delete_->bind(1, record.key).run();
        } else {
          upsert_->bind(1, record.key).bind(2, record.revision).bind(3, record.create_revision);
          upsert_->bind_blob(4, *record.value).run();
        }
      }
      set_meta_->bind(1, next).bind(2, "revision").run();
      db_.execute("COMMIT");
    } catch (...) {
      insert_log_->reset();
      upsert_->reset();
      delete_->reset();
      set_meta_->reset();
      db_.execute("ROLLBACK");
      throw;
    }
  }

  void publish(const std::unordered_map<std::string, std::optional<Record>>& staged,
               const std::vector<Event>& events, Revision next) {
    std::unique_lock lock(state_mutex_);
    for (const auto& [key, record] : staged) {
      if (record) {
        objects_.insert_or_assign(key, *record);
      } else {
        objects_.erase(key);
      }
    }
    revision_ = next;
    for (const auto& event : events) {
      history_.push_back(event);
      deliver(event);
    }
    while (history_.size() > options_.memory_history) history_.pop_front();
    // After the events are in every queue: whoever reads this revision finds them there.
    published_.store(next, std::memory_order_release);
    std::erase_if(watchers_, [](const std::weak_ptr<QueuedWatch>& weak) {
      auto watch = weak.lock();
      return !watch || watch->closed();
    });
  }

  void deliver(const Event& event) {
    for (const auto& weak : watchers_) {
      if (auto watch = weak.lock()) watch->push(event);
    }
  }

  // With state_mutex_ held exclusively: replays history after `after`, then goes live.
  std::shared_ptr<Watch> register_watch(const std::string& prefix, Revision after,
                                        const std::vector<Event>& older = {}) {
    auto watch = std::make_shared<QueuedWatch>(prefix, after, options_.watch_capacity);
    for (const auto& event : older) watch->push(event);
    for (const auto& event : history_) watch->push(event);
    watchers_.push_back(watch);
    return watch;
  }

  void start_watch_from_log(WatchRequest& request) {
    try {
      std::vector<Event> older;
      Revision until = history_.empty() ? revision_ + 1 : history_.front().record.revision;
      sqlite::Statement rows(
          db_.handle(),
          "SELECT revision, key, type, create_revision, value FROM log "
          "WHERE revision > ? AND revision < ? AND substr(key, 1, ?) = ? ORDER BY revision");
      rows.bind(1, request.after).bind(2, until);
      rows.bind(3, static_cast<std::int64_t>(request.prefix.size())).bind(4, request.prefix);
      while (rows.step()) older.push_back(event_from(rows));
      std::unique_lock lock(state_mutex_);
      if (request.after < compacted_) throw RevisionGone(request.after, compacted_);
      request.done.set_value(register_watch(request.prefix, request.after, older));
    } catch (...) {
      request.done.set_exception(std::current_exception());
    }
  }

  void run_compaction(CompactRequest& request) {
    try {
      Revision target = std::min(request.revision, revision_);
      std::size_t removed = 0;
      if (target > compacted_) {
        db_.execute("BEGIN IMMEDIATE");
        sqlite::Statement erase(db_.handle(), "DELETE FROM log WHERE revision <= ?");
        erase.bind(1, target).run();
        removed = static_cast<std::size_t>(sqlite3_changes(db_.handle()));
        set_meta_->bind(1, target).bind(2, "compacted").run();
        db_.execute("COMMIT");
        // Give the space back, so the file tracks the live data rather than its history.
        db_.execute("PRAGMA incremental_vacuum");
        db_.execute("PRAGMA wal_checkpoint(TRUNCATE)");
        std::unique_lock lock(state_mutex_);
        compacted_ = target;
        while (!history_.empty() && history_.front().record.revision <= target) history_.pop_front();
      }
      request.done.set_value(removed);
    } catch (...) {
      request.done.set_exception(std::current_exception());
    }
  }

  const Options options_;
  sqlite::Database db_;
  std::unique_ptr<sqlite::Statement> insert_log_, upsert_, delete_, set_meta_;

  mutable std::shared_mutex state_mutex_;
  std::map<std::string, Record, std::less<>> objects_;
  std::deque<Event> history_;
  std::vector<std::weak_ptr<QueuedWatch>> watchers_;
  Revision revision_ = 0;
  // revision_ for readers without the lock: a watch handler reads it on every wake-up, and
  // waiting for the lock while a write is handed to 1,000 watchers serialised their deliveries.
  std::atomic<Revision> published_{0};
  Revision compacted_ = 0;

  std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace

std::unique_ptr<Store> Store::open(const Options& options) { return std::make_unique<SqliteStore>(options); }

}  // namespace riasc::store
