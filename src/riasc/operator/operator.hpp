#pragma once

// The operator SDK: kopf's handler model (create, update, delete, resume, field, timer, daemon;
// TemporaryError and PermanentError; a memo per object; results in status) on a level-triggered
// core: one informer per resource, one work queue, one reconcile per object at a time. Progress
// lives on the objects themselves (annotations), so a restarted operator carries on where the
// last one stopped. docs/operator-sdk.md has the whole picture.
//
//   op::Operator operator_(api, {.name = "widgets"});
//   operator_.on_create(kWidgets, [](op::Context& ctx) { return Json{{"size", ctx.spec()["size"]}}; });
//   operator_.on_field(kWidgets, "spec.size", [](op::Context& ctx) { resize(ctx.new_value()); });
//   operator_.on_delete(kWidgets, [](op::Context& ctx) { release(ctx.name()); });
//   operator_.start();

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "riasc/client/client.hpp"
#include "riasc/client/informer.hpp"
#include "riasc/operator/admission.hpp"
#include "riasc/operator/context.hpp"
#include "riasc/operator/errors.hpp"
#include "riasc/operator/leader_election.hpp"
#include "riasc/operator/metrics.hpp"

namespace riasc::op {

namespace detail {
class OperatorImpl;
}

// A handler's result, when not null, is written to status.<handler id>.
using Handler = std::function<Json(Context& context)>;

struct HandlerOptions {
  // Names the handler in annotations and status; defaults to its kind ("create", "update",
  // "field-spec.size"), numbered when repeated. Set it when handlers may be reordered or added:
  // a restarted operator finds finished work by id.
  std::string id{};
  // Across all attempts since the first: then the handler fails for good. Zero: no limit.
  std::chrono::milliseconds timeout{0};
  // How often a failed handler is tried again before it fails for good. Unset: no limit.
  std::optional<int> retries{};
  // Unexpected exceptions: retried after backoff, 2 × backoff, 4 × ... up to max_backoff.
  std::chrono::milliseconds backoff{1000};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
};

struct TimerOptions {
  std::string id{};
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds initial_delay{0};  // after the operator first sees the object
  std::chrono::milliseconds idle{0};           // only when spec/labels/annotations unchanged this long
  std::chrono::milliseconds backoff{1000};     // after an unexpected exception, doubling
};

struct DaemonOptions {
  std::string id{};
  std::chrono::milliseconds initial_delay{0};
  std::chrono::milliseconds backoff{1000};  // restart after an unexpected exception, doubling
};

// Where the SDK keeps its records of an object: the state its handlers last handled, and each
// handler's progress in an unfinished cycle.
enum class Records {
  // Status for a resource with a status subresource whose schema keeps status.<prefix> (asked
  // once per resource by a dry-run patch), else annotations.
  Auto,
  // <prefix>/last-handled-configuration, <prefix>/progress-<id>: safe with any schema. With a
  // status subresource, a cycle's result and its records are two writes.
  Annotations,
  // Members of status.<prefix>: one write per cycle even with a status subresource, but the
  // CRD's status schema must keep the field (x-kubernetes-preserve-unknown-fields). When the server
  // prunes it, the SDK logs an error and goes back to annotations for that resource.
  Status,
};
// Records are read from where they go or, when there are none there, from the other place, and
// moved with the next write: changing the setting does not make handlers run again.

struct OperatorOptions {
  // The finalizer is riasc.eu/<name>; events name it as their source.
  std::string name = "operator";
  // Names the SDK's records (see Records): annotations <prefix>/progress-<id> and
  // <prefix>/last-handled-configuration, or status.<prefix>. Two operators handling the same
  // objects need different prefixes.
  std::string annotation_prefix = "riasc.eu";
  std::string namespace_name{};  // "" : all namespaces
  std::size_t workers = 4;       // reconciles at once (of different objects)
  // A Normal `HandlerSucceeded` event for every finished change and delete handler, as kopf posts.
  // Each is one more write to the API server per handled object; retries and failures are always
  // recorded.
  bool success_events = true;
  Records records = Records::Auto;
  client::InformerOptions informer{};
  std::chrono::milliseconds sync_timeout{std::chrono::seconds(30)};
  LogSink log = stderr_sink();
  Metrics* metrics = nullptr;  // shared by the operators of a process; outlives them
  // Several replicas: only the holder of this Lease runs handlers. start() then returns at once
  // and handling starts when leadership is won; when it is lost, handling stops for good and
  // healthy() turns false, so that the liveness probe restarts the replica (controller-runtime
  // exits instead). It logs to the operator's sink, its metrics default to the operator's, and
  // its callbacks run after the operator's own.
  std::optional<LeaderElectionOptions> leader_election{};
  // The webhook server of on_validate and on_mutate handlers. It serves on every replica, leader
  // or not, as the API server may call any of them.
  AdmissionServerOptions admission{};
};

class Operator {
 public:
  explicit Operator(client::Client& client, OperatorOptions options = {});
  ~Operator();  // stop()
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  // Registration, before start(). Handlers may return void or anything convertible to Json.
  template <typename F>
  void on_create(const client::GroupVersionResource& resource, F&& handler, HandlerOptions options = {}) {
    add(Reason::Create, resource, {}, wrap(std::forward<F>(handler)), std::move(options));
  }
  template <typename F>
  void on_update(const client::GroupVersionResource& resource, F&& handler, HandlerOptions options = {}) {
    add(Reason::Update, resource, {}, wrap(std::forward<F>(handler)), std::move(options));
  }
  // The object stays (a finalizer holds it) until every delete handler has finished.
  template <typename F>
  void on_delete(const client::GroupVersionResource& resource, F&& handler, HandlerOptions options = {}) {
    add(Reason::Delete, resource, {}, wrap(std::forward<F>(handler)), std::move(options));
  }
  // Once per operator process for each object that existed when it started.
  template <typename F>
  void on_resume(const client::GroupVersionResource& resource, F&& handler, HandlerOptions options = {}) {
    add(Reason::Resume, resource, {}, wrap(std::forward<F>(handler)), std::move(options));
  }
  // When the value at `field` ("spec.size", dotted) differs from the last handled one, creation
  // included; old_value()/new_value() are the field's.
  template <typename F>
  void on_field(const client::GroupVersionResource& resource, std::string field, F&& handler,
                HandlerOptions options = {}) {
    add(Reason::Field, resource, std::move(field), wrap(std::forward<F>(handler)), std::move(options));
  }
  template <typename F>
  void timer(const client::GroupVersionResource& resource, F&& handler, TimerOptions options) {
    add_timer(resource, wrap(std::forward<F>(handler)), std::move(options));
  }
  // A thread per object, from when it is seen until it is deleted or the operator stops (then
  // its stop_token() is requested and the SDK waits for it). A daemon that returns is done until
  // the operator restarts.
  template <typename F>
  void daemon(const client::GroupVersionResource& resource, F&& handler, DaemonOptions options = {}) {
    add_daemon(resource, wrap(std::forward<F>(handler)), std::move(options));
  }

