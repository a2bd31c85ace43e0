#include "riasc/operator/admission.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <utility>

#include "riasc/core/base64.hpp"
#include "riasc/http/server.hpp"

namespace riasc::op {

namespace {

const Json& member_or_null(const Json& object, const char* name) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto found = object.find(name);
  return found != object.end() ? *found : kNull;
}

std::string string_or_empty(const Json& object, const char* name) {
  const Json& value = member_or_null(object, name);
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool valid_webhook_id(const std::string& id) {
  auto allowed = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(c) || c == '-';
  };
  return !id.empty() && id.size() <= 63 && id.front() != '-' && id.back() != '-' &&
         std::all_of(id.begin(), id.end(), allowed);
}

enum class Kind { Validating, Mutating };

struct Webhook {
  Kind kind = Kind::Validating;
  std::string id;
  client::GroupVersionResource resource;
  AdmissionHandler handler;
  AdmissionOptions options;

  [[nodiscard]] std::string path() const {
    return fmt::format("/{}/{}", kind == Kind::Validating ? "validate" : "mutate", id);
  }
};

}  // namespace

std::string AdmissionContext::operation() const { return string_or_empty(request_, "operation"); }
bool AdmissionContext::dry_run() const { return member_or_null(request_, "dryRun") == true; }
const Json& AdmissionContext::user_info() const { return member_or_null(request_, "userInfo"); }
const Json& AdmissionContext::body() const {
  const Json& object = member_or_null(request_, "object");
  return object.is_object() ? object : old();
}
const Json& AdmissionContext::old() const { return member_or_null(request_, "oldObject"); }
const Json& AdmissionContext::metadata() const { return member_or_null(body(), "metadata"); }
const Json& AdmissionContext::spec() const { return member_or_null(body(), "spec"); }
std::string AdmissionContext::name() const {
  const std::string name = string_or_empty(metadata(), "name");
  return name.empty() ? string_or_empty(request_, "name") : name;
}
std::string AdmissionContext::namespace_name() const { return string_or_empty(request_, "namespace"); }

class AdmissionServer::Impl {
 public:
  Impl(AdmissionServerOptions options, LogSink log) : options_(std::move(options)), log_(std::move(log)) {}

  void add(Kind kind, const client::GroupVersionResource& resource, AdmissionHandler handler,
           AdmissionOptions options) {
    if (server_) throw std::logic_error("admission handlers must be registered before start()");
    auto taken = [&](const std::string& id) {
      return std::any_of(webhooks_.begin(), webhooks_.end(),
                         [&](const Webhook& w) { return w.kind == kind && w.id == id; });
    };
    std::string id = options.id;
    if (id.empty()) {
      const std::string base = kind == Kind::Validating ? "validate" : "mutate";
      id = base;
      for (int n = 2; taken(id); ++n) id = fmt::format("{}-{}", base, n);
    }
    if (!valid_webhook_id(id))
      throw std::invalid_argument(fmt::format(
          "admission handler id \"{}\": at most 63 lower-case letters, digits or '-', not at either end",
          id));
    if (taken(id))
      throw std::invalid_argument(fmt::format("admission handler id \"{}\" is registered twice", id));
    if (options.timeout < std::chrono::seconds(1) || options.timeout > std::chrono::seconds(30))
      throw std::invalid_argument(
          fmt::format("admission handler \"{}\": the timeout must be 1 to 30 seconds", id));
    webhooks_.push_back({kind, std::move(id), resource, std::move(handler), std::move(options)});
  }

  [[nodiscard]] const Webhook* find(const std::string& path) const {
    const std::string bare = path.substr(0, path.find('?'));
    for (const Webhook& w : webhooks_)
      if (w.path() == bare) return &w;
    return nullptr;
  }

