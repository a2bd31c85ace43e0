#include "riasc/apiserver/api_server.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "riasc/apiserver/garbage_collector.hpp"
#include "riasc/apiserver/pod_logs.hpp"
#include "riasc/apiserver/rbac_authorizer.hpp"
#include "riasc/apiserver/service_account_tokens.hpp"
#include "riasc/apiserver/token_authenticator.hpp"
#include "riasc/apiserver/webhook_admission.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/core/field_selector.hpp"
#include "riasc/core/go_quote.hpp"
#include "riasc/core/label_selector.hpp"
#include "riasc/core/metrics.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/kubeapi/protobuf_body.hpp"
#include "riasc/kubeapi/resource_path.hpp"
#include "riasc/kubeapi/selectable_fields.hpp"
#include "riasc/kubeapi/server_side_apply.hpp"
#include "riasc/kubeapi/status.hpp"
#include "riasc/kubeapi/strategic_merge.hpp"
#include "riasc/kubeapi/table.hpp"

namespace riasc::apiserver {

// The wire format and rules of the Kubernetes API (src/riasc/kubeapi).
using namespace riasc::kubeapi;  // NOLINT(google-build-using-namespace)

namespace asio = boost::asio;

namespace {

// The minor version decides which kubectl the machine's dispatcher runs (kube-api-surface.md §1):
// 32 keeps its built-in 1.32.4.
constexpr std::string_view kKubernetesMinor = "32";
constexpr auto kDefaultWatchTimeout = std::chrono::minutes(30);

bool wants_table(std::string_view accept) {
  return accept.find("as=Table") != std::string_view::npos &&
         accept.find("g=meta.k8s.io") != std::string_view::npos;
}

std::string event_type(store::Event::Type type) {
  switch (type) {
    case store::Event::Type::Added:
      return "ADDED";
    case store::Event::Type::Modified:
      return "MODIFIED";
    case store::Event::Type::Deleted:
      return "DELETED";
  }
  return "ERROR";
}

// Remembers the status code a handler answers with, for the request metrics.
class MeteredExchange : public http::Exchange {
 public:
  explicit MeteredExchange(http::Exchange& inner) : inner_(inner) {}
  [[nodiscard]] const http::Request& request() const override { return inner_.request(); }
  asio::awaitable<void> respond(http::Response response) override {
    status_ = response.status;
    co_await inner_.respond(std::move(response));
  }
  asio::awaitable<bool> start_stream(unsigned status, http::Headers headers) override {
    status_ = status;
    bool started = co_await inner_.start_stream(status, std::move(headers));
    co_return started;
  }
  asio::awaitable<bool> write_chunk(std::string chunk) override {
    bool written = co_await inner_.write_chunk(std::move(chunk));
    co_return written;
  }
  asio::awaitable<void> wait(std::chrono::milliseconds timeout) override { co_await inner_.wait(timeout); }
  [[nodiscard]] std::function<void()> waker() override { return inner_.waker(); }
  [[nodiscard]] unsigned status() const { return status_; }

 private:
  http::Exchange& inner_;
  unsigned status_ = 0;
};

// Counts something open (a watch) for as long as it lives.
class GaugeHold {
 public:
  explicit GaugeHold(metrics::Gauge& gauge) : gauge_(gauge) { gauge_.add(1); }
  ~GaugeHold() { gauge_.add(-1); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;

 private:
  metrics::Gauge& gauge_;
};

// kube-apiserver's verb names for the request metrics.
std::string metric_verb(const http::Request& request, const RequestTarget& target) {
  const std::string& method = request.method;
  const bool collection = target.path.kind == ResourcePath::Kind::Resource && target.path.is_collection();
  if (method == "GET") return target.query.watch ? "WATCH" : collection ? "LIST" : "GET";
  if (method == "DELETE" && collection) return "DELETECOLLECTION";
  if (method == "PATCH" && request.header("content-type").starts_with("application/apply-patch"))
    return "APPLY";
  return method;
}

}  // namespace

class ApiServer::Impl {
 public:
  explicit Impl(ApiServerOptions options) : options_(std::move(options)) {}

  void start() {
    if (!options_.token_auth_file.empty()) tokens_ = TokenAuthenticator::load(options_.token_auth_file);
    std::filesystem::create_directories(options_.data_dir);
    store::Options store_options;
    store_options.path = options_.data_dir / "state.db";
    store_options.fsync = options_.fsync;
    store_ = store::Store::open(store_options);
    registry_ = ResourceRegistry::with_builtins();
    register_store_metrics();
    objects_ = std::make_unique<ObjectService>(*store_, *registry_);
    admission_ = std::make_unique<WebhookAdmission>(*store_, *registry_);
    objects_->set_admission(admission_.get());
    rbac_ = std::make_unique<RbacAuthorizer>(*store_, *registry_, *objects_);
    objects_->load_crds();
    install_builtin_crds();
    ensure_namespace("default");
    rbac_->reconcile_bootstrap_policy();
    pod_logs_ = std::make_unique<PodLogs>(options_.data_dir / "logs");
    collector_ = std::make_unique<GarbageCollector>(*store_, *objects_);
    collector_->start();
    if (options_.compaction_interval.count() > 0)
      compactor_ = std::thread([this] { compact_periodically(); });
    service_account_tokens_.emplace(
        http::SigningKey::load_or_create(options_.data_dir / "pki" / "service-account.key"));
    certificates_ = http::load_or_create_server_certificates(options_.data_dir / "pki", {"localhost"},
                                                             {"127.0.0.1", options_.host});
    http::ServerOptions server_options;
    server_options.host = options_.host;
    server_options.port = options_.port;
    server_options.identity = certificates_.server;
    server_options.client_ca_pem = certificates_.ca.certificate_pem;
    server_options.threads = options_.threads;
    server_options.max_requests_per_client = options_.max_requests_per_client;
    server_options.max_streams_per_client = options_.max_streams_per_client;
    server_options.http2 = options_.http2;
    server_ = std::make_unique<http::Server>(server_options,
                                             [this](http::Exchange& exchange) { return handle(exchange); });
    server_->start();
    write_kubeconfig();
  }

  void stop() {
    if (server_) server_->stop();
    {
      std::lock_guard lock(stop_mutex_);
      stopping_ = true;
    }
    stop_.notify_all();
    if (compactor_.joinable()) compactor_.join();
    if (collector_) collector_->stop();
  }

  std::uint16_t port() const { return server_ ? server_->port() : 0; }
  std::filesystem::path kubeconfig_path() const { return options_.data_dir / "kubeconfig"; }

