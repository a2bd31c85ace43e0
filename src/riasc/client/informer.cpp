#include "riasc/client/informer.hpp"

#include <algorithm>
#include <random>

namespace riasc::client {

namespace {

using Clock = std::chrono::steady_clock;

const Json& metadata_field(const Json& object, const char* field) {
  static const Json kEmpty = "";
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return kEmpty;
  const auto value = metadata->find(field);
  return value == metadata->end() || !value->is_string() ? kEmpty : *value;
}

std::string resource_version_of(const Json& object) {
  return metadata_field(object, "resourceVersion").get<std::string>();
}

}  // namespace

Store::Store() {
  add_index(kNamespaceIndex, [](const Json& object) {
    std::string name = metadata_field(object, "namespace").get<std::string>();
    return name.empty() ? std::vector<std::string>{} : std::vector<std::string>{std::move(name)};
  });
}

std::string Store::key_of(const Json& object) {
  std::string namespace_name = metadata_field(object, "namespace").get<std::string>();
  std::string name = metadata_field(object, "name").get<std::string>();
  return namespace_name.empty() ? name : namespace_name + "/" + name;
}

Store::Encoded Store::encode(const Json& object) {
  Encoded encoded = Json::to_msgpack(object);
  encoded.shrink_to_fit();
  return encoded;
}

Json Store::decode(const Encoded& encoded) { return Json::from_msgpack(encoded); }

void Store::add_index(const std::string& name, IndexFunction function) {
  std::lock_guard lock(mutex_);
  indexes_[name] = Index{std::move(function), {}};
  Index& index = indexes_[name];
  for (const auto& [key, encoded] : objects_)
    for (const std::string& value : index.function(decode(encoded))) index.keys[value].insert(key);
}

void Store::index_locked(const std::string& key, const Json& object, bool add) {
  for (auto& [name, index] : indexes_) {
    for (const std::string& value : index.function(object)) {
      if (add) {
        index.keys[value].insert(key);
        continue;
      }
      auto found = index.keys.find(value);
      if (found == index.keys.end()) continue;
      found->second.erase(key);
      if (found->second.empty()) index.keys.erase(found);
    }
  }
}

std::optional<Json> Store::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = objects_.find(key);
  if (found == objects_.end()) return std::nullopt;
  return decode(found->second);
}

std::vector<Json> Store::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Json> objects;
  objects.reserve(objects_.size());
  for (const auto& entry : objects_) objects.push_back(decode(entry.second));
  return objects;
}

std::vector<std::string> Store::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  keys.reserve(objects_.size());
  for (const auto& entry : objects_) keys.push_back(entry.first);
  return keys;
}

std::size_t Store::size() const {
  std::lock_guard lock(mutex_);
  return objects_.size();
}

std::vector<Json> Store::by_index(const std::string& index, const std::string& value) const {
  std::lock_guard lock(mutex_);
  const Index& found = indexes_.at(index);
  std::vector<Json> objects;
  auto keys = found.keys.find(value);
  if (keys == found.keys.end()) return objects;
  for (const std::string& key : keys->second) objects.push_back(decode(objects_.at(key)));
  return objects;
}

std::optional<Json> Store::put(Json object) {
  std::string key = key_of(object);
  Encoded encoded = encode(object);
  std::lock_guard lock(mutex_);
  std::optional<Json> old;
  auto found = objects_.find(key);
  if (found != objects_.end()) {
    old = decode(found->second);
    index_locked(key, *old, false);
    found->second = std::move(encoded);
  } else {
    objects_.emplace(key, std::move(encoded));
  }
  index_locked(key, object, true);
  return old;
}

std::optional<Json> Store::remove(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = objects_.find(key);
  if (found == objects_.end()) return std::nullopt;
  std::optional<Json> old = decode(found->second);
  index_locked(key, *old, false);
  objects_.erase(found);
  return old;
}

Informer::Informer(Resource resource, InformerOptions options)
    : resource_(std::move(resource)), options_(std::move(options)) {}

Informer::~Informer() { stop(); }

void Informer::on_add(ObjectHandler handler) { on_add_ = std::move(handler); }
void Informer::on_update(UpdateHandler handler) { on_update_ = std::move(handler); }
void Informer::on_delete(ObjectHandler handler) { on_delete_ = std::move(handler); }

void Informer::start() {
  thread_ = std::thread([this] { run(); });
  watchdog_ = std::thread([this] { watchdog(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    if (current_) current_->cancel();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return synced_ || stopped_; });
  return synced_;
}

bool Informer::has_synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

bool Informer::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, delay, [this] { return stopped_; });
}

