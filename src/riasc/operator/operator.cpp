#include "riasc/operator/operator.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "riasc/client/work_queue.hpp"
#include "riasc/core/rfc3339.hpp"
#include "riasc/operator/essence.hpp"
#include "riasc/operator/events.hpp"

namespace riasc::op {

namespace {

using Clock = std::chrono::steady_clock;
using detail::format_time;
using detail::Progress;
using detail::SystemClock;
using std::chrono::milliseconds;

struct Registration {
  Reason reason = Reason::Create;
  std::string id{};
  std::vector<std::string> field{};  // on_field
  Handler handler{};
  HandlerOptions options{};
  TimerOptions timer{};
  DaemonOptions daemon{};
};

// One resource the operator handles: its handlers and, once started, its informer.
struct Watched {
  std::size_t index = 0;
  client::GroupVersionResource gvr;
  std::vector<Registration> handlers;
  std::vector<std::pair<Index*, Handler>> indexers;
  std::vector<std::vector<std::string>> status_fields;  // watched by field handlers
  bool status_subresource = false;
  // Where the SDK's records go (OperatorOptions::records): decided by a probe at the first
  // reconcile for Records::Auto, and annotations from the first time the server prunes them
  // from the status.
  mutable std::atomic<bool> records_in_status{false};
  mutable std::atomic<bool> records_settled{true};
  mutable std::mutex records_probe;
  std::unique_ptr<client::Informer> informer;
  std::set<std::string> initial;  // keys present when the operator started: resume handlers