  asio::awaitable<void> handle(http::Exchange& outer) {
    const auto started = std::chrono::steady_clock::now();
    MeteredExchange exchange(outer);
    co_await serve(exchange);
    const http::Request& request = exchange.request();
    RequestTarget target;
    try {
      target = parse_request_target(request.target);
    } catch (const std::exception&) {
      target.path.kind = ResourcePath::Kind::Version;  // counted without a resource
    }
    const std::string verb = metric_verb(request, target);
    std::string resource = target.path.kind == ResourcePath::Kind::Resource ? target.path.resource : "";
    if (!target.path.subresource.empty()) resource += "/" + target.path.subresource;
    requests_.with({verb, resource, std::to_string(exchange.status())}).increment();
    if (verb != "WATCH") {
      latency_.with({verb}).observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }

  asio::awaitable<void> serve(http::Exchange& exchange) {
    const http::Request& request = exchange.request();
    RequestTarget target;
    Json refused;  // (no co_await inside a catch block)
    try {
      target = parse_request_target(request.target);
    } catch (const PathError&) {
      refused = status_path_not_found();
    } catch (const QueryError& error) {
      refused = status_bad_request(error.what());
    }
    if (!refused.is_null()) {
      {
        http::Response response = json(refused);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const ResourcePath& path = target.path;
    switch (path.kind) {
      case ResourcePath::Kind::Healthz:
      case ResourcePath::Kind::Livez:
      case ResourcePath::Kind::Readyz: {
        http::Response response = text(200, "ok");
        co_await send(exchange, std::move(response));
      }
        co_return;
      case ResourcePath::Kind::Version: {
        http::Response response = json(200, version());
        co_await send(exchange, std::move(response));
      }
        co_return;
      default:
        break;
    }
    const auto user = user_of(request);
    if (!user) {
      {
        http::Response response = json(status_unauthorized());
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    if (auto denial = forbidden(request, target, *user)) {
      http::Response response = json(*denial);
      co_await send(exchange, std::move(response));
      co_return;
    }
    co_await route(exchange, target);
  }

 private:
  // --- answering ---------------------------------------------------------------------------

  // g++ 12 mishandles temporaries inside a co_await expression (a braced TableOptions{} was
  // destroyed twice): responses are built into named variables first, then sent.
  static http::Response json(unsigned code, const Json& body, std::string content_type = "application/json") {
    http::Response response;
    response.status = code;
    response.headers.emplace_back("Content-Type", std::move(content_type));
    response.body = body.dump();
    return response;
  }
  static http::Response json(const Json& status) {
    return json(static_cast<unsigned>(status_code(status)), status);
  }
  static http::Response json(const ApiError& error) { return json(error.status); }
  // JSON already written as text (stored objects), or the error.
  static http::Response json_text(Outcome<std::string> text) {
    if (auto* error = std::get_if<ApiError>(&text)) return json(*error);
    http::Response response;
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = std::get<std::string>(std::move(text));
    return response;
  }
  static http::Response text(unsigned code, std::string body) {
    http::Response response;
    response.status = code;
    response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    response.body = std::move(body);
    return response;
  }
  static asio::awaitable<void> send(http::Exchange& exchange, http::Response response) {
    co_await exchange.respond(std::move(response));
  }

  Json version() const {
    return {{"major", "1"},
            {"minor", std::string(kKubernetesMinor)},
            {"gitVersion", fmt::format("v1.{}.0-riasc", kKubernetesMinor)},
            {"gitCommit", "riasc"},
            {"gitTreeState", "clean"},
            {"buildDate", "2026-01-01T00:00:00Z"},
            {"goVersion", "go1.23.0"},
            {"compiler", "gc"},
            {"platform", "linux/amd64"}};
  }

  // --- routing -----------------------------------------------------------------------------

  asio::awaitable<void> route(http::Exchange& exchange, const RequestTarget& target) {
    const http::Request& request = exchange.request();
    const ResourcePath& path = target.path;
    const std::string accept(request.header("accept"));
    switch (path.kind) {
      case ResourcePath::Kind::Metrics: {
        http::Response response;
        response.headers.emplace_back("Content-Type", metrics::Registry::kContentType);
        response.body = metrics_.expose();
        co_await exchange.respond(std::move(response));
        co_return;
      }
      case ResourcePath::Kind::OpenApiV2: {
        http::Response response;
        response.headers.emplace_back("Content-Type", std::string(kOpenApiV2ProtobufMediaType));
        response.body = encode_openapi_v2_stub("riasc", fmt::format("v1.{}.0", kKubernetesMinor));
        co_await exchange.respond(std::move(response));
        co_return;
      }
      case ResourcePath::Kind::LegacyVersions:
      case ResourcePath::Kind::GroupList: {
        const bool core = path.kind == ResourcePath::Kind::LegacyVersions;
        std::string discovery = negotiate_discovery(accept);
        if (!discovery.empty()) {
          {
            http::Response response =
                json(200, registry_->aggregated(core, discovery),
                     fmt::format("application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
                                 discovery));
            co_await send(exchange, std::move(response));
          }
        } else {
          {
            http::Response response =
                json(200, core ? registry_->core_versions(fmt::format("{}:{}", options_.host, port()))
                               : registry_->group_list());
            co_await send(exchange, std::move(response));
          }
        }
        co_return;
      }
      case ResourcePath::Kind::Group: {
        for (const auto& group : registry_->group_list()["groups"]) {
          if (group["name"] == path.group) {
            Json body = group;
            body["kind"] = "APIGroup";
            body["apiVersion"] = "v1";
            {
              http::Response response = json(200, body);
              co_await send(exchange, std::move(response));
            }
            co_return;
          }
        }
        {
          http::Response response = json(status_path_not_found());
          co_await send(exchange, std::move(response));
        }
        co_return;
      }
      case ResourcePath::Kind::ResourceList: {
        auto list = registry_->resource_list(path.group, path.version);
        if (!list) {
          {
            http::Response response = json(status_path_not_found());
            co_await send(exchange, std::move(response));
          }
        } else {
          {
            http::Response response = json(200, *list);
            co_await send(exchange, std::move(response));
          }
        }
        co_return;
      }
      case ResourcePath::Kind::Resource:
        co_await resource(exchange, target);
        co_return;
      default: {
        http::Response response = json(status_path_not_found());
        co_await send(exchange, std::move(response));
      }
        co_return;
    }
  }

  asio::awaitable<void> resource(http::Exchange& exchange, const RequestTarget& target) {
    const http::Request& request = exchange.request();
    const ResourcePath& path = target.path;
    auto type = registry_->find(path.group, path.version, path.resource);
    if (!type) {
      {
        http::Response response = json(status_path_not_found());
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const std::string namespace_name = type->namespaced ? path.namespace_name : std::string();
    const bool status = path.subresource == "status";
    if (path.subresource == "scale" && type->scale_subresource && !path.is_collection()) {
      std::vector<std::string> warnings;
      auto options = write_options(request, target.query, warnings);
      Outcome<Json> outcome =
          std::holds_alternative<ApiError>(options)
              ? Outcome<Json>(std::get<ApiError>(options))
              : scale(*type, namespace_name, path.name, request, std::get<WriteOptions>(options));
      http::Response response = std::holds_alternative<ApiError>(outcome)
                                    ? json(std::get<ApiError>(outcome))
                                    : json(200, std::get<Json>(outcome));
      co_await send(exchange, std::move(response));
      co_return;
    }
    if (path.subresource == "token" && type->group.empty() && type->resource == "serviceaccounts" &&
        !path.is_collection()) {
      auto answer = request_token(*type, namespace_name, path.name, request);
      http::Response response = std::holds_alternative<ApiError>(answer) ? json(std::get<ApiError>(answer))
                                                                         : json(201, std::get<Json>(answer));
      co_await send(exchange, std::move(response));
      co_return;
    }
    if (path.subresource == "log" && type->group.empty() && type->resource == "pods" &&
        request.method == "GET") {
      co_await pod_log(exchange, *type, namespace_name, path.name, target.query.log);
      co_return;
    }
    if (!path.subresource.empty() && !(status && type->status_subresource)) {
      {
        http::Response response = json(status_path_not_found());
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const std::string& method = request.method;
    if (type->group == "authorization.k8s.io" && method == "POST") {
      http::Response response = self_subject_review(*type, request);
      co_await send(exchange, std::move(response));
      co_return;
    }
    if (type->resource == "selfsubjectreviews" && method == "POST") {
      // `kubectl auth whoami`: who the server takes the caller for.
      auto body = decode_body(request);
      http::Response response;
      if (auto* error = std::get_if<ApiError>(&body)) {
        response = json(*error);
      } else {
        const std::optional<UserInfo> user = user_of(request);
        Json review = std::get<Json>(std::move(body));
        if (!review.is_object()) review = Json::object();
        review["apiVersion"] = "authentication.k8s.io/v1";
        review["kind"] = "SelfSubjectReview";
        review["status"] = {{"userInfo", {{"username", user->username}, {"groups", user->groups}}}};
        response = json(201, review);
      }
      co_await send(exchange, std::move(response));
      co_return;
    }
    if (method == "GET" && path.is_collection()) {
      if (target.query.watch) {
        co_await watch(exchange, *type, namespace_name, target.query);
      } else {
        co_await list(exchange, *type, namespace_name, target.query);
      }
      co_return;
    }
    if (method == "GET" && !wants_table(request.header("accept"))) {
      // The stored JSON as it is: a third of a GET's time went to parsing and dumping it again.
      http::Response response = json_text(objects_->get_text(*type, namespace_name, path.name));
      co_await send(exchange, std::move(response));
      co_return;
    }
    if (method == "GET") {
      auto outcome = objects_->get(*type, namespace_name, path.name);
      std::vector<std::string> no_warnings;
      co_await answer(exchange, *type, std::move(outcome), 200, no_warnings);
      co_return;
    }
    if (method == "DELETE" && !path.is_collection()) {
      auto options = delete_options(request, target.query);
      if (auto* error = std::get_if<ApiError>(&options)) {
        {
          http::Response response = json(*error);
          co_await send(exchange, std::move(response));
        }
        co_return;
      }
      auto outcome = objects_->remove(*type, namespace_name, path.name, std::get<DeleteOptions>(options));
      std::vector<std::string> no_warnings;
      co_await answer(exchange, *type, std::move(outcome), 200, no_warnings);
      co_return;
    }
    if (method == "DELETE") {
      co_await delete_collection(exchange, *type, namespace_name, target.query);
      co_return;
    }
    const bool writes = (method == "POST" && path.is_collection()) ||
                        (method == "PUT" && !path.is_collection()) ||
                        (method == "PATCH" && !path.is_collection());
    if (!writes) {
      {
        http::Response response = json(status_method_not_allowed({type->group, type->resource}, method));
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    std::vector<std::string> warnings;
    auto options_or_error = write_options(request, target.query, warnings);
    if (auto* error = std::get_if<ApiError>(&options_or_error)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const WriteOptions& options = std::get<WriteOptions>(options_or_error);
    if (method == "PATCH" && media_type(request) == "application/apply-patch+yaml") {
      bool created = false;
      auto outcome = apply(*type, namespace_name, path.name, request, status, target.query, options, created);
      co_await answer(exchange, *type, std::move(outcome), created ? 201 : 200, warnings);
      co_return;
    }
    if (method == "PATCH") {
      auto outcome = patch(*type, namespace_name, path.name, request, status, options);
      co_await answer(exchange, *type, std::move(outcome), 200, warnings);
      co_return;
    }
    auto body = decode_body(request);
    if (auto* error = std::get_if<ApiError>(&body)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    if (method == "POST") {
      auto outcome = objects_->create(*type, namespace_name, std::get<Json>(std::move(body)), options);
      co_await answer(exchange, *type, std::move(outcome), 201, warnings);
      co_return;
    }
    auto outcome =
        objects_->update(*type, namespace_name, path.name, std::get<Json>(std::move(body)), status, options);
    co_await answer(exchange, *type, std::move(outcome), 200, warnings);
  }

  asio::awaitable<void> answer(http::Exchange& exchange, const ResourceType& type, Outcome<Json> outcome,
                               unsigned code, const std::vector<std::string>& warnings) {
    if (auto* error = std::get_if<ApiError>(&outcome)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const Json& object = std::get<Json>(outcome);
    http::Response response;
    if (wants_table(exchange.request().header("accept"))) {
      ListMeta meta{string_member(object["metadata"], "resourceVersion"), {}, {}};
      response = json(code, layout(type).table(std::span(&object, 1), meta, {}, Clock::now()));
    } else {
      response = json(code, object);
    }
    // RFC 7234 warning headers, as kube-apiserver sends them: `299 - "text"`.
    for (const auto& warning : warnings)
      response.headers.emplace_back("Warning", "299 - " + go_quote(warning));
    co_await send(exchange, std::move(response));
  }

  // SelfSubjectAccessReview and SelfSubjectRulesReview: answered by RBAC, never stored.
  http::Response self_subject_review(const ResourceType& type, const http::Request& request) {
    auto body = decode_body(request);
    const auto user = user_of(request);
    if (auto* error = std::get_if<ApiError>(&body)) return json(*error);
    Json review = std::get<Json>(std::move(body));
    if (!review.is_object()) return json(status_bad_request("the review must be an object"));
    if (type.resource == "selfsubjectrulesreviews")
      return json(201, rbac_->rules_review(std::move(review), *user));
    auto answered = rbac_->access_review(std::move(review), *user);
    if (auto* error = std::get_if<ApiError>(&answered)) return json(*error);
    return json(201, std::get<Json>(answered));
  }

  // --- request options -----------------------------------------------------------------------

  static std::optional<ApiError> check_dry_run(const std::vector<std::string>& values) {
    for (const auto& value : values) {
      if (value != "All") {
        return ApiError{status_bad_request(
            fmt::format("dryRun: Unsupported value: {}: supported values: \"All\"", go_quote(value)))};
      }
    }
    return std::nullopt;
  }

  std::variant<WriteOptions, ApiError> write_options(const http::Request& request,
                                                     const QueryParameters& query,
                                                     std::vector<std::string>& warnings) {
    WriteOptions options;
    // kube-apiserver names the manager of a write without ?fieldManager= after the client: the
    // User-Agent up to its first '/' ("kubectl", "OpenAPI-Generator").
    options.field_manager = query.field_manager;
    if (options.field_manager.empty()) {
      const std::string_view agent = request.header("user-agent");
      options.field_manager = std::string(agent.substr(0, std::min<std::size_t>(agent.find('/'), 128)));
    }
    if (auto error = check_dry_run(query.dry_run)) return *error;
    options.dry_run = !query.dry_run.empty();
    if (query.field_validation == "Strict") {
      options.field_validation = FieldValidation::Strict;
    } else if (query.field_validation == "Ignore") {
      options.field_validation = FieldValidation::Ignore;
    } else if (query.field_validation.empty() || query.field_validation == "Warn") {
      options.field_validation = FieldValidation::Warn;
    } else {
      return ApiError{status_bad_request(fmt::format(
          "fieldValidation: Unsupported value: {}: supported values: \"Ignore\", \"Warn\", \"Strict\"",
          go_quote(query.field_validation)))};
    }
    options.warnings = &warnings;
    options.user = user_of(request);
    return options;
  }

  // The authenticated user: the client certificate's CN and O, else the bearer token's user, and
  // system:authenticated, which kube-apiserver gives every authenticated user. None: 401.
  [[nodiscard]] std::optional<UserInfo> user_of(const http::Request& request) const {
    std::optional<UserInfo> user;
    if (request.client_user) {
      user = UserInfo{*request.client_user, request.client_groups};
    } else if (auto account = service_account_of(request.header("authorization"))) {
      user = UserInfo{account->username(), account->groups()};
    } else if (tokens_) {
      if (auto known = tokens_->authenticate(request.header("authorization")))
        user = UserInfo{known->name, known->groups};
    }
    if (user) user->groups.emplace_back("system:authenticated");
    return user;
  }

  // A ServiceAccount token's claims, when it is valid and its ServiceAccount still exists with the
  // uid it was issued for (deleting the ServiceAccount revokes its tokens at once).
  [[nodiscard]] std::optional<ServiceAccountClaims> service_account_of(std::string_view authorization) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (!authorization.starts_with(kScheme)) return std::nullopt;
    const std::string_view token = authorization.substr(kScheme.size());
    if (!ServiceAccountTokens::looks_like_jwt(token)) return std::nullopt;
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    auto verified = service_account_tokens_->verify(token, now);
    auto* claims = std::get_if<ServiceAccountClaims>(&verified);
    if (claims == nullptr) return std::nullopt;
    auto accounts = registry_->find("", "v1", "serviceaccounts");
    auto account = objects_->get(*accounts, claims->namespace_name, claims->name);
    if (!std::holds_alternative<Json>(account) ||
        string_member(std::get<Json>(account)["metadata"], "uid") != claims->uid)
      return std::nullopt;
    return *claims;
  }

  // RBAC (rbac_authorizer.hpp): the 403 Status of a request the user may not make, else null. The
  // denial is logged with the user, verb and resource, never with the credentials.
  std::optional<Json> forbidden(const http::Request& request, const RequestTarget& target,
                                const UserInfo& user) {
    const std::string raw_path(std::string_view(request.target).substr(0, request.target.find('?')));
    const rbac::Attributes attributes =
        rbac::request_attributes(request.method, target, raw_path, user.username, user.groups);
    if (rbac_->authorize(attributes).allowed) return std::nullopt;
    AccessAttributes access{user.username,       attributes.verb,        attributes.group,
                            attributes.resource, attributes.subresource, attributes.namespace_name,
                            attributes.name,     attributes.path};
    fmt::print(stderr, "{}\n",
               Json{{"level", "info"},
                    {"msg", "forbidden"},
                    {"user", user.username},
                    {"verb", attributes.verb},
                    {"resource", attributes.subresource.empty()
                                     ? attributes.resource
                                     : attributes.resource + "/" + attributes.subresource},
                    {"group", attributes.group},
                    {"namespace", attributes.namespace_name},
                    {"name", attributes.name},
                    {"path", attributes.path}}
                   .dump());
    return status_forbidden(access);
  }

  // DeleteOptions come in the query and in the body (kubectl and the Python client send a body).
  std::variant<DeleteOptions, ApiError> delete_options(const http::Request& request,
                                                       const QueryParameters& query) {
    DeleteOptions options;
    std::string policy = query.propagation_policy;
    std::vector<std::string> dry_run = query.dry_run;
    if (!request.body.empty()) {
      auto decoded = decode_body(request);
      if (auto* error = std::get_if<ApiError>(&decoded)) return *error;
      const Json body = std::get<Json>(std::move(decoded));
      if (!body.is_object()) return ApiError{status_bad_request("the DeleteOptions body must be an object")};
      if (policy.empty()) policy = string_member(body, "propagationPolicy");
      if (policy.empty() && body.value("orphanDependents", false)) policy = "Orphan";
      if (body.contains("dryRun") && body["dryRun"].is_array()) {
        for (const auto& value : body["dryRun"])
          dry_run.push_back(value.is_string() ? value.get<std::string>() : value.dump());
      }
      if (body.contains("gracePeriodSeconds") && body["gracePeriodSeconds"].is_number_integer()) {
        options.grace_period_seconds = body["gracePeriodSeconds"].get<std::int64_t>();
      }
      const Json preconditions = body.value("preconditions", Json::object());
      if (preconditions.is_object()) {
        if (preconditions.contains("uid") && preconditions["uid"].is_string()) {
          options.expected_uid = preconditions["uid"].get<std::string>();
        }
        if (preconditions.contains("resourceVersion") && preconditions["resourceVersion"].is_string()) {
          options.expected_resource_version = preconditions["resourceVersion"].get<std::string>();
        }
      }
    }
    if (query.grace_period_seconds) options.grace_period_seconds = query.grace_period_seconds;
    if (auto error = check_dry_run(dry_run)) return *error;
    options.dry_run = !dry_run.empty();
    options.user = user_of(request);
    if (policy.empty() || policy == "Background") {
      options.propagation = Propagation::Background;
    } else if (policy == "Foreground") {
      options.propagation = Propagation::Foreground;
    } else if (policy == "Orphan") {
      options.propagation = Propagation::Orphan;
    } else {
      return ApiError{status_bad_request(fmt::format(
          "propagationPolicy: Unsupported value: {}: supported values: \"Foreground\", \"Background\", "
          "\"Orphan\"",
          go_quote(policy)))};
    }
    return options;
  }

  // --- bodies and patches --------------------------------------------------------------------

  static Outcome<Json> decode_body(const http::Request& request) {
    const std::string_view content_type = request.header("content-type");
    if (content_type.starts_with(kProtobufMediaType) || has_protobuf_magic(request.body)) {
      try {
        return decode_protobuf_body(request.body);
      } catch (const UnsupportedProtobufKind& error) {
        return ApiError{status_unsupported_media_type(error.what())};
      } catch (const ProtobufError& error) {
        return ApiError{status_bad_request(error.what())};
      }
    }
    try {
      return Json::parse(request.body);
    } catch (const Json::exception&) {
    }
    try {
      auto documents = parse_yaml_stream(request.body);
      if (documents.size() == 1) return std::move(documents.front().value);
      return ApiError{status_bad_request("the request body must hold exactly one object")};
    } catch (const YamlError& error) {
      return ApiError{status_bad_request(fmt::format("the request body is neither JSON nor YAML: line {}: {}",
                                                     error.position().line, error.what()))};
    }
  }

  static std::string media_type(const http::Request& request) {
    std::string content_type(request.header("content-type"));
    return content_type.substr(0, content_type.find(';'));
  }

  // A merge, JSON or strategic merge patch applied to `object`.
  static Outcome<Json> apply_patch(const std::string& content_type, const Json& object,
                                   const Json& patch_document, const ListShapes& shapes) {
    Json patched;
    try {
      if (content_type == "application/json-patch+json") {
        patched = object.patch(patch_document);
      } else if (content_type == "application/strategic-merge-patch+json") {
        patched = strategic_merge_patch(object, patch_document, shapes);
      } else {
        patched = object;
        patched.merge_patch(patch_document);
      }
    } catch (const Json::exception& error) {
      return ApiError{status_bad_request(fmt::format("the patch cannot be applied: {}", error.what()))};
    } catch (const PatchError& error) {
      return ApiError{status_bad_request(fmt::format("the patch cannot be applied: {}", error.what()))};
    }
    if (!patched.is_object()) return ApiError{status_bad_request("the patch must leave an object")};
    return patched;
  }

  // The scale subresource: an autoscaling/v1 Scale view of spec.replicas.
  static Json to_scale(const Json& object) {
    const Json metadata = object.value("metadata", Json::object());
    const Json spec = object.value("spec", Json::object());
    const Json status = object.value("status", Json::object());
    Json scale_metadata = Json::object();
    for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (metadata.contains(field)) scale_metadata[field] = metadata[field];
    }
    const Json match_labels = spec.value("selector", Json::object()).value("matchLabels", Json::object());
    std::string selector;
    for (const auto& [key, value] : match_labels.items()) {
      selector += fmt::format("{}{}={}", selector.empty() ? "" : ",", key,
                              value.is_string() ? value.get<std::string>() : value.dump());
    }
    return {{"kind", "Scale"},
            {"apiVersion", "autoscaling/v1"},
            {"metadata", std::move(scale_metadata)},
            {"spec", {{"replicas", spec.value("replicas", 1)}}},
            {"status", {{"replicas", status.value("replicas", 0)}, {"selector", selector}}}};
  }

  // POST serviceaccounts/NAME/token (TokenRequest): a token for that ServiceAccount.
  Outcome<Json> request_token(const ResourceType& type, const std::string& namespace_name,
                              const std::string& name, const http::Request& request) {
    if (request.method != "POST")
      return ApiError{status_method_not_allowed({type.group, type.resource + "/token"}, request.method)};
    auto body = decode_body(request);
    if (auto* error = std::get_if<ApiError>(&body)) return *error;
    auto account = objects_->get(type, namespace_name, name);
    if (auto* error = std::get_if<ApiError>(&account)) return *error;
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    auto answer =
        answer_token_request(*service_account_tokens_, std::get<Json>(account), std::get<Json>(body), now);
    if (auto* errors = std::get_if<FieldErrors>(&answer))
      return ApiError{status_invalid({"authentication.k8s.io", "TokenRequest"}, name, *errors)};
    return std::get<Json>(std::move(answer));
  }

  Outcome<Json> scale(const ResourceType& type, const std::string& namespace_name, const std::string& name,
                      const http::Request& request, const WriteOptions& options) {
    for (int attempt = 0;; ++attempt) {
      auto current = objects_->get(type, namespace_name, name);
      if (std::holds_alternative<ApiError>(current)) return current;
      Json object = std::get<Json>(std::move(current));
      const Json before = to_scale(object);
      if (request.method == "GET") return before;
      Json wanted;
      if (request.method == "PUT") {
        auto body = decode_body(request);
        if (auto* error = std::get_if<ApiError>(&body)) return *error;
        wanted = std::get<Json>(std::move(body));
      } else if (request.method == "PATCH") {
        Json patch_document = Json::parse(request.body, nullptr, false);
        if (patch_document.is_discarded()) return ApiError{status_bad_request("the patch is not valid JSON")};
        auto patched = apply_patch(media_type(request), before, patch_document,
                                   builtin_list_shapes("autoscaling", "Scale"));
        if (auto* error = std::get_if<ApiError>(&patched)) return *error;
        wanted = std::get<Json>(std::move(patched));
      } else {
        return ApiError{status_method_not_allowed({type.group, type.resource + "/scale"}, request.method)};
      }
      const Json replicas =
          wanted.is_object() ? wanted.value("spec", Json::object()).value("replicas", Json()) : Json();
      if (!replicas.is_number_integer() || replicas.get<std::int64_t>() < 0) {
        return ApiError{status_invalid({"autoscaling", "Scale"}, name,
                                       {{FieldError::Type::Invalid, FieldPath::parse_dotted("spec.replicas"),
                                         replicas, "must be greater than or equal to 0"}})};
      }
      std::string expected = wanted.is_object()
                                 ? string_member(wanted.value("metadata", Json::object()), "resourceVersion")
                                 : "";
      // A patch is applied to the current Scale, which carries the current resourceVersion: only a
      // patch that sets another one asks for optimistic concurrency (else a concurrent status
      // write made `kubectl scale` fail with 409).
      if (request.method == "PATCH" &&
          expected == string_member(before.value("metadata", Json::object()), "resourceVersion")) {
        expected.clear();
      }
      object["spec"]["replicas"] = replicas;
      if (!expected.empty()) object["metadata"]["resourceVersion"] = expected;
      auto result = objects_->update(type, namespace_name, name, std::move(object), false, options);
      auto* error = std::get_if<ApiError>(&result);
      if (!error) return to_scale(std::get<Json>(result));
      // Without a resourceVersion of the caller's, a concurrent write is retried on the newer object.
      if (error->code() != 409 || !expected.empty() || attempt >= 10) return result;
    }
  }

  Outcome<Json> patch(const ResourceType& type, const std::string& namespace_name, const std::string& name,
                      const http::Request& request, bool status, const WriteOptions& options) {
    const std::string content_type = media_type(request);
    const std::vector<std::string> accepted =
        type.crd ? std::vector<std::string>{"application/json-patch+json", "application/merge-patch+json",
                                            "application/apply-patch+yaml"}
                 : std::vector<std::string>{"application/json-patch+json", "application/merge-patch+json",
                                            "application/strategic-merge-patch+json",
                                            "application/apply-patch+yaml"};
    if (std::find(accepted.begin(), accepted.end(), content_type) == accepted.end()) {
      return ApiError{status_unsupported_media_type(accepted)};
    }
    Json patch_document;
    try {
      patch_document = Json::parse(request.body);
    } catch (const Json::exception& error) {
      return ApiError{status_bad_request(fmt::format("the patch is not valid JSON: {}", error.what()))};
    }
    const auto shapes = ObjectService::list_shapes(type);
    // A patch applies to the current object; a concurrent write makes the update conflict, and
    // the patch is applied again to the newer object.
    for (int attempt = 0;; ++attempt) {
      auto current = objects_->get(type, namespace_name, name);
      if (std::holds_alternative<ApiError>(current)) return current;
      Json& object = std::get<Json>(current);
      auto patched_or_error = apply_patch(content_type, object, patch_document, shapes);
      if (auto* error = std::get_if<ApiError>(&patched_or_error)) return *error;
      Json patched = std::get<Json>(std::move(patched_or_error));
      // A resourceVersion the patch sets is a precondition, as kube-apiserver makes it: no retry.
      const std::string current_version = string_member(object["metadata"], "resourceVersion");
      const std::string requested_version = string_member(patched["metadata"], "resourceVersion");
      if (!requested_version.empty() && requested_version != current_version) {
        return ApiError{status_conflict({type.group, type.resource}, name)};
      }
      patched["metadata"]["resourceVersion"] = current_version;
      auto result = objects_->update(type, namespace_name, name, std::move(patched), status, options,
                                     std::move(object));
      auto* error = std::get_if<ApiError>(&result);
      // kube-apiserver's maxRetryWhenPatchConflicts: a busy object (a controller writing its
      // status) must not fail a user's patch.
      if (!error || error->code() != 409 || attempt >= 5) return result;
    }
  }

  // Server-side apply (application/apply-patch+yaml): merges the configuration into the object,
  // or creates it, with field ownership (kubeapi/server_side_apply.hpp). `created` tells 201 from 200.
  Outcome<Json> apply(const ResourceType& type, const std::string& namespace_name, const std::string& name,
                      const http::Request& request, bool status, const QueryParameters& query,
                      WriteOptions options, bool& created) {
    if (query.field_manager.empty()) {
      return ApiError{status_invalid({"meta.k8s.io", "PatchOptions"}, "",
                                     {{FieldError::Type::Required, FieldPath().child("fieldManager"), nullptr,
                                       "is required for apply patch"}})};
    }
    Json applied;
    try {
      auto documents = parse_yaml_stream(request.body);
      if (documents.size() != 1)
        return ApiError{status_bad_request("the apply configuration must be one object")};
      applied = std::move(documents.front().value);
    } catch (const YamlError& error) {
      return ApiError{status_bad_request(fmt::format("the apply configuration is not YAML: line {}: {}",
                                                     error.position().line, error.what()))};
    }
    if (!applied.is_object())
      return ApiError{status_bad_request("the apply configuration must be an object")};
    if (string_member(applied, "apiVersion") != type.api_version() ||
        string_member(applied, "kind") != type.kind) {
      return ApiError{status_bad_request(fmt::format(
          "the apply configuration is for {} {}, the URL for {} {}", string_member(applied, "apiVersion"),
          string_member(applied, "kind"), type.api_version(), type.kind))};
    }
    if (!applied["metadata"].is_object()) applied["metadata"] = Json::object();
    const std::string applied_name = string_member(applied["metadata"], "name");
    if (applied_name != name) {
      return ApiError{status_bad_request(fmt::format(
          "the name of the object ({}) does not match the name on the URL ({})", applied_name, name))};
    }
    ApplyOptions apply_options;
    apply_options.manager = query.field_manager;
    apply_options.force = query.force.value_or(false);
    apply_options.api_version = type.api_version();
    apply_options.now = objects_->now();
    apply_options.ignore_status = type.status_subresource && !status;
    apply_options.only_status = status;
    apply_options.shapes = ObjectService::list_shapes(type);
    options.managed_fields_ready = true;
    for (int attempt = 0;; ++attempt) {
      auto current = objects_->get(type, namespace_name, name);
      const Json* live = std::get_if<Json>(&current);
      if (!live && std::get<ApiError>(current).code() != 404) return current;
      if (!live && status) return current;  // the status of an object that does not exist
      // A resourceVersion in the configuration is a precondition, as for an update.
      const std::string expected = string_member(applied["metadata"], "resourceVersion");
      if (live && !expected.empty() && expected != string_member((*live)["metadata"], "resourceVersion")) {
        return ApiError{status_conflict({type.group, type.resource}, name)};
      }
      ApplyOutcome outcome;
      try {
        outcome = server_side_apply(live, applied, apply_options);
      } catch (const PatchError& error) {
        return ApiError{
            status_bad_request(fmt::format("the apply configuration cannot be applied: {}", error.what()))};
      }
      if (!outcome.conflicts.empty()) return ApiError{status_apply_conflict(outcome.conflicts)};
      Outcome<Json> result;
      if (!live) {
        result = objects_->create(type, namespace_name, std::move(outcome.object), options);
        created = std::holds_alternative<Json>(result);
      } else {
        outcome.object["metadata"]["resourceVersion"] = (*live)["metadata"]["resourceVersion"];
        result = objects_->update(type, namespace_name, name, std::move(outcome.object), status, options);
      }
      auto* error = std::get_if<ApiError>(&result);
      // 409 Conflict (a concurrent write) or AlreadyExists (a concurrent create): apply again.
      if (!error || error->code() != 409 || attempt >= 3) return result;
    }
  }

  // --- list and watch ---------------------------------------------------------------------

  TableLayout layout(const ResourceType& type) const {
    if (type.crd) return custom_resource_table(*type.crd, type.version);
    return builtin_table(type.group, type.resource);
  }

  // Label and field selectors as one filter; the Status when one does not parse or names a
  // field the resource does not support.
  static std::variant<std::function<bool(const Json&)>, Json> selector_filter(const ResourceType& type,
                                                                              const QueryParameters& query) {
    try {
      auto labels = std::make_shared<LabelSelector>(LabelSelector::parse(query.label_selector));
      auto fields = std::make_shared<FieldSelector>(FieldSelector::parse(query.field_selector));
      const auto supported = selectable_fields(type.group, type.resource);
      for (const auto& field : fields->fields()) {
        if (!std::binary_search(supported.begin(), supported.end(), field)) {
          return status_bad_request(fmt::format("field label not supported: {}", field));
        }
      }
      return std::function<bool(const Json&)>([labels, fields](const Json& object) {
        return labels->matches_object(object) && fields->matches_fields([&](std::string_view field) {
          return selectable_field_value(object, field);
        });
      });
    } catch (const SelectorError& error) {
      return status_bad_request(error.what());
    }
  }

  // DELETE on a collection (deletecollection): every object the selectors match, each deleted
  // as a single DELETE would; answers the list of what was deleted or marked for deletion.
  asio::awaitable<void> delete_collection(http::Exchange& exchange, const ResourceType& type,
                                          const std::string& namespace_name, const QueryParameters& query) {
    auto filter = selector_filter(type, query);
    auto options = delete_options(exchange.request(), query);
    Json refused;
    if (auto* error = std::get_if<Json>(&filter)) refused = *error;
    if (auto* error = std::get_if<ApiError>(&options)) refused = error->status;
    ObjectService::ListOptions list_options;
    list_options.namespace_name = namespace_name;
    if (refused.is_null()) list_options.filter = std::get<std::function<bool(const Json&)>>(filter);
    auto listed = refused.is_null() ? objects_->list(type, list_options) : Outcome<Json>(ApiError{refused});
    if (auto* error = std::get_if<ApiError>(&listed)) {
      http::Response response = json(*error);
      co_await send(exchange, std::move(response));
      co_return;
    }
    Json list = std::get<Json>(std::move(listed));
    Json deleted = Json::array();
    for (const auto& item : list["items"]) {
      auto outcome =
          objects_->remove(type, string_member(item["metadata"], "namespace"),
                           string_member(item["metadata"], "name"), std::get<DeleteOptions>(options));
      if (auto* object = std::get_if<Json>(&outcome)) deleted.push_back(std::move(*object));
    }
    list["items"] = std::move(deleted);
    list["metadata"] = {{"resourceVersion", std::to_string(store_->revision())}};
    http::Response response = json(200, list);
    co_await send(exchange, std::move(response));
  }

  asio::awaitable<void> list(http::Exchange& exchange, const ResourceType& type,
                             const std::string& namespace_name, const QueryParameters& query) {
    auto filter = selector_filter(type, query);
    if (auto* error = std::get_if<Json>(&filter)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    ObjectService::ListOptions options;
    options.namespace_name = namespace_name;
    options.limit = query.limit && *query.limit > 0 ? static_cast<std::size_t>(*query.limit) : 0;
    options.continue_token = query.continue_token;
    const bool table = wants_table(exchange.request().header("accept"));
    if (!table && query.label_selector.empty() && query.field_selector.empty()) {
      http::Response response = json_text(objects_->list_text(type, options));
      co_await send(exchange, std::move(response));
      co_return;
    }
    options.filter = std::get<std::function<bool(const Json&)>>(filter);
    auto outcome = objects_->list(type, options);
    if (auto* error = std::get_if<ApiError>(&outcome)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    const Json& list = std::get<Json>(outcome);
    if (wants_table(exchange.request().header("accept"))) {
      std::vector<Json> items(list["items"].begin(), list["items"].end());
      ListMeta meta{string_member(list["metadata"], "resourceVersion"),
                    string_member(list["metadata"], "continue"),
                    {}};
      {
        http::Response response = json(200, layout(type).table(items, meta, {}, Clock::now()));
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    {
      http::Response response = json(200, list);
      co_await send(exchange, std::move(response));
    }
  }

  asio::awaitable<void> watch(http::Exchange& exchange, const ResourceType& type,
                              const std::string& namespace_name, const QueryParameters& query) {
    auto filter_or_error = selector_filter(type, query);
    if (auto* error = std::get_if<Json>(&filter_or_error)) {
      {
        http::Response response = json(*error);
        co_await send(exchange, std::move(response));
      }
      co_return;
    }
    auto filter = std::get<std::function<bool(const Json&)>>(filter_or_error);
    const bool table = wants_table(exchange.request().header("accept"));
    const TableLayout table_layout = layout(type);
    bool headers_sent = false;
    auto encode = [&](std::string_view event, const Json& object) {
      Json payload = object;
      if (table && object.value("kind", "") != "Status") {
        TableOptions options;
        options.no_headers = headers_sent;
        headers_sent = true;
        payload = table_layout.table(std::span(&object, 1),
                                     {string_member(object["metadata"], "resourceVersion"), {}, {}}, options,
                                     Clock::now());
      }
      return Json{{"type", event}, {"object", std::move(payload)}}.dump() + "\n";
    };

    auto bookmark = [&](store::Revision revision, bool initial_events_end) {
      Json metadata = {{"resourceVersion", std::to_string(revision)}, {"creationTimestamp", nullptr}};
      if (initial_events_end) metadata["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      return Json{{"type", "BOOKMARK"},
                  {"object",
                   {{"kind", type.kind}, {"apiVersion", type.api_version()}, {"metadata", metadata}}}}
                 .dump() +
             "\n";
    };

    // "" and "0", or sendInitialEvents=true: start with the current objects as ADDED events (then,
    // for sendInitialEvents, a bookmark that says they are complete), then what follows.
    std::vector<std::string> initial;
    store::Revision after = 0;
    const bool initial_events = query.send_initial_events.value_or(false);
    if (query.resource_version.empty() || query.resource_version == "0" || initial_events) {
      ObjectService::ListOptions options;
      options.namespace_name = namespace_name;
      options.filter = filter;
      auto listed = objects_->list(type, options);
      if (auto* error = std::get_if<ApiError>(&listed)) {
        {
          http::Response response = json(*error);
          co_await send(exchange, std::move(response));
        }
        co_return;
      }
      const Json& list = std::get<Json>(listed);
      for (const auto& item : list["items"]) initial.push_back(encode("ADDED", item));
      after = std::stoll(string_member(list["metadata"], "resourceVersion", "0"));
      if (initial_events && query.allow_watch_bookmarks) initial.push_back(bookmark(after, true));
    } else {
      bool valid = true;
      try {
        after = std::stoll(query.resource_version);
      } catch (const std::exception&) {
        valid = false;
      }
      if (!valid) {
        http::Response response =
            json(status_bad_request(fmt::format("invalid resourceVersion \"{}\"", query.resource_version)));
        co_await send(exchange, std::move(response));
        co_return;
      }
    }
    std::shared_ptr<store::Watch> events;
    Json gone;
    try {
      events = store_->watch(type.key_prefix(namespace_name), after);
    } catch (const store::RevisionGone& error) {
      gone = status_too_old_resource_version(after, error.compacted());
    }
    http::Headers headers{{"Content-Type", "application/json"}};
    if (!co_await exchange.start_stream(200, std::move(headers))) co_return;
    if (!gone.is_null()) {
      std::string error_event = encode("ERROR", gone);
      co_await exchange.write_chunk(std::move(error_event));
      co_return;
    }
    for (auto& line : initial) {
      if (!co_await exchange.write_chunk(std::move(line))) co_return;
    }
    events->set_notify(exchange.waker());
    const GaugeHold open_watch(watches_.with({type.qualified_resource()}));
    const auto timeout = query.timeout_seconds && *query.timeout_seconds > 0
                             ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::seconds(*query.timeout_seconds))
                             : std::chrono::duration_cast<std::chrono::milliseconds>(kDefaultWatchTimeout);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // Bookmarks carry a revision up to which this watcher has seen every event: the store's
    // revision read before taking the queue (writes publish revision and events together).
    auto next_bookmark = std::chrono::steady_clock::now() + options_.bookmark_interval;
    store::Revision seen = after;
    std::vector<store::Event> batch;
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      batch.clear();
      seen = std::max(seen, store_->revision());
      const bool open = events->take(batch);
      std::string chunk;
      for (const auto& event : batch) {
        if (table) {
          Json object = ObjectService::to_object(event.record);
          if (filter && !filter(object)) continue;
          chunk += encode(event_type(event.type), object);
          continue;
        }
        auto shared = encoded(event);
        if (filter && !filter(shared->object())) continue;
        chunk += shared->line;
      }
      if (open && query.allow_watch_bookmarks && (now >= next_bookmark || now >= deadline)) {
        next_bookmark = now + options_.bookmark_interval;
        chunk += bookmark(seen, false);
      }
      if (!chunk.empty() && !co_await exchange.write_chunk(std::move(chunk))) break;
      if (!open) {
        if (events->overflowed()) {
          std::string error_event =
              encode("ERROR", status_expired("the watch fell too far behind; list again"));
          co_await exchange.write_chunk(std::move(error_event));
        }
        break;
      }
      if (now >= deadline) break;
      auto until = deadline;
      if (query.allow_watch_bookmarks) until = std::min(until, next_bookmark);
      const auto pause = std::clamp(
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()),
          std::chrono::milliseconds(1), std::chrono::milliseconds(60'000));
      co_await exchange.wait(pause);
    }
    events->close();
  }

  // --- pods/log --------------------------------------------------------------------------------

  // Streams a container's log file (pod_logs.hpp); with follow, keeps sending what is appended
  // until the pod goes or the client leaves.
  asio::awaitable<void> pod_log(http::Exchange& exchange, const ResourceType& type,
                                const std::string& namespace_name, const std::string& name,
                                const LogParameters& query) {
    auto pod = objects_->get(type, namespace_name, name);
    Outcome<std::filesystem::path> located = std::holds_alternative<Json>(pod)
                                                 ? pod_logs_->locate(std::get<Json>(pod), query)
                                                 : std::get<ApiError>(pod);
    if (auto* error = std::get_if<ApiError>(&located)) {
      http::Response response = json(*error);
      co_await send(exchange, std::move(response));
      co_return;
    }
    const auto file = std::get<std::filesystem::path>(located);
    const std::string uid = string_member(std::get<Json>(pod)["metadata"], "uid");
    std::error_code error;
    std::uint64_t offset = 0;
    if (query.tail_lines)
      offset = PodLogs::tail_offset(file, std::filesystem::file_size(file, error), *query.tail_lines);
    std::uint64_t budget = query.limit_bytes && *query.limit_bytes > 0
                               ? static_cast<std::uint64_t>(*query.limit_bytes)
                               : std::numeric_limits<std::uint64_t>::max();
    http::Headers headers{{"Content-Type", "text/plain"}};
    if (!co_await exchange.start_stream(200, std::move(headers))) co_return;
    std::ifstream in(file, std::ios::binary);
    constexpr std::uint64_t kChunk = 64 * 1024;
    while (budget > 0) {
      const std::uint64_t size = std::filesystem::file_size(file, error);
      if (error) break;
      if (size < offset) offset = 0;  // truncated: the runtime started the file again
      while (offset < size && budget > 0) {
        const std::uint64_t length = std::min({size - offset, kChunk, budget});
        std::string chunk(length, '\0');
        in.clear();
        in.seekg(static_cast<std::streamoff>(offset));
        in.read(chunk.data(), static_cast<std::streamsize>(length));
        chunk.resize(static_cast<std::size_t>(in.gcount()));
        if (chunk.empty()) break;
        offset += chunk.size();
        budget -= chunk.size();
        if (!co_await exchange.write_chunk(std::move(chunk))) co_return;
      }
      if (!query.follow) break;
      auto current = store_->get(type.key(namespace_name, name));
      if (!current || string_member(Json::parse(*current->value)["metadata"], "uid") != uid) break;
      // Log files have no change notification here; a quarter second is what a reader notices.
      const auto pause = std::chrono::milliseconds(250);
      co_await exchange.wait(pause);
    }
  }

  // One event as every JSON watcher sends it, parsed and encoded once however many watchers
  // receive it: with 1,000 watchers, parsing per watcher was most of the delivery latency.
  // A watch event as its JSON line, made once per revision for every watcher. The line is spliced
  // from the stored text; the object is parsed only for a watcher with a selector.
  struct EncodedEvent {
    store::Record record;
    std::string line;

    const Json& object() const {
      std::call_once(parsed_, [this] { object_ = ObjectService::to_object(record); });
      return object_;
    }

   private:
    mutable std::once_flag parsed_;
    mutable Json object_;
  };
  static constexpr std::size_t kEncodedEvents = 4096;  // recent revisions kept

  std::shared_ptr<const EncodedEvent> encoded(const store::Event& event) {
    {
      std::lock_guard lock(encoded_mutex_);
      if (auto found = encoded_.find(event.record.revision); found != encoded_.end()) return found->second;
    }
    auto made = std::make_shared<EncodedEvent>();
    made->record = event.record;
    made->line = fmt::format("{{\"type\":\"{}\",\"object\":", event_type(event.type));
    ObjectService::append_object_text(event.record, made->line);
    made->line += "}\n";
    std::lock_guard lock(encoded_mutex_);
    auto [slot, inserted] = encoded_.emplace(event.record.revision, made);
    std::shared_ptr<const EncodedEvent> result = inserted ? made : slot->second;
    while (encoded_.size() > kEncodedEvents) encoded_.erase(encoded_.begin());
    return result;
  }

  // --- start-up ------------------------------------------------------------------------------

  void install_builtin_crds() {
    auto crds = *registry_->find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    for (const auto& file : embedded_crd_files()) {
      for (auto& document : parse_yaml_stream(file.content)) {
        const std::string name = document.value["metadata"]["name"].get<std::string>();
        if (std::holds_alternative<Json>(objects_->get(crds, {}, name))) continue;
        auto created = objects_->create(crds, {}, std::move(document.value));
        if (auto* error = std::get_if<ApiError>(&created)) {
          throw std::runtime_error(
              fmt::format("cannot install the built-in CRD {}: {}", name, error->message()));
        }
      }
    }
  }

  void ensure_namespace(const std::string& name) {
    auto namespaces = *registry_->find("", "v1", "namespaces");
    if (std::holds_alternative<Json>(objects_->get(namespaces, {}, name))) return;
    (void)objects_->create(namespaces, {},
                           Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  }

  void write_kubeconfig() {
    const std::string text = kubeconfig_text(fmt::format("https://{}:{}", options_.host, port()),
                                             certificates_.ca.certificate_pem, "admin", certificates_.admin);
    // Written complete under a temporary name, then renamed: its appearance means "ready".
    auto temporary = kubeconfig_path();
    temporary += ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << text;
    }
    std::filesystem::permissions(temporary,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::filesystem::rename(temporary, kubeconfig_path());
  }

  void register_store_metrics() {
    auto& revision =
        metrics_.gauge("riasc_store_revision", "The store's latest revision (resourceVersion).").with({});
    auto& compacted =
        metrics_.gauge("riasc_store_compacted_revision", "Revisions up to this one are compacted away.")
            .with({});
    auto& bytes =
        metrics_.gauge("riasc_store_database_bytes", "Size of the SQLite database and its write-ahead log.")
            .with({});
    metrics_.on_collect([this, &revision, &compacted, &bytes] {
      revision.set(static_cast<double>(store_->revision()));
      compacted.set(static_cast<double>(store_->compacted_revision()));
      double size = 0;
      for (const char* suffix : {"", "-wal"}) {
        std::error_code error;
        auto file = options_.data_dir / "state.db";
        file += suffix;
        auto length = std::filesystem::file_size(file, error);
        if (!error) size += static_cast<double>(length);
      }
      bytes.set(size);
    });
  }

  // Every interval, forgets the history up to where the previous interval ended: a watch or
  // continue token stays usable for at least one interval.
  void compact_periodically() {
    store::Revision mark = store_->revision();
    std::unique_lock lock(stop_mutex_);
    while (!stop_.wait_for(lock, options_.compaction_interval, [this] { return stopping_; })) {
      if (mark > store_->compacted_revision()) {
        try {
          store_->compact(mark);
        } catch (const std::exception&) {
          // A failed compaction leaves the history in place; the next interval tries again.
        }
      }
      mark = store_->revision();
    }
  }

  ApiServerOptions options_;
  metrics::Registry metrics_;
  metrics::Family<metrics::Counter>& requests_ = metrics_.counter(
      "apiserver_request_total", "Requests by verb, resource and HTTP code.", {"verb", "resource", "code"});
  metrics::Family<metrics::Histogram>& latency_ =
      metrics_.histogram("apiserver_request_duration_seconds", "Request latency by verb (watches excluded).",
                         {"verb"}, metrics::latency_buckets());
  metrics::Family<metrics::Gauge>& watches_ =
      metrics_.gauge("apiserver_longrunning_requests", "Open watch streams by resource.", {"resource"});
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ResourceRegistry> registry_;
  std::unique_ptr<WebhookAdmission> admission_;  // used by objects_, so destroyed after it
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<RbacAuthorizer> rbac_;  // uses objects_, so destroyed before it
  std::unique_ptr<GarbageCollector> collector_;
  std::optional<TokenAuthenticator> tokens_;
  std::optional<ServiceAccountTokens> service_account_tokens_;
  std::unique_ptr<PodLogs> pod_logs_;
  std::mutex encoded_mutex_;
  std::map<store::Revision, std::shared_ptr<const EncodedEvent>> encoded_;
  std::thread compactor_;
  std::mutex stop_mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  http::ServerCertificates certificates_;
  std::unique_ptr<http::Server> server_;
};

std::string kubeconfig_text(const std::string& server_url, const std::string& ca_pem, const std::string& user,
                            const http::KeyPair& credentials) {
  // User names may hold ':' or '@'; a JSON string is a YAML scalar that keeps them as they are.
  const std::string quoted = Json(user).dump();
  return fmt::format(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: riasc\n  cluster:\n    server: {}\n"
      "    certificate-authority-data: {}\nusers:\n- name: {}\n  user:\n    client-certificate-data: {}\n"
      "    client-key-data: {}\ncontexts:\n- name: riasc\n  context:\n    cluster: riasc\n    user: {}\n"
      "current-context: riasc\n",
      server_url, base64_encode(ca_pem), quoted, base64_encode(credentials.certificate_pem),
      base64_encode(credentials.private_key_pem), quoted);
}

ApiServer::ApiServer(ApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ApiServer::~ApiServer() { impl_->stop(); }
void ApiServer::start() { impl_->start(); }
void ApiServer::stop() { impl_->stop(); }
std::uint16_t ApiServer::port() const { return impl_->port(); }
std::filesystem::path ApiServer::kubeconfig_path() const { return impl_->kubeconfig_path(); }
asio::awaitable<void> ApiServer::handle(http::Exchange& exchange) { return impl_->handle(exchange); }

}  // namespace riasc::apiserver