void Informer::run() {
  std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::string resource_version;
  bool listed = false;
  int consecutive_failures = 0;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
    }
    try {
      if (!listed) {
        relist(resource_version);
        listed = true;
      }
      watch(resource_version);
      consecutive_failures = 0;
    } catch (const Gone&) {
      // The resourceVersion is older than the server's history: only a list catches up.
      listed = false;
    } catch (const std::exception&) {
      ++failures_;
      auto delay = options_.backoff_base;
      for (int i = 0; i < consecutive_failures && delay < options_.backoff_max; ++i) delay *= 2;
      delay = std::min(delay, options_.backoff_max);
      ++consecutive_failures;
      // Jitter: informers of many clients that lost one server do not all come back at once.
      if (!sleep_for(std::chrono::milliseconds(
              static_cast<std::int64_t>(static_cast<double>(delay.count()) * jitter(random)))))
        return;
    }
  }
}

void Informer::relist(std::string& resource_version) {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  ListResult result = resource_.list(list_options);
  ++lists_;
  std::set<std::string> present;
  for (Json& item : result.items) {
    present.insert(Store::key_of(item));
    const std::string version = resource_version_of(item);
    std::optional<Json> old = store_.put(item);
    std::lock_guard lock(handler_mutex_);
    if (!old) {
      if (on_add_) on_add_(item);
    } else if (resource_version_of(*old) != version && on_update_) {
      on_update_(*old, item);
    }
  }
  // What was deleted while no watch was running.
  for (const std::string& key : store_.keys()) {
    if (present.contains(key)) continue;
    std::optional<Json> old = store_.remove(key);
    std::lock_guard lock(handler_mutex_);
    if (old && on_delete_) on_delete_(*old);
  }
  resource_version = result.resource_version;
  // The parsed list is ten times the cache's size: gone before anyone is told the cache is full.
  result = {};
  {
    std::lock_guard lock(mutex_);
    synced_ = true;
  }
  changed_.notify_all();
}

void Informer::watch(std::string& resource_version) {
  WatchOptions watch_options;
  watch_options.resource_version = resource_version;
  watch_options.allow_bookmarks = options_.allow_bookmarks;
  watch_options.timeout_seconds = options_.watch_timeout.count();
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  auto stream = std::make_shared<WatchStream>(resource_.watch(watch_options));
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    current_ = stream;
    last_event_ = Clock::now();
  }
  ++watches_;
  struct Clear {
    Informer& informer;
    WatchStream& stream;
    std::string& resource_version;
    ~Clear() {
      resource_version = stream.resource_version();
      std::lock_guard lock(informer.mutex_);
      informer.current_.reset();
    }
  } clear{*this, *stream, resource_version};
  stream->run([this](const WatchEvent& event) {
    {
      std::lock_guard lock(mutex_);
      last_event_ = Clock::now();
    }
    event.throw_if_error();
    apply(event);
    return true;
  });
}

void Informer::apply(const WatchEvent& event) {
  switch (event.type) {
    case EventType::Added:
    case EventType::Modified: {
      std::optional<Json> old = store_.put(event.object);
      std::lock_guard lock(handler_mutex_);
      if (!old) {
        if (on_add_) on_add_(event.object);
      } else if (on_update_) {
        on_update_(*old, event.object);
      }
      break;
    }
    case EventType::Deleted: {
      store_.remove(Store::key_of(event.object));
      std::lock_guard lock(handler_mutex_);
      if (on_delete_) on_delete_(event.object);
      break;
    }
    case EventType::Bookmark:
    case EventType::Error:
      break;
  }
}

void Informer::watchdog() {
  using std::chrono::milliseconds;
  milliseconds interval = options_.dead_stream_timeout / 4;
  if (options_.resync_period.count() > 0) interval = std::min(interval, options_.resync_period);
  interval = std::max(interval, milliseconds(10));
  auto next_resync = Clock::now() + options_.resync_period;
  std::unique_lock lock(mutex_);
  while (!changed_.wait_for(lock, interval, [this] { return stopped_; })) {
    auto now = Clock::now();
    if (current_ && now - last_event_ > options_.dead_stream_timeout) {
      // The server or a proxy lost the stream without closing it: run() returns Cancelled and
      // the watch starts again from its last resourceVersion.
      ++dead_streams_;
      current_->cancel();
      last_event_ = now;
    }
    if (options_.resync_period.count() > 0 && now >= next_resync && synced_) {
      next_resync = now + options_.resync_period;
      lock.unlock();
      for (const Json& object : store_.list()) {
        std::lock_guard handlers(handler_mutex_);
        if (on_update_) on_update_(object, object);
      }
      lock.lock();
    }
  }
}

}  // namespace riasc::client
