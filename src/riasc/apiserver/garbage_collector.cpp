#include "riasc/apiserver/garbage_collector.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace riasc::apiserver {

namespace {

constexpr std::string_view kPrefix = "/registry/";
constexpr std::string_view kForeground = "foregroundDeletion";
constexpr std::string_view kOrphan = "orphan";
constexpr int kConflictRetries = 5;

bool has_finalizer(const Json& object, std::string_view finalizer) {
  const Json finalizers = object["metadata"].value("finalizers", Json::array());
  return std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end();
}

bool deleting(const Json& object) { return object["metadata"].contains("deletionTimestamp"); }

// Most objects have no owners and are not being deleted: those are told apart without parsing.
bool may_concern_collector(const std::string& value) {
  return value.find("\"ownerReferences\"") != std::string::npos ||
         value.find("\"deletionTimestamp\"") != std::string::npos;
}

std::vector<std::string> owner_uids(const Json& object) {
  std::vector<std::string> uids;
  for (const auto& reference : object["metadata"].value("ownerReferences", Json::array())) {
    if (reference.is_object()) uids.push_back(string_member(reference, "uid"));
  }
  return uids;
}

}  // namespace

class GarbageCollector::Impl {
 public:
  Impl(store::Store& store, ObjectService& objects) : store_(store), objects_(objects) {}

