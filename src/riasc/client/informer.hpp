#pragma once

// A reflector and informer, as client-go's: lists one Resource, then watches it from the list's
// resourceVersion, keeping a thread-safe cache (Store) and calling handlers for each change. It
// resumes watches where they stopped (events and bookmarks), lists again on 410 Gone, restarts
// a watch that went quiet (dead-stream detector) and retries failures with jittered backoff.
//
//   client::Informer informer(api.resource({"", "v1", "configmaps"}, "default"));
//   informer.on_add([&](const Json& object) { queue.add(client::Store::key_of(object)); });
//   informer.start();
//   informer.wait_for_sync(10s);
//   std::optional<Json> cm = informer.store().get("default/settings");

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "riasc/client/client.hpp"
#include "riasc/core/json.hpp"

namespace riasc::client {

// The values an object is indexed under ("by namespace": its namespace).
using IndexFunction = std::function<std::vector<std::string>(const Json& object)>;

// Objects by key ("namespace/name", or "name" for cluster-scoped ones), with indexes. Readers
// get copies, so they never hold the lock while the informer writes.
class Store {
 public:
  static constexpr const char* kNamespaceIndex = "namespace";

  Store();
  static std::string key_of(const Json& object);

  // Indexes are kept for the objects present and those to come.
  void add_index(const std::string& name, IndexFunction function);

  [[nodiscard]] std::optional<Json> get(const std::string& key) const;
  [[nodiscard]] std::vector<Json> list() const;
  [[nodiscard]] std::vector<std::string> keys() const;
  [[nodiscard]] std::size_t size() const;
  // The objects with `value` among their values of index `index`; std::out_of_range for an
  // unknown index.
  [[nodiscard]] std::vector<Json> by_index(const std::string& index, const std::string& value) const;

  // The informer's side: each returns the object it replaced or removed.
  std::optional<Json> put(Json object);
  std::optional<Json> remove(const std::string& key);

 private:
  void index_locked(const std::string& key, const Json& object, bool add);

  struct Index {
    IndexFunction function;
    std::map<std::string, std::set<std::string>> keys;  // by value
  };
  // Objects are kept as MessagePack, not as parsed trees: a tree of a 1 KiB object takes about
  // ten times its JSON size in nodes and maps, the encoding less than its JSON size. Readers get
  // copies anyway, so decoding costs about what copying a tree did.
  using Encoded = std::vector<std::uint8_t>;
  static Encoded encode(const Json& object);
  static Json decode(const Encoded& encoded);

  mutable std::mutex mutex_;
  std::map<std::string, Encoded> objects_;
  std::map<std::string, Index> indexes_;
};

struct InformerOptions {
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  // The server ends each watch after this (client-go: 5 to 10 minutes, at random).
  std::chrono::seconds watch_timeout = std::chrono::minutes(5);
  // No event or bookmark for this long: the watch is presumed dead and started again. Needs
  // bookmarks (or frequent changes) to stay quiet on an idle resource.
  std::chrono::milliseconds dead_stream_timeout = std::chrono::minutes(3);
  // When set, on_update(object, object) for every cached object this often.
  std::chrono::milliseconds resync_period{0};
  // Retries after failures: doubling from base to max, each delay ±50% at random.
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{30000};
};

class Informer {
 public:
  using ObjectHandler = std::function<void(const Json& object)>;
  using UpdateHandler = std::function<void(const Json& old_object, const Json& new_object)>;

  explicit Informer(Resource resource, InformerOptions options = {});
  ~Informer();  // stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before start(). Handlers run on the informer's thread, one at a time, after the store has
  // the change; they must not block for long, so they typically add a key to a WorkQueue.
  void on_add(ObjectHandler handler);
  void on_update(UpdateHandler handler);
  void on_delete(ObjectHandler handler);

  [[nodiscard]] Store& store() { return store_; }
  [[nodiscard]] const Store& store() const { return store_; }

  void start();
  void stop();
  // True once the first list is in the store (false after `timeout` or stop()).
  bool wait_for_sync(std::chrono::milliseconds timeout);
  [[nodiscard]] bool has_synced() const;

  // Counters for tests and metrics.
  [[nodiscard]] std::uint64_t lists() const { return lists_; }
  [[nodiscard]] std::uint64_t watches() const { return watches_; }
  [[nodiscard]] std::uint64_t dead_streams() const { return dead_streams_; }
  [[nodiscard]] std::uint64_t failures() const { return failures_; }

 private:
  void run();
  void watchdog();
  void relist(std::string& resource_version);
  void watch(std::string& resource_version);
  void apply(const WatchEvent& event);
  bool sleep_for(std::chrono::milliseconds delay);  // false when stopped meanwhile

  Resource resource_;
  InformerOptions options_;
  Store store_;
  ObjectHandler on_add_;
  UpdateHandler on_update_;
  ObjectHandler on_delete_;
  std::mutex handler_mutex_;  // the watch thread and resync never call handlers at once

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  bool synced_ = false;
  std::shared_ptr<WatchStream> current_;  // for the watchdog's and stop()'s cancel()
  std::chrono::steady_clock::time_point last_event_;

  std::atomic<std::uint64_t> lists_{0};
  std::atomic<std::uint64_t> watches_{0};
  std::atomic<std::uint64_t> dead_streams_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::thread thread_;
  std::thread watchdog_;
};

}  // namespace riasc::client