  [[nodiscard]] Json review(const std::string& path, const Json& admission_review) const {
    const Webhook* webhook = find(path);
    if (!webhook) throw std::invalid_argument(fmt::format("no admission handler at {}", path));
    if (!admission_review.is_object() || admission_review.value("kind", "") != "AdmissionReview" ||
        !member_or_null(admission_review, "request").is_object())
      throw std::invalid_argument("the body is not an AdmissionReview with a request");
    const std::string api_version = admission_review.value("apiVersion", "");
    if (api_version != "admission.k8s.io/v1")
      throw std::invalid_argument(fmt::format(
          "AdmissionReview apiVersion \"{}\" is not served; allowed: admission.k8s.io/v1", api_version));
    const Json& request = admission_review["request"];
    const std::string uid = string_or_empty(request, "uid");
    if (uid.empty()) throw std::invalid_argument("the AdmissionReview request has no uid");

    const std::string object_name = fmt::format("{}{}{}", string_or_empty(request, "namespace"),
                                                string_or_empty(request, "namespace").empty() ? "" : "/",
                                                string_or_empty(request, "name"));
    AdmissionContext context(request, Logger(object_name, log_));
    Json response = {{"uid", uid}, {"allowed", true}};
    try {
      webhook->handler(context);
      if (webhook->kind == Kind::Mutating && context.patch_document() != Json::object()) {
        const Json& original = member_or_null(request, "object");
        if (original.is_object()) {
          Json mutated = original;
          mutated.merge_patch(context.patch_document());
          const Json operations = Json::diff(original, mutated);
          if (!operations.empty()) {
            response["patchType"] = "JSONPatch";
            response["patch"] = base64_encode(operations.dump());
          }
        }
      }
    } catch (const AdmissionError& error) {
      response["allowed"] = false;
      response["status"] = {{"code", error.code()}, {"message", error.what()}};
    } catch (const std::exception& error) {
      // The API server would report an unanswered call as a failure too; saying why is kinder.
      context.logger().error("admission handler {} failed: {}", webhook->id, error.what());
      response["allowed"] = false;
      response["status"] = {{"code", 500},
                            {"message", fmt::format("{} failed: {}", webhook->id, error.what())}};
    }
    if (!context.warnings().empty()) response["warnings"] = context.warnings();
    return {{"apiVersion", "admission.k8s.io/v1"},
            {"kind", "AdmissionReview"},
            {"response", std::move(response)}};
  }

  [[nodiscard]] std::string base_url() const {
    if (!options_.url.empty()) {
      std::string url = options_.url;
      while (!url.empty() && url.back() == '/') url.pop_back();
      return url;
    }
    const bool ipv6 = options_.host.find(':') != std::string::npos;
    return fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", options_.host, ipv6 ? "]" : "",
                       server_ ? server_->port() : options_.port);
  }

  [[nodiscard]] Json webhook_entry(const Webhook& w) const {
    Json rule = {{"apiGroups", {w.resource.group}},
                 {"apiVersions", {w.resource.version}},
                 {"resources",
                  {w.options.subresource.empty() ? w.resource.resource
                                                 : w.resource.resource + "/" + w.options.subresource}},
                 {"operations", w.options.operations},
                 {"scope", "*"}};
    Json entry = {
        {"name", fmt::format("{}.{}", w.id, options_.configuration_name)},
        {"clientConfig", {{"url", base_url() + w.path()}, {"caBundle", base64_encode(ca_pem_)}}},
        {"rules", Json::array({rule})},
        {"failurePolicy", w.options.ignore_failures ? "Ignore" : "Fail"},
        {"sideEffects", w.options.side_effects ? "NoneOnDryRun" : "None"},
        {"admissionReviewVersions", {"v1"}},
        {"timeoutSeconds", w.options.timeout.count()},
        {"matchPolicy", "Equivalent"},
    };
    if (!w.options.namespace_selector.is_null()) entry["namespaceSelector"] = w.options.namespace_selector;
    if (!w.options.object_selector.is_null()) entry["objectSelector"] = w.options.object_selector;
    return entry;
  }

  [[nodiscard]] std::vector<Json> configurations() const {
    std::vector<Json> result;
    for (const Kind kind : {Kind::Validating, Kind::Mutating}) {
      Json webhooks = Json::array();
      for (const Webhook& w : webhooks_)
        if (w.kind == kind) webhooks.push_back(webhook_entry(w));
      if (webhooks.empty()) continue;
      result.push_back({{"apiVersion", "admissionregistration.k8s.io/v1"},
                        {"kind", kind == Kind::Validating ? "ValidatingWebhookConfiguration"
                                                          : "MutatingWebhookConfiguration"},
                        {"metadata", {{"name", options_.configuration_name}}},
                        {"webhooks", std::move(webhooks)}});
    }
    return result;
  }

  AdmissionServerOptions options_;
  LogSink log_;
  std::vector<Webhook> webhooks_;
  std::string ca_pem_;
  std::unique_ptr<http::Server> server_;
};