  [[nodiscard]] bool has(Reason reason) const {
    return std::any_of(handlers.begin(), handlers.end(), [&](const auto& r) { return r.reason == reason; });
  }
  [[nodiscard]] bool detects_changes() const {
    return has(Reason::Create) || has(Reason::Update) || has(Reason::Field);
  }
};

struct TimerState {
  bool scheduled = false;
  Clock::time_point next;
  int failures = 0;
  bool stopped = false;  // PermanentError: not again for this object in this process
};

// What the operator keeps in memory per object. Only the object's reconcile touches it (the work
// queue hands a key to one worker at a time), except `memo`, which daemons share.
struct ObjectState {
  Json memo = Json::object();
  bool seen = false;
  bool resume_pending = false;
  Json last_written;  // our newest write: the cache may still be older
  Json essence;
  Clock::time_point first_seen;
  Clock::time_point changed_at;  // of the essence, for idle timers
  std::map<std::string, TimerState> timers;
  std::map<std::string, std::jthread> daemons;  // finished ones stay: not restarted
};

// A handler call's outcome.
struct Outcome {
  enum Kind { Success, Retry, Failure } kind = Success;
  Json result;
  std::string message;
  milliseconds delay{0};
};

milliseconds backoff_delay(milliseconds base, milliseconds max, int failures) {
  milliseconds delay = base;
  for (int i = 0; i < failures && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

// Only classifies: what to write, retry or report depends on the handler's kind (change, timer,
// daemon), so the callers decide.
Outcome invoke(const Handler& handler, Context& context, milliseconds backoff, milliseconds max_backoff,
               int failures) {
  try {
    return {Outcome::Success, handler(context), {}, {}};
  } catch (const PermanentError& error) {
    return {Outcome::Failure, nullptr, error.what(), {}};
  } catch (const TemporaryError& error) {
    return {Outcome::Retry, nullptr, error.what(), error.delay()};
  } catch (const std::exception& error) {
    return {Outcome::Retry, nullptr, error.what(), backoff_delay(backoff, max_backoff, failures)};
  } catch (...) {
    return {Outcome::Retry, nullptr, "unknown exception", backoff_delay(backoff, max_backoff, failures)};
  }
}

std::string seconds_text(milliseconds delay) {
  return fmt::format("{:g} s", static_cast<double>(delay.count()) / 1000);
}

bool valid_id(const std::string& id) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  // "progress-<id>" must be a valid annotation name: at most 63 characters.
  return !id.empty() && id.size() <= 54 && alnum(id.front()) && alnum(id.back()) &&
         std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string sanitized(std::string text) {
  for (char& c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '-';
  return text.substr(0, 48);
}

// `patch` applied after `into`, composed into one merge patch (RFC 7386: null removes, objects
// merge, anything else replaces).
void compose(Json& into, const Json& patch) {
  for (const auto& [key, value] : patch.items()) {
    if (value.is_object() && into.contains(key) && into[key].is_object()) {
      compose(into[key], value);
    } else {
      into[key] = value;
    }
  }
}

const Json& metadata_of(const Json& object) {
  static const Json kEmpty = Json::object();
  auto found = object.find("metadata");
  return found != object.end() && found->is_object() ? *found : kEmpty;
}

Json annotations_of(const Json& object) { return metadata_of(object).value("annotations", Json::object()); }

}  // namespace

// The operator's state; public members, as only this file sees it.
class detail::OperatorImpl {
 public:
  OperatorImpl(client::Client& client, OperatorOptions options)
      : client_(client),
        options_(std::move(options)),
        queue_(client::WorkQueueOptions{milliseconds(5), std::chrono::minutes(5)}),
        finalizer_("riasc.eu/" + options_.name) {}

  Watched& watched(const client::GroupVersionResource& gvr) {
    if (started_) throw std::logic_error("handlers must be registered before Operator::start()");
    for (auto& w : resources_)
      if (w->gvr.group == gvr.group && w->gvr.version == gvr.version && w->gvr.resource == gvr.resource)
        return *w;
    auto w = std::make_unique<Watched>();
    w->index = resources_.size();
    w->gvr = gvr;
    resources_.push_back(std::move(w));
    return *resources_.back();
  }

  void add(Registration registration, const client::GroupVersionResource& gvr, std::string id) {
    Watched& w = watched(gvr);
    auto taken = [&](const std::string& candidate) {
      return std::any_of(w.handlers.begin(), w.handlers.end(),
                         [&](const auto& r) { return r.id == candidate; });
    };
    if (id.empty()) {
      std::string base = registration.reason == Reason::Field
                             ? "field-" + sanitized(fmt::format("{}", fmt::join(registration.field, ".")))
                             : std::string(to_string(registration.reason));
      id = base;
      for (int n = 2; taken(id); ++n) id = fmt::format("{}-{}", base, n);
    }
    if (!valid_id(id))
      throw std::invalid_argument(fmt::format(
          "handler id \"{}\": at most 54 letters, digits, '-', '_' or '.', beginning and ending alphanumeric",
          id));
    if (taken(id)) throw std::invalid_argument(fmt::format("handler id \"{}\" is registered twice", id));
    registration.id = std::move(id);
    if (registration.reason == Reason::Field && registration.field.front() == "status")
      w.status_fields.push_back(registration.field);
    w.handlers.push_back(std::move(registration));
  }

  void add_index(const client::GroupVersionResource& gvr, const std::string& name, Handler function) {
    Watched& w = watched(gvr);
    if (name.empty()) throw std::invalid_argument("an index needs a name");
    auto [entry, added] = indexes_.emplace(name, std::make_unique<Index>());
    if (!added) throw std::invalid_argument(fmt::format("index \"{}\" is registered twice", name));
    w.indexers.emplace_back(entry->second.get(), std::move(function));
  }
  // From the informer's thread, before the object is queued.
  void update_indexes(const Watched& w, const Json& object, bool deleted);

  void start();
  void stop();
  [[nodiscard]] bool healthy() const;
  void reconcile(const std::string& key);
  Outcome call(const Watched& w, const Registration& r, Context& context, milliseconds backoff, int failures);
  [[nodiscard]] std::string resource_label(const Watched& w) const {
    return w.gvr.group.empty() ? w.gvr.resource : w.gvr.resource + "." + w.gvr.group;
  }
  Json write(const Watched& w, const Json& object, Json patch);
  void event(const Json& object, std::string_view type, std::string_view reason, std::string message);
  void run_daemon(const std::stop_token& stop, const Watched& w, const std::string& object_key,
                  const Registration& daemon, Json* memo);
  static void stop_daemons(ObjectState& state);
  // The SDK's records of an object: "last-handled-configuration", "handling-configuration" and
  // "progress-<id>", as annotations <prefix>/<name> or as members of status.<prefix>.
  [[nodiscard]] std::string record_key(const Watched& w, std::string_view name) const {
    return w.records_in_status ? std::string(name) : options_.annotation_prefix + "/" + std::string(name);
  }
  // The records, from where they go or, when there are none, from the other place (written
  // with another setting), under the names they have where they go.
  [[nodiscard]] Json records_of(const Watched& w, const Json& object) const {
    const std::string prefix = options_.annotation_prefix + "/";
    Json in_annotations = Json::object();
    const Json annotations = annotations_of(object);
    for (const auto& [key, value] : annotations.items())
      if (key.starts_with(prefix)) in_annotations[key] = value;
    const Json& in_status = status_records_of(object);
    if (w.records_in_status) {
      if (!in_status.empty()) return in_status;
      Json renamed = Json::object();
      for (const auto& [key, value] : in_annotations.items()) renamed[key.substr(prefix.size())] = value;
      return renamed;
    }
    if (!in_annotations.empty()) return in_annotations;
    Json renamed = Json::object();
    for (const auto& [key, value] : in_status.items()) renamed[prefix + key] = value;
    return renamed;
  }
  [[nodiscard]] const Json& status_records_of(const Json& object) const {
    static const Json kNone = Json::object();
    auto status = object.find("status");
    if (status == object.end() || !status->is_object()) return kNone;
    auto records = status->find(options_.annotation_prefix);
    return records != status->end() && records->is_object() ? *records : kNone;
  }
  // Records::Auto: whether the server keeps status.<prefix>, asked once per resource by a dry-run
  // patch of `object`'s status.
  void settle_records(const Watched& w, const Json& object);
  [[nodiscard]] Json& records_in(const Watched& w, Json& patch) const {
    Json& records =
        w.records_in_status ? patch["status"][options_.annotation_prefix] : patch["metadata"]["annotations"];
    if (!records.is_object()) records = Json::object();
    return records;
  }
  [[nodiscard]] Logger logger(const std::string& object_key) const { return {object_key, options_.log}; }

  client::Client& client_;
  OperatorOptions options_;
  client::WorkQueue queue_;
  const std::string finalizer_;
  std::vector<std::unique_ptr<Watched>> resources_;
  Indexes indexes_;
  std::thread workers_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> running_{false};     // for healthy(), from the probe server's threads
  std::optional<std::uint64_t> reader_;  // of the metrics, while running
  std::mutex states_mutex_;
  std::map<std::string, std::shared_ptr<ObjectState>> states_;  // by queue key
  std::atomic<std::uint64_t> reconcile_failures_{0};
};

using detail::OperatorImpl;

namespace {

// One reconcile of one object: what is due now, in order (finalizer, deletion or change cycle,
// timers, daemons), and when to look again.
class Cycle {
 public:
  Cycle(OperatorImpl& impl, const Watched& w, std::string key, std::string object_key, ObjectState& state,
        Json object)
      : impl_(impl),
        w_(w),
        key_(std::move(key)),
        object_key_(std::move(object_key)),
        state_(state),
        object_(std::move(object)) {}

  void run() {
    if (!w_.records_settled) impl_.settle_records(w_, object_);
    if (metadata_of(object_).contains("deletionTimestamp")) {
      OperatorImpl::stop_daemons(state_);
      delete_cycle();
    } else {
      const Json essence = detail::essence_of(object_, impl_.options_.annotation_prefix, w_.status_fields);
      const auto now = Clock::now();
      if (!state_.seen) {
        state_.seen = true;
        state_.first_seen = state_.changed_at = now;
        state_.essence = essence;
        state_.resume_pending =
            w_.has(Reason::Resume) && w_.initial.contains(object_key_) &&
            (records().contains(key("last-handled-configuration")) || !w_.detects_changes());
      } else if (!detail::same(state_.essence, essence)) {
        state_.essence = essence;
        state_.changed_at = now;
      }
      if (w_.has(Reason::Delete) != has_finalizer()) {
        // Added only when there is a delete handler; removed when there is none (any more), so a
        // deletion is never held for nothing.
        Json finalizers = without_finalizer();
        if (w_.has(Reason::Delete)) finalizers.push_back(impl_.finalizer_);
        set_finalizers(finalizers);
      }
      change_cycle(essence);
      for (const Registration& r : w_.handlers)
        if (r.reason == Reason::Timer) run_timer(r);
      start_daemons();
    }
    if (wake_) impl_.queue_.add_after(key_, *wake_);
  }

 private:
  // A handler due in this cycle, with what changed for it.
  struct Due {
    const Registration* registration;
    Json old_value;
    Json new_value;
    Diff diff;
  };

  [[nodiscard]] bool has_finalizer() const {
    const Json finalizers = metadata_of(object_).value("finalizers", Json::array());
    return std::find(finalizers.begin(), finalizers.end(), impl_.finalizer_) != finalizers.end();
  }

  // A JSON patch whose test makes the list replacement conditional: another controller's
  // finalizer added meanwhile is never lost (the patch fails and the reconcile is retried). A
  // resourceVersion in a merge patch would do on kube-apiserver, but not on every server.
  void set_finalizers(const Json& finalizers) {
    const Json& metadata = metadata_of(object_);
    const Json patch =
        Json::array({{{"op", "test"},
                      {"path", "/metadata/resourceVersion"},
                      {"value", string_member(metadata, "resourceVersion")}},
                     {{"op", "add"}, {"path", "/metadata/finalizers"}, {"value", finalizers}}});
    client::Resource api = impl_.client_.resource(w_.gvr, string_member(metadata, "namespace"));
    object_ = api.patch(string_member(metadata, "name"), client::PatchType::Json, patch);
    state_.last_written = object_;
  }

  [[nodiscard]] Json without_finalizer() const {
    Json finalizers = Json::array();
    const Json current = metadata_of(object_).value("finalizers", Json::array());
    for (const Json& f : current)
      if (f != impl_.finalizer_) finalizers.push_back(f);
    return finalizers;
  }

  [[nodiscard]] std::string key(std::string_view name) const { return impl_.record_key(w_, name); }
  [[nodiscard]] Json records() const { return impl_.records_of(w_, object_); }
  Json& pending_records() { return impl_.records_in(w_, pending_); }

  // A JSON document kept in record `name`; null when absent or not JSON.
  [[nodiscard]] Json stored(std::string_view name) const {
    const Json all = records();
    const std::string found = key(name);
    if (!all.contains(found) || !all[found].is_string()) return nullptr;
    Json value = Json::parse(all[found].get<std::string>(), nullptr, false);
    return value.is_discarded() ? Json() : value;
  }

  void change_cycle(const Json& essence) {
    const Json last = stored("last-handled-configuration");
    // The state an unfinished cycle handles: a change made meanwhile waits for the next cycle,
    // so that handlers finished earlier in this one see it too, and none sees half a cycle.
    Json handled = stored("handling-configuration");
    const bool continuing = !handled.is_null();
    if (!continuing) handled = essence;

    std::vector<Due> due;
    if (state_.resume_pending) add_due(due, Reason::Resume, nullptr, handled);
    const bool changed = w_.detects_changes() && (last.is_null() || !detail::same(last, handled));
    if (changed) {
      add_due(due, last.is_null() ? Reason::Create : Reason::Update, last, handled);
      for (const Registration& r : w_.handlers) {
        if (r.reason != Reason::Field) continue;
        Json old_value = detail::value_at(last, r.field);
        Json new_value = detail::value_at(handled, r.field);
        if (detail::same(old_value, new_value)) continue;
        Diff changes = detail::diff(old_value, new_value);
        for (DiffEntry& entry : changes)
          entry.path.insert(entry.path.begin(), r.field.begin(), r.field.end());
        due.push_back({&r, std::move(old_value), std::move(new_value), std::move(changes)});
      }
    }
    if (!due.empty() && !continuing) handling_unsaved_ = handled.dump();
    if (!run_all(due)) {
      flush();
      return;
    }
    // The cycle is complete: the next diff starts from what it handled, and no progress is left
    // behind that a later cycle could mistake for its own. A cycle that completes in one reconcile
    // never stored its handled state or its progress, and costs this one write.
    handling_unsaved_.clear();
    end_progress();
    if (changed) pending_records()[key("last-handled-configuration")] = handled.dump();
    if (records().contains(key("handling-configuration")))
      pending_records()[key("handling-configuration")] = nullptr;
    flush();
    state_.resume_pending = false;
  }

  void delete_cycle() {
    if (!has_finalizer()) return;
    std::vector<Due> due;
    add_due(due, Reason::Delete, nullptr, nullptr);
    const bool finished = run_all(due);
    flush();
    if (!finished) return;
    // Progress stays: clearing it first would let a reconcile from a stale cache run the delete
    // handlers again, and the object has no later cycle anyway.
    try {
      set_finalizers(without_finalizer());
    } catch (const client::NotFound&) {
      // Gone already: an earlier reconcile removed the finalizer and the cache is behind.
    }
  }

  void add_due(std::vector<Due>& due, Reason reason, const Json& old_value, const Json& new_value) const {
    for (const Registration& r : w_.handlers)
      if (r.reason == reason) due.push_back({&r, old_value, new_value, detail::diff(old_value, new_value)});
  }

  // Ends the cycle's records, stored and pending: failures stay (marked final) to show why, the
  // rest go, so that no later cycle mistakes them for its own.
  void end_progress() {
    const std::string prefix = key("progress-");
    const Json stored_records = records();
    Json all = stored_records;
    compose(all, pending_records());
    for (const auto& [name, value] : all.items()) {
      if (!name.starts_with(prefix) || value.is_null()) continue;
      Progress progress = Progress::parse(all, name);
      if (progress.final) continue;
      progress.final = true;
      Json& ended = pending_records()[name];
      if (progress.failure) {
        ended = progress.dump();
      } else if (stored_records.contains(name)) {
        ended = nullptr;
      } else {
        pending_records().erase(name);  // never stored: nothing to remove
      }
    }
  }

  // Writes what this reconcile has not stored yet, in one patch of the object (and one of its
  // status subresource).
  void flush() {
    if (!handling_unsaved_.empty()) {
      pending_records()[key("handling-configuration")] = handling_unsaved_;
      handling_unsaved_.clear();
    }
    finished_unsaved_ = false;
    move_records_from_the_other_place();
    for (const auto& [outer, inner] : {std::pair<std::string, std::string>{"metadata", "annotations"},
                                       {"status", impl_.options_.annotation_prefix}}) {
      if (!pending_.contains(outer) || !pending_[outer].is_object()) continue;
      Json& part = pending_[outer];
      if (part.contains(inner) && part[inner].is_object() && part[inner].empty()) part.erase(inner);
      if (part.empty()) pending_.erase(outer);
    }
    if (pending_.empty()) return;
    Json patch = std::exchange(pending_, Json::object());
    write(std::move(patch));
  }

  // Records written with another setting go once these are written where they now go.
  void move_records_from_the_other_place() {
    if (pending_records().empty()) return;
    if (w_.records_in_status) {
      const std::string prefix = impl_.options_.annotation_prefix + "/";
      const Json annotations = annotations_of(object_);
      for (const auto& [key, value] : annotations.items())
        if (key.starts_with(prefix)) pending_["metadata"]["annotations"][key] = nullptr;
    } else if (!impl_.status_records_of(object_).empty()) {
      pending_["status"][impl_.options_.annotation_prefix] = nullptr;
    }
  }

  // Every handler that is due and not delayed runs; true when all have finished.
  bool run_all(const std::vector<Due>& due) {
    bool finished = true;
    for (const Due& d : due)
      if (!run_handler(d)) finished = false;
    return finished;
  }

  bool run_handler(const Due& due) {
    const Registration& r = *due.registration;
    const std::string progress_key = key("progress-" + r.id);
    Progress progress = Progress::parse(records(), progress_key);
    if (progress.final) progress = Progress();  // an earlier cycle's
    if (progress.done()) return true;
    const auto now = SystemClock::now();
    if (auto until = parse_rfc3339(progress.delayed_until); until && *until > now) {
      wake_in(std::chrono::duration_cast<milliseconds>(*until - now) + milliseconds(1));
      return false;
    }
    // A handler finished earlier in this reconcile is stored before the next one starts, so that
    // a restarted operator does not run it again.
    if (finished_unsaved_) flush();
    if (progress.started.empty()) progress.started = format_time(now);
    Context context(state_for(r, due.old_value, due.new_value, due.diff, progress.retries));
    Outcome outcome;
    const auto started = parse_rfc3339(progress.started).value_or(now);
    if (r.options.timeout.count() > 0 && now - started > r.options.timeout) {
      outcome = {
          Outcome::Failure, nullptr, fmt::format("timed out after {}", seconds_text(r.options.timeout)), {}};
    } else {
      outcome = impl_.call(w_, r, context, r.options.backoff, progress.retries);
    }
    if (outcome.kind == Outcome::Retry && r.options.retries && progress.retries >= *r.options.retries) {
      outcome = {Outcome::Failure,
                 nullptr,
                 fmt::format("gave up after {} retries: {}", progress.retries, outcome.message),
                 {}};
    }
    Json patch = context.patch_document();
    progress.message = outcome.message;
    progress.delayed_until.clear();
    switch (outcome.kind) {
      case Outcome::Success:
        progress.success = true;
        if (!outcome.result.is_null()) patch["status"][r.id] = outcome.result;
        break;
      case Outcome::Retry:
        ++progress.retries;
        // Rounded up: persisted in milliseconds, the delay must not come out shorter.
        progress.delayed_until =
            format_time(std::chrono::ceil<milliseconds>(SystemClock::now() + outcome.delay));
        wake_in(outcome.delay);
        break;
      case Outcome::Failure:
        progress.failure = true;
        break;
    }
    impl_.records_in(w_, patch)[progress_key] = progress.dump();
    compose(pending_, patch);
    finished_unsaved_ = progress.done();
    report(r, outcome, true);
    return progress.done();
  }

  void run_timer(const Registration& r) {
    TimerState& timer = state_.timers[r.id];
    if (timer.stopped) return;
    if (!timer.scheduled) {
      timer.scheduled = true;
      timer.next = state_.first_seen + r.timer.initial_delay;
    }
    auto due = timer.next;
    if (r.timer.idle.count() > 0) due = std::max(due, state_.changed_at + r.timer.idle);
    auto now = Clock::now();
    if (due > now) {
      wake_in(std::chrono::duration_cast<milliseconds>(due - now) + milliseconds(1));
      return;
    }
    Context context(state_for(r, nullptr, nullptr, {}, timer.failures));
    Outcome outcome = impl_.call(w_, r, context, r.timer.backoff, timer.failures);
    Json patch = context.patch_document();
    now = Clock::now();
    switch (outcome.kind) {
      case Outcome::Success:
        timer.failures = 0;
        timer.next = now + r.timer.interval;
        if (!outcome.result.is_null()) patch["status"][r.id] = outcome.result;
        break;
      case Outcome::Retry:
        ++timer.failures;
        timer.next = now + outcome.delay;
        break;
      case Outcome::Failure:
        timer.stopped = true;
        break;
    }
    if (!patch.empty()) write(std::move(patch));
    report(r, outcome, false);
    if (!timer.stopped) wake_in(std::chrono::duration_cast<milliseconds>(timer.next - now));
  }

  void start_daemons() {
    for (const Registration& r : w_.handlers) {
      if (r.reason != Reason::Daemon || state_.daemons.contains(r.id)) continue;
      state_.daemons.emplace(
          r.id, std::jthread([&impl = impl_, &w = w_, key = object_key_, &r, memo = &state_.memo](
                                 const std::stop_token& stop) { impl.run_daemon(stop, w, key, r, memo); }));
    }
  }

  detail::ContextState state_for(const Registration& r, Json old_value, Json new_value, Diff diff,
                                 int retry) {
    detail::ContextState state;
    state.reason = r.reason;
    state.handler_id = r.id;
    state.retry = retry;
    state.body = object_;
    state.old_value = std::move(old_value);
    state.new_value = std::move(new_value);
    state.diff = std::move(diff);
    state.memo = &state_.memo;
    state.logger = impl_.logger(object_key_);
    state.indexes = &impl_.indexes_;
    return state;
  }

  // Events and log lines for an outcome; successes of timers would only be noise.
  void report(const Registration& r, const Outcome& outcome, bool report_success) {
    const Logger log = impl_.logger(object_key_);
    switch (outcome.kind) {
      case Outcome::Success:
        if (!report_success) return;
        log.info("handler {} succeeded", r.id);
        if (impl_.options_.success_events)
          impl_.event(object_, "Normal", "HandlerSucceeded", fmt::format("Handler {} succeeded.", r.id));
        return;
      case Outcome::Retry:
        log.warning("handler {} failed, retrying in {}: {}", r.id, seconds_text(outcome.delay),
                    outcome.message);
        impl_.event(object_, "Warning", "HandlerRetrying",
                    fmt::format("Handler {} failed, retrying in {}: {}", r.id, seconds_text(outcome.delay),
                                outcome.message));
        return;
      case Outcome::Failure:
        log.error("handler {} failed permanently: {}", r.id, outcome.message);
        impl_.event(object_, "Warning", "HandlerFailed",
                    fmt::format("Handler {} failed permanently: {}", r.id, outcome.message));
        return;
    }
  }

  void write(Json patch) {
    object_ = impl_.write(w_, object_, std::move(patch));
    state_.last_written = object_;
  }

  void wake_in(milliseconds delay) {
    delay = std::max(delay, milliseconds(1));
    if (!wake_ || delay < *wake_) wake_ = delay;
  }

  OperatorImpl& impl_;
  const Watched& w_;
  std::string key_;
  std::string object_key_;
  ObjectState& state_;
  Json object_;
  std::optional<milliseconds> wake_;
  // This reconcile's writes not sent yet (a merge patch), so that a cycle completed in one
  // reconcile costs one write.
  Json pending_ = Json::object();
  bool finished_unsaved_ = false;  // a handler's completion is only in pending_
  std::string handling_unsaved_;   // the state this cycle handles, for its annotation
};

}  // namespace

void OperatorImpl::start() {
  if (started_) throw std::logic_error("Operator::start() called twice");
  started_ = true;
  for (auto& w : resources_) {
    const client::ResourceInfo info = client_.resolve(w->gvr);
    w->status_subresource =
        std::find(info.subresources.begin(), info.subresources.end(), "status") != info.subresources.end();
    w->records_in_status = options_.records == Records::Status;
    w->records_settled = options_.records != Records::Auto || !w->status_subresource;
    // The namespace option scopes namespaced resources; cluster-scoped ones have no namespace.
    const std::string scope = info.namespaced ? options_.namespace_name : std::string();
    w->informer = std::make_unique<client::Informer>(client_.resource(w->gvr, scope), options_.informer);
    const bool handled = !w->handlers.empty();
    auto enqueue = [this, &w = *w, handled](const Json& object, bool deleted) {
      if (!w.indexers.empty()) update_indexes(w, object, deleted);
      if (handled) queue_.add(fmt::format("{}|{}", w.index, client::Store::key_of(object)));
    };
    w->informer->on_add([enqueue](const Json& object) { enqueue(object, false); });
    w->informer->on_update([enqueue](const Json&, const Json& object) { enqueue(object, false); });
    w->informer->on_delete([enqueue](const Json& object) { enqueue(object, true); });
    w->informer->start();
  }
  for (auto& w : resources_) {
    if (!w->informer->wait_for_sync(options_.sync_timeout))
      throw std::runtime_error(fmt::format("the cache of {} did not fill within {}", w->gvr.resource,
                                           seconds_text(options_.sync_timeout)));
    const auto keys = w->informer->store().keys();
    w->initial = std::set<std::string>(keys.begin(), keys.end());
  }
  if (Metrics* m = options_.metrics)
    reader_ = m->add_reader([this, m] {
      const auto depth = static_cast<double>(queue_.depth());
      m->queue_depth.with({options_.name}).set(depth);
      m->workqueue_depth.with({options_.name}).set(depth);
      for (const auto& w : resources_)
        m->watch_restarts.with({options_.name, resource_label(*w)})
            .set_total(static_cast<double>(std::max<std::uint64_t>(w->informer->watches(), 1) - 1));
    });
  workers_ = std::thread([this] {
    queue_.run(std::max<std::size_t>(options_.workers, 1), [this](const std::string& key) {
      // After each reconcile, however it ends.
      struct Account {
        OperatorImpl& impl;
        std::chrono::steady_clock::time_point began;
        const char* result = "error";
        ~Account() {
          Metrics* m = impl.options_.metrics;
          if (!m) return;
          const std::string& name = impl.options_.name;
          m->queue_depth.with({name}).set(static_cast<double>(impl.queue_.depth()));
          m->reconcile_total.with({name, result}).increment();
          m->reconcile_time.with({name}).observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
        }
      } account{*this, std::chrono::steady_clock::now()};
      try {
        reconcile(key);
        account.result = "success";
      } catch (const std::exception& error) {
        ++reconcile_failures_;
        if (options_.metrics) {
          options_.metrics->reconcile_errors
              .with({options_.name, resource_label(*resources_.at(std::stoul(key)))})
              .increment();
          options_.metrics->reconcile_errors_total.with({options_.name}).increment();
        }
        logger(key.substr(key.find('|') + 1)).warning("reconcile failed, retrying: {}", error.what());
        throw;
      }
    });
  });
  running_ = true;
}

void OperatorImpl::update_indexes(const Watched& w, const Json& object, bool deleted) {
  const std::string object_key = client::Store::key_of(object);
  for (const auto& [index, function] : w.indexers) {
    if (deleted) {
      index->erase(object_key);
      continue;
    }
    Json memo = Json::object();  // index functions have no per-object memo: they run apart
    detail::ContextState state;
    state.reason = Reason::Index;
    state.body = object;
    state.memo = &memo;
    state.logger = logger(object_key);
    state.indexes = &indexes_;
    Context context(std::move(state));
    try {
      index->set(object_key, function(context));
    } catch (const std::exception& error) {
      // Left out rather than kept stale; the next change of the object tries again.
      index->erase(object_key);
      context.logger().warning("index function failed, the object is not indexed: {}", error.what());
    }
  }
}

void OperatorImpl::settle_records(const Watched& w, const Json& object) {
  std::lock_guard lock(w.records_probe);
  if (w.records_settled) return;
  const Json& metadata = metadata_of(object);
  client::PatchOptions dry_run;
  dry_run.subresource = "status";
  dry_run.dry_run = true;
  const Json probe = {{"status", {{options_.annotation_prefix, {{"probe", "kept"}}}}}};
  const Json answer = client_.resource(w.gvr, string_member(metadata, "namespace"))
                          .patch(string_member(metadata, "name"), client::PatchType::Merge, probe, dry_run);
  w.records_in_status = status_records_of(answer).value("probe", "") == "kept";
  w.records_settled = true;
  logger(client::Store::key_of(object))
      .info("the SDK keeps its records of {} in {}", resource_label(w),
            w.records_in_status ? "status." + options_.annotation_prefix : std::string("annotations"));
}

bool OperatorImpl::healthy() const {
  if (!running_ || queue_.shutting_down()) return false;
  return std::all_of(resources_.begin(), resources_.end(),
                     [](const auto& w) { return w->informer->has_synced(); });
}

void OperatorImpl::stop() {
  if (stopped_) return;
  stopped_ = true;
  running_ = false;
  if (reader_) options_.metrics->remove_reader(*reader_);
  queue_.shut_down();
  if (workers_.joinable()) workers_.join();
  // Ask every daemon first and wait after: they stop in parallel, not one after another.
  std::map<std::string, std::shared_ptr<ObjectState>> states;
  {
    std::lock_guard lock(states_mutex_);
    states.swap(states_);
  }
  for (auto& [key, state] : states)
    for (auto& [id, daemon] : state->daemons) daemon.request_stop();
  for (auto& [key, state] : states) stop_daemons(*state);
  for (auto& w : resources_)
    if (w->informer) w->informer->stop();
}

void OperatorImpl::stop_daemons(ObjectState& state) {
  for (auto& [id, daemon] : state.daemons) daemon.request_stop();
  for (auto& [id, daemon] : state.daemons)
    if (daemon.joinable()) daemon.join();
  // Entries stay: a deleted object's daemons are not started again while it lingers.
}

void OperatorImpl::reconcile(const std::string& key) {
  const std::size_t bar = key.find('|');
  const Watched& w = *resources_.at(std::stoul(key.substr(0, bar)));
  std::string object_key = key.substr(bar + 1);
  std::optional<Json> cached = w.informer->store().get(object_key);
  std::shared_ptr<ObjectState> state;
  {
    std::lock_guard lock(states_mutex_);
    auto found = states_.find(key);
    if (found != states_.end()) {
      state = found->second;
    } else if (cached) {
      state = states_.emplace(key, std::make_shared<ObjectState>()).first->second;
    }
  }
  if (!cached) {
    if (!state) return;
    stop_daemons(*state);  // before the state goes: daemons point into it
    std::lock_guard lock(states_mutex_);
    states_.erase(key);
    return;
  }
  Json object = std::move(*cached);
  const Json& written = state->last_written;
  if (written.is_object() &&
      string_member(metadata_of(written), "uid") == string_member(metadata_of(object), "uid") &&
      detail::newer(written, object))
    object = written;  // the cache has not seen our last write yet
  Cycle(*this, w, key, std::move(object_key), *state, std::move(object)).run();
}

Outcome OperatorImpl::call(const Watched& w, const Registration& r, Context& context, milliseconds backoff,
                           int failures) {
  const auto start = Clock::now();
  Outcome outcome = invoke(r.handler, context, backoff, r.options.max_backoff, failures);
  if (Metrics* m = options_.metrics) {
    static constexpr const char* kOutcomes[] = {"success", "retry", "failure"};
    const std::string resource = resource_label(w);
    m->handler_calls.with({options_.name, resource, r.id, kOutcomes[outcome.kind]}).increment();
    m->handler_seconds.with({options_.name, resource, r.id})
        .observe(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return outcome;
}

Json OperatorImpl::write(const Watched& w, const Json& object, Json patch) {
  const Json& metadata = metadata_of(object);
  const std::string name = string_member(metadata, "name");
  client::Resource api = client_.resource(w.gvr, string_member(metadata, "namespace"));
  const bool writes_records = w.records_in_status && patch.contains("status") &&
                              patch["status"].is_object() &&
                              patch["status"].contains(options_.annotation_prefix);
  Json latest = object;
  auto keep = [&](Json answer) {
    if (!answer.is_object() || answer.value("kind", "") == "Status") return;
    if (writes_records && !answer.value("status", Json::object()).contains(options_.annotation_prefix)) {
      // A structural schema without the field prunes it: the records would be lost on every
      // write and the handlers run again and again.
      w.records_in_status = false;
      logger(client::Store::key_of(object))
          .error(
              "status.{} was pruned by the server (its schema does not keep unknown fields there); "
              "the SDK keeps its records of {} in annotations from now on",
              options_.annotation_prefix, resource_label(w));
      throw std::runtime_error(fmt::format("status.{} was pruned", options_.annotation_prefix));
    }
    latest = std::move(answer);
  };
  if (w.status_subresource && patch.contains("status")) {
    client::PatchOptions options;
    options.subresource = "status";
    keep(api.patch(name, client::PatchType::Merge, Json{{"status", patch["status"]}}, options));
    patch.erase("status");
  }
  if (!patch.empty()) keep(api.patch(name, client::PatchType::Merge, patch));
  return latest;
}

void OperatorImpl::event(const Json& object, std::string_view type, std::string_view reason,
                         std::string message) {
  try {
    post_event(client_, object, type, reason, std::move(message), options_.name);
  } catch (const std::exception& error) {
    // Events are for people; losing one must not fail or repeat the handler.
    const Json& metadata = metadata_of(object);
    std::string namespace_name = string_member(metadata, "namespace");
    if (namespace_name.empty()) namespace_name = "default";
    logger(namespace_name + "/" + string_member(metadata, "name"))
        .warning("event not recorded: {}", error.what());
  }
}

void OperatorImpl::run_daemon(const std::stop_token& stop, const Watched& w, const std::string& object_key,
                              const Registration& daemon, Json* memo) {
  const Logger log = logger(object_key);
  metrics::Gauge* running = nullptr;
  if (options_.metrics) running = &options_.metrics->daemons.with({options_.name, resource_label(w)});
  struct Running {
    metrics::Gauge* gauge;
    explicit Running(metrics::Gauge* g) : gauge(g) {
      if (gauge) gauge->add(1);
    }
    ~Running() {
      if (gauge) gauge->add(-1);
    }
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
  } counted(running);
  milliseconds delay = daemon.daemon.initial_delay;
  int failures = 0;
  auto latest = [&w, object_key] { return w.informer->store().get(object_key).value_or(Json()); };
  for (;;) {
    detail::ContextState state;
    state.stop = stop;
    if (delay.count() > 0 && !Context(state).sleep_for(delay)) return;
    if (stop.stop_requested()) return;
    const Json body = latest();
    if (body.is_null()) return;
    state.reason = Reason::Daemon;
    state.handler_id = daemon.id;
    state.retry = failures;
    state.body = body;
    state.memo = memo;
    state.logger = log;
    state.latest = latest;
    state.indexes = &indexes_;
    Context context(std::move(state));
    Outcome outcome = call(w, daemon, context, daemon.daemon.backoff, failures);
    Json patch = context.patch_document();
    if (outcome.kind == Outcome::Success && !outcome.result.is_null())
      patch["status"][daemon.id] = outcome.result;
    try {
      if (!patch.empty()) write(w, context.latest(), std::move(patch));
    } catch (const std::exception& error) {
      log.warning("daemon {}: patch not applied: {}", daemon.id, error.what());
    }
    switch (outcome.kind) {
      case Outcome::Success:
        log.info("daemon {} finished", daemon.id);
        return;
      case Outcome::Failure:
        log.error("daemon {} failed permanently: {}", daemon.id, outcome.message);
        event(body, "Warning", "HandlerFailed",
              fmt::format("Daemon {} failed permanently: {}", daemon.id, outcome.message));
        return;
      case Outcome::Retry:
        ++failures;
        delay = outcome.delay;
        log.warning("daemon {} failed, restarting in {}: {}", daemon.id, seconds_text(delay),
                    outcome.message);
        event(body, "Warning", "HandlerRetrying",
              fmt::format("Daemon {} failed, restarting in {}: {}", daemon.id, seconds_text(delay),
                          outcome.message));
        break;
    }
  }
}

Operator::Operator(client::Client& client, OperatorOptions options)
    : impl_(std::make_unique<OperatorImpl>(client, std::move(options))) {}

Operator::~Operator() { stop(); }

void Operator::add(Reason reason, const client::GroupVersionResource& resource, std::string field,
                   Handler handler, HandlerOptions options) {
  std::vector<std::string> path;
  if (reason == Reason::Field) {
    if (field.empty()) throw std::invalid_argument("on_field needs a field path");
    path = detail::split_path(field);
  }
  std::string id = options.id;
  impl_->add({.reason = reason,
              .field = std::move(path),
              .handler = std::move(handler),
              .options = std::move(options)},
             resource, std::move(id));
}

void Operator::add_timer(const client::GroupVersionResource& resource, Handler handler,
                         TimerOptions options) {
  if (options.interval.count() <= 0) throw std::invalid_argument("a timer needs a positive interval");
  std::string id = options.id;
  impl_->add({.reason = Reason::Timer, .handler = std::move(handler), .timer = std::move(options)}, resource,
             std::move(id));
}

void Operator::add_daemon(const client::GroupVersionResource& resource, Handler handler,
                          DaemonOptions options) {
  std::string id = options.id;
  impl_->add({.reason = Reason::Daemon, .handler = std::move(handler), .daemon = std::move(options)},
             resource, std::move(id));
}

AdmissionServer& Operator::admission() {
  if (!admission_) {
    AdmissionServerOptions options = impl_->options_.admission;
    if (options.configuration_name.empty()) options.configuration_name = impl_->options_.name + ".riasc.eu";
    admission_ = std::make_unique<AdmissionServer>(std::move(options), impl_->options_.log);
  }
  return *admission_;
}

void Operator::on_validate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                           AdmissionOptions options) {
  admission().on_validate(resource, std::move(handler), std::move(options));
}

void Operator::on_mutate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                         AdmissionOptions options) {
  admission().on_mutate(resource, std::move(handler), std::move(options));
}

void Operator::add_index(const client::GroupVersionResource& resource, const std::string& name,
                         Handler function) {
  impl_->add_index(resource, name, std::move(function));
}

const Index& Operator::get_index(std::string_view name) const {
  auto found = impl_->indexes_.find(name);
  if (found == impl_->indexes_.end())
    throw std::out_of_range(fmt::format("no index named \"{}\" is registered with the operator", name));
  return *found->second;
}

void Operator::start() {
  if (admission_) admission_->start(&impl_->client_);
  if (!impl_->options_.leader_election) {
    impl_->start();
    return;
  }
  if (elector_) throw std::logic_error("Operator::start() called twice");
  LeaderElectionOptions election = *impl_->options_.leader_election;
  if (!election.metrics) election.metrics = impl_->options_.metrics;
  election.log = impl_->options_.log;
  election.on_started_leading = [this, chained = std::move(election.on_started_leading)] {
    try {
      impl_->start();
    } catch (const std::exception& error) {
      impl_->logger("").error("cannot start handling: {}", error.what());
    }
    if (chained) chained();
  };
  election.on_stopped_leading = [this, chained = std::move(election.on_stopped_leading)] {
    impl_->stop();
    if (chained) chained();
  };
  elector_ = std::make_unique<LeaderElector>(impl_->client_, std::move(election));
  elector_->start();
}

void Operator::stop() {
  if (elector_) elector_->stop();  // handlers stop before the Lease is released
  impl_->stop();
  if (admission_) admission_->stop();
}

bool Operator::healthy() const {
  if (elector_ && !elector_->is_leader()) return !elector_->finished();
  return impl_->healthy();
}

bool Operator::is_leader() const { return elector_ ? elector_->is_leader() : impl_->running_.load(); }
const std::string& Operator::name() const { return impl_->options_.name; }
std::uint64_t Operator::reconcile_failures() const { return impl_->reconcile_failures_; }

}  // namespace riasc::op