  // An index over a resource's objects, read by every handler as Context::index(name): `function`
  // returns {key: value, ...} for an object, or null (see index.hpp). Kept current from the
  // cache, before handlers see a change; an index function must not call the API.
  template <typename F>
  void index(const client::GroupVersionResource& resource, const std::string& name, F&& function) {
    add_index(resource, name, wrap(std::forward<F>(function)));
  }

  // An index by name, as handlers see it; std::out_of_range when there is none.
  [[nodiscard]] const Index& get_index(std::string_view name) const;

  // Admission: called by the API server before it stores a write (see admission.hpp). They run
  // on the webhook server's thread, apart from the reconciles, and see only the request.
  void on_validate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                   AdmissionOptions options = {});
  void on_mutate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                 AdmissionOptions options = {});
  // The webhook server, made by the first admission handler; null without one.
  [[nodiscard]] AdmissionServer* admission_server() const { return admission_.get(); }

  // Resolves the resources, lists them, then starts handling. Throws when a resource is not served
  // or a cache does not fill within sync_timeout.
  void start();
  // Stops daemons, reconciles (those running finish) and informers.
  void stop();

  // For /healthz: the caches are filled and the workers run, or a replica waits for leadership.
  [[nodiscard]] bool healthy() const;
  [[nodiscard]] bool is_leader() const;  // true without leader election once started
  [[nodiscard]] const std::string& name() const;

  // Reconciles that threw (API errors) and were queued again; for tests and metrics.
  [[nodiscard]] std::uint64_t reconcile_failures() const;

 private:
  template <typename F>
  static Handler wrap(F&& handler) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Context&>>) {
      return [handler = std::forward<F>(handler)](Context& context) mutable -> Json {
        handler(context);
        return nullptr;
      };
    } else {
      return
          [handler = std::forward<F>(handler)](Context& context) mutable -> Json { return handler(context); };
    }
  }
  void add(Reason reason, const client::GroupVersionResource& resource, std::string field, Handler handler,
           HandlerOptions options);
  void add_timer(const client::GroupVersionResource& resource, Handler handler, TimerOptions options);
  void add_daemon(const client::GroupVersionResource& resource, Handler handler, DaemonOptions options);
  void add_index(const client::GroupVersionResource& resource, const std::string& name, Handler function);

  AdmissionServer& admission();

  std::unique_ptr<detail::OperatorImpl> impl_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<AdmissionServer> admission_;
};

}  // namespace riasc::op
