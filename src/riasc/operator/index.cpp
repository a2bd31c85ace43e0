#include "riasc/operator/index.hpp"

namespace riasc::op {

std::vector<Json> Index::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  std::vector<Json> values;
  auto found = by_key_.find(key);
  if (found == by_key_.end()) return values;
  values.reserve(found->second.size());
  for (const auto& [object, value] : found->second) values.push_back(value);
  return values;
}

bool Index::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return by_key_.contains(key);
}

std::vector<std::string> Index::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  keys.reserve(by_key_.size());
  for (const auto& [key, values] : by_key_) keys.push_back(key);
  return keys;
}

std::size_t Index::size() const {
  std::lock_guard lock(mutex_);
  return by_key_.size();
}

void Index::set(const std::string& object_key, const Json& entries) {
  std::lock_guard lock(mutex_);
  // Drop what the object filed before: its keys may have changed.
  if (auto previous = keys_of_.find(object_key); previous != keys_of_.end()) {
    for (const std::string& key : previous->second) {
      auto values = by_key_.find(key);
      values->second.erase(object_key);
      if (values->second.empty()) by_key_.erase(values);
    }
    keys_of_.erase(previous);
  }
  if (entries.is_null()) return;
  std::vector<std::string>& keys = keys_of_[object_key];
  auto file = [&](const std::string& key, const Json& value) {
    by_key_[key][object_key] = value;
    keys.push_back(key);
  };
  if (entries.is_object()) {
    for (auto it = entries.begin(); it != entries.end(); ++it) file(it.key(), it.value());
  } else {
    file("", entries);
  }
  if (keys.empty()) keys_of_.erase(object_key);
}

void Index::erase(const std::string& object_key) { set(object_key, nullptr); }

}  // namespace riasc::op