  void start() {
    rebuild();
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  bool wait_idle(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    while (true) {
      const store::Revision target = store_.revision();
      if (!idle_.wait_until(lock, deadline, [&] { return handled_ >= target; })) return false;
      if (store_.revision() == target) return true;  // our own writes are handled too
    }
  }

 private:
  // Indexes every stored object and queues those that may need work; starts the watch after
  // the snapshot, so no write is missed or seen twice.
  void rebuild() {
    dependents_.clear();
    owners_of_.clear();
    auto page = store_.list(kPrefix);
    for (const auto& record : page.records) {
      if (!may_concern_collector(*record.value)) continue;
      Json object = ObjectService::to_object(record);
      index(record.key, &object);
      queue_.insert(record.key);
    }
    watch_ = store_.watch(std::string(kPrefix), page.revision);
    observed_ = page.revision;
  }

  void run() {
    std::vector<store::Event> batch;
    while (!stopping_) {
      while (!queue_.empty() && !stopping_) {
        auto key = *queue_.begin();
        queue_.erase(queue_.begin());
        try {
          handle(key);
        } catch (const std::exception&) {
          // A store failure here must not stop collection; the next event retries the object.
        }
      }
      mark_handled(observed_);
      batch.clear();
      if (!watch_->wait(batch, std::chrono::milliseconds(200))) {
        rebuild();  // fell behind (overflow): start again from a fresh snapshot
        continue;
      }
      for (const auto& event : batch) {
        observe(event);
        observed_ = event.record.revision;
      }
    }
    watch_->close();
  }

  void mark_handled(store::Revision revision) {
    {
      std::lock_guard lock(mutex_);
      handled_ = std::max(handled_, revision);
    }
    idle_.notify_all();
  }

  void observe(const store::Event& event) {
    const std::string& key = event.record.key;
    if (event.type == store::Event::Type::Deleted) {
      if (dependents_.empty() && owners_of_.empty()) return;
      Json object = ObjectService::to_object(event.record);
      // Its dependents may now have no owner left; a waiting owner may now be free to go.
      if (auto found = dependents_.find(string_member(object["metadata"], "uid"));
          found != dependents_.end()) {
        queue_.insert(found->second.begin(), found->second.end());
      }
      queue_owners(object);
      index(key, nullptr);
      return;
    }
    if (!may_concern_collector(*event.record.value)) {
      if (owners_of_.contains(key)) index(key, nullptr);  // its references were removed
      return;
    }
    Json object = ObjectService::to_object(event.record);
    index(key, &object);
    queue_.insert(key);
    if (deleting(object)) queue_owners(object);
  }

  // Owners being deleted in foreground wait for this dependent: look at them again.
  void queue_owners(const Json& object) {
    for (const auto& reference : object["metadata"].value("ownerReferences", Json::array())) {
      if (auto owner = find_owner(object, reference)) {
        if (deleting(owner->second)) queue_.insert(owner->first);
      }
    }
  }

  void index(const std::string& key, const Json* object) {
    if (auto old = owners_of_.find(key); old != owners_of_.end()) {
      for (const auto& uid : old->second) {
        auto found = dependents_.find(uid);
        if (found == dependents_.end()) continue;
        found->second.erase(key);
        if (found->second.empty()) dependents_.erase(found);
      }
      owners_of_.erase(old);
    }
    if (!object) return;
    auto uids = owner_uids(*object);
    if (uids.empty()) return;
    for (const auto& uid : uids) dependents_[uid].insert(key);
    owners_of_[key] = std::move(uids);
  }

  // The owner a reference names, looked up live (its kind, name and namespace, then its uid): a
  // reference to an object that was replaced by one of the same name is dangling.
  std::optional<std::pair<std::string, Json>> find_owner(const Json& dependent, const Json& reference) const {
    if (!reference.is_object()) return std::nullopt;
    Json probe = {{"apiVersion", string_member(reference, "apiVersion")},
                  {"kind", string_member(reference, "kind")}};
    auto type = objects_.type_of(probe);
    if (!type) return std::nullopt;
    const std::string key =
        type->key(type->namespaced ? string_member(dependent["metadata"], "namespace") : std::string(),
                  string_member(reference, "name"));
    auto record = store_.get(key);
    if (!record) return std::nullopt;
    Json owner = ObjectService::to_object(*record);
    if (string_member(owner["metadata"], "uid") != string_member(reference, "uid")) return std::nullopt;
    return std::make_pair(key, std::move(owner));
  }

  // Whether an owner kind is one we serve; references to kinds we do not know are left alone
  // rather than taken for dangling (kube-apiserver's collector does the same).
  bool resolvable(const Json& reference) const {
    Json probe = {{"apiVersion", string_member(reference, "apiVersion")},
                  {"kind", string_member(reference, "kind")}};
    return objects_.type_of(probe).has_value();
  }

  void handle(const std::string& key) {
    auto record = store_.get(key);
    if (!record) return;
    Json object = ObjectService::to_object(*record);
    auto type = objects_.type_of(object);
    if (!type) return;
    if (deleting(object)) {
      if (has_finalizer(object, kOrphan)) {
        orphan_dependents(object);
        remove_finalizer(*type, object, kOrphan);
      } else if (has_finalizer(object, kForeground)) {
        if (delete_dependents_first(object)) remove_finalizer(*type, object, kForeground);
      }
      return;
    }
    const Json references = object["metadata"].value("ownerReferences", Json::array());
    if (references.empty()) return;
    Json kept = Json::array();
    bool all_waiting = true;  // every remaining owner is being deleted in foreground
    for (const auto& reference : references) {
      if (!resolvable(reference)) {
        kept.push_back(reference);
        all_waiting = false;
        continue;
      }
      auto owner = find_owner(object, reference);
      if (!owner) continue;
      kept.push_back(reference);
      if (!(deleting(owner->second) && has_finalizer(owner->second, kForeground))) all_waiting = false;
    }
    const std::string namespace_name = string_member(object["metadata"], "namespace");
    const std::string name = string_member(object["metadata"], "name");
    if (kept.empty() || all_waiting) {
      DeleteOptions options;
      options.expected_uid = string_member(object["metadata"], "uid");
      options.propagation = kept.empty() ? Propagation::Background : Propagation::Foreground;
      (void)objects_.remove(*type, namespace_name, name, options);
    } else if (kept.size() != references.size()) {
      modify(*type, object, [&](Json& current) {
        Json remaining = Json::array();
        for (const auto& reference : current["metadata"].value("ownerReferences", Json::array())) {
          if (std::find(kept.begin(), kept.end(), reference) != kept.end()) remaining.push_back(reference);
        }
        current["metadata"]["ownerReferences"] = remaining;
      });
    }
  }

  // Calls `visit(type, dependent)` for each stored dependent of `owner` whose kind is served.
  template <typename Visit>
  void for_each_dependent(const Json& owner, Visit visit) {
    auto found = dependents_.find(string_member(owner["metadata"], "uid"));
    if (found == dependents_.end()) return;
    const std::vector<std::string> keys(found->second.begin(), found->second.end());  // visits may re-index
    for (const auto& key : keys) {
      auto record = store_.get(key);
      if (!record) continue;
      Json dependent = ObjectService::to_object(*record);
      if (auto type = objects_.type_of(dependent)) visit(*type, dependent);
    }
  }

  void orphan_dependents(const Json& owner) {
    const std::string uid = string_member(owner["metadata"], "uid");
    for_each_dependent(owner, [&](const ResourceType& type, const Json& dependent) {
      modify(type, dependent, [&](Json& current) {
        Json remaining = Json::array();
        for (const auto& reference : current["metadata"].value("ownerReferences", Json::array())) {
          if (string_member(reference, "uid") != uid) remaining.push_back(reference);
        }
        if (remaining.empty()) {
          current["metadata"].erase("ownerReferences");
        } else {
          current["metadata"]["ownerReferences"] = remaining;
        }
      });
    });
  }

  // Deletes the dependents (in foreground, so their own dependents go first); true once none
  // that blocks the owner (blockOwnerDeletion) remains.
  bool delete_dependents_first(const Json& owner) {
    const std::string uid = string_member(owner["metadata"], "uid");
    bool blocked = false;
    for_each_dependent(owner, [&](const ResourceType& type, const Json& dependent) {
      for (const auto& reference : dependent["metadata"].value("ownerReferences", Json::array())) {
        if (string_member(reference, "uid") == uid && reference.value("blockOwnerDeletion", false))
          blocked = true;
      }
      if (deleting(dependent)) return;
      DeleteOptions options;
      options.propagation = Propagation::Foreground;
      options.expected_uid = string_member(dependent["metadata"], "uid");
      (void)objects_.remove(type, string_member(dependent["metadata"], "namespace"),
                            string_member(dependent["metadata"], "name"), options);
    });
    return !blocked;
  }

  void remove_finalizer(const ResourceType& type, const Json& object, std::string_view finalizer) {
    modify(type, object, [&](Json& current) {
      Json finalizers = Json::array();
      for (const auto& f : current["metadata"].value("finalizers", Json::array())) {
        if (f != finalizer) finalizers.push_back(f);
      }
      current["metadata"]["finalizers"] = finalizers;
    });
  }

  // Read, change, write with the read's resourceVersion; on a conflict read again.
  template <typename Change>
  void modify(const ResourceType& type, Json object, Change change) {
    const std::string namespace_name = string_member(object["metadata"], "namespace");
    const std::string name = string_member(object["metadata"], "name");
    const std::string uid = string_member(object["metadata"], "uid");
    for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
      change(object);
      auto result = objects_.update(type, namespace_name, name, object);
      auto* error = std::get_if<ApiError>(&result);
      if (!error || error->code() != 409) return;
      auto current = objects_.get(type, namespace_name, name);
      if (!std::holds_alternative<Json>(current)) return;
      object = std::get<Json>(std::move(current));
      if (string_member(object["metadata"], "uid") != uid) return;  // replaced meanwhile
    }
  }

  store::Store& store_;
  ObjectService& objects_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<store::Watch> watch_;

  // Only the collector's thread touches these (and rebuild() before it starts).
  std::unordered_map<std::string, std::set<std::string>> dependents_;    // owner uid → dependent keys
  std::unordered_map<std::string, std::vector<std::string>> owners_of_;  // dependent key → owner uids
  std::set<std::string> queue_;                                          // keys to look at
  store::Revision observed_ = 0;                                         // events seen up to this revision

  std::mutex mutex_;
  std::condition_variable idle_;
  store::Revision handled_ = 0;
};

GarbageCollector::GarbageCollector(store::Store& store, ObjectService& objects)
    : impl_(std::make_unique<Impl>(store, objects)) {}
GarbageCollector::~GarbageCollector() { stop(); }
void GarbageCollector::start() { impl_->start(); }
void GarbageCollector::stop() { impl_->stop(); }
bool GarbageCollector::wait_idle(std::chrono::milliseconds timeout) { return impl_->wait_idle(timeout); }

}  // namespace riasc::apiserver