AdmissionServer::AdmissionServer(AdmissionServerOptions options, LogSink log)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(log))) {}
AdmissionServer::~AdmissionServer() { stop(); }

void AdmissionServer::on_validate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                                  AdmissionOptions options) {
  impl_->add(Kind::Validating, resource, std::move(handler), std::move(options));
}
void AdmissionServer::on_mutate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                                AdmissionOptions options) {
  impl_->add(Kind::Mutating, resource, std::move(handler), std::move(options));
}
bool AdmissionServer::empty() const { return impl_->webhooks_.empty(); }

void AdmissionServer::start(client::Client* client) {
  Impl& impl = *impl_;
  if (impl.server_) throw std::logic_error("AdmissionServer::start() called twice");
  if (impl.options_.configuration_name.empty())
    throw std::invalid_argument("the admission server needs a configuration name");
  http::ServerOptions options;
  options.host = impl.options_.host;
  options.port = impl.options_.port;
  options.threads = 1;
  if (impl.options_.identity) {
    options.identity = *impl.options_.identity;
    impl.ca_pem_ = impl.options_.ca_pem;
  } else {
    http::ServingIdentity made = http::create_serving_identity("riasc admission webhook", impl.options_.host);
    options.identity = std::move(made.identity);
    impl.ca_pem_ = std::move(made.ca_pem);
  }
  impl.server_ = std::make_unique<http::Server>(
      options, [&impl](http::Exchange& exchange) -> boost::asio::awaitable<void> {
        const http::Request& request = exchange.request();
        http::Response response;
        response.headers = {{"Content-Type", "application/json"}};
        if (request.method != "POST") {
          response.status = 405;
          response.body = R"({"error":"admission webhooks take POST"})";
        } else {
          try {
            response.body = impl.review(request.target, Json::parse(request.body)).dump();
          } catch (const std::exception& error) {
            response.status = impl.find(request.target) ? 400 : 404;
            response.body = Json{{"error", error.what()}}.dump();
          }
        }
        co_await exchange.respond(std::move(response));
      });
  impl.server_->start();
  if (!impl.options_.manage_configurations || !client) return;
  const client::GroupVersionResource kinds[] = {
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"},
      {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"}};
  for (const Json& configuration : impl.configurations()) {
    const bool validating = configuration["kind"] == "ValidatingWebhookConfiguration";
    client::PatchOptions apply;
    apply.field_manager = impl.options_.configuration_name;
    apply.force = true;
    client->resource(kinds[validating ? 0 : 1]).apply(configuration, apply);
  }
}

void AdmissionServer::stop() {
  if (impl_->server_) impl_->server_->stop();
}

std::uint16_t AdmissionServer::port() const { return impl_->server_ ? impl_->server_->port() : 0; }
const std::string& AdmissionServer::ca_pem() const { return impl_->ca_pem_; }
std::vector<Json> AdmissionServer::configurations() const { return impl_->configurations(); }
Json AdmissionServer::review(const std::string& path, const Json& admission_review) const {
  return impl_->review(path, admission_review);
}

}  // namespace riasc::op
