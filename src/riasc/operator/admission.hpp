#pragma once

// Admission handlers, as kopf's on.validate and on.mutate: an HTTPS webhook server that answers
// the API server's AdmissionReview v1 requests, and the Validating/MutatingWebhookConfigurations
// that point the API server at it, kept in the cluster by the SDK with the server's own CA as
// caBundle. A validating handler rejects by throwing AdmissionError; a mutating handler fills a
// merge patch, which the server answers as the JSON patch AdmissionReview requires.
//
//   operator_.on_validate(kPods, [](op::AdmissionContext& ctx) {
//     if (!ctx.spec().contains("nodeName")) throw op::AdmissionError("pods here need a nodeName");
//   });
//   operator_.on_mutate(kPods, [](op::AdmissionContext& ctx) {
//     ctx.patch()["metadata"]["labels"]["lab"] = "rwth";
//   });

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "riasc/client/client.hpp"
#include "riasc/core/json.hpp"
#include "riasc/http/tls_certificates.hpp"
#include "riasc/operator/context.hpp"

namespace riasc::op {

// Rejects the request: the API server answers its client with `code` and this message.
class AdmissionError : public std::runtime_error {
 public:
  explicit AdmissionError(const std::string& message, unsigned code = 400)
      : std::runtime_error(message), code_(code) {}
  [[nodiscard]] unsigned code() const { return code_; }

 private:
  unsigned code_;
};

class AdmissionContext {
 public:
  AdmissionContext(Json request, Logger logger) : request_(std::move(request)), logger_(std::move(logger)) {}

  // The AdmissionReview's request, as sent.
  [[nodiscard]] const Json& request() const { return request_; }
  [[nodiscard]] std::string operation() const;  // CREATE, UPDATE, DELETE, CONNECT
  [[nodiscard]] bool dry_run() const;
  [[nodiscard]] const Json& user_info() const;  // {username, groups}
  // The object being written; for DELETE, the object being deleted.
  [[nodiscard]] const Json& body() const;
  [[nodiscard]] const Json& old() const;  // UPDATE and DELETE; null otherwise
  [[nodiscard]] const Json& metadata() const;
  [[nodiscard]] const Json& spec() const;
  [[nodiscard]] std::string name() const;
  [[nodiscard]] std::string namespace_name() const;

  // Mutating handlers: a JSON merge patch (RFC 7386) to the object, applied after the handler.
  [[nodiscard]] Json& patch() { return patch_; }
  [[nodiscard]] const Json& patch_document() const { return patch_; }
  // Shown to the API client (kubectl prints them as "Warning: ...").
  void warn(std::string text) { warnings_.push_back(std::move(text)); }
  [[nodiscard]] const std::vector<std::string>& warnings() const { return warnings_; }
  [[nodiscard]] const Logger& logger() const { return logger_; }

 private:
  Json request_;
  Json patch_ = Json::object();
  std::vector<std::string> warnings_;
  Logger logger_;
};

using AdmissionHandler = std::function<void(AdmissionContext& context)>;

struct AdmissionOptions {
  // Names the webhook (<id>.<configuration name>) and its path; defaults to "validate" or
  // "mutate", numbered when repeated. Lower-case letters, digits and '-'.
  std::string id{};
  std::vector<std::string> operations{"CREATE", "UPDATE"};  // or "DELETE", "CONNECT", "*"
  std::string subresource{};                                // "status": only writes to it
  // When the webhook cannot be reached or fails: false rejects the request (failurePolicy Fail),
  // true lets it through (Ignore).
  bool ignore_failures = false;
  std::chrono::seconds timeout{10};  // 1 to 30 s, as the API server allows
  // The handler changes nothing outside the object unless dry_run() is false; without it, dry-run
  // requests are refused by the API server rather than sent here (sideEffects None).
  bool side_effects = false;
  Json namespace_selector{};  // a LabelSelector; null: every namespace
  Json object_selector{};
};

struct AdmissionServerOptions {
  std::string host = "127.0.0.1";  // where to listen
  std::uint16_t port = 0;          // 0: any free port
  // The base URL the API server calls; empty: https://<host>:<port>. A webhook's URL is
  // <url>/validate/<id> or <url>/mutate/<id>.
  std::string url{};
  // The serving certificate; none: one is issued at start by a CA made then (ca_pem()).
  std::optional<http::KeyPair> identity{};
  std::string ca_pem{};  // the CA of `identity`, the configurations' caBundle
  // The Validating/MutatingWebhookConfiguration the SDK writes (and overwrites) at start; empty:
  // "<operator name>.riasc.eu". manage_configurations false: the operator's user writes them.
  std::string configuration_name{};
  bool manage_configurations = true;
};

// The webhook server. Operators own one when they have admission handlers; it also runs alone.
class AdmissionServer {
 public:
  explicit AdmissionServer(AdmissionServerOptions options, LogSink log = stderr_sink());
  ~AdmissionServer();  // stop()
  AdmissionServer(const AdmissionServer&) = delete;
  AdmissionServer& operator=(const AdmissionServer&) = delete;

  void on_validate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                   AdmissionOptions options = {});
  void on_mutate(const client::GroupVersionResource& resource, AdmissionHandler handler,
                 AdmissionOptions options = {});
  [[nodiscard]] bool empty() const;

  // Serves, then (manage_configurations) writes the webhook configurations through `client`.
  void start(client::Client* client);
  void stop();
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] const std::string& ca_pem() const;  // after start()
  // What start() writes: the configuration objects, for users who manage them themselves.
  [[nodiscard]] std::vector<Json> configurations() const;

  // Answers one AdmissionReview (the body of a webhook call) for the handler at `path`; throws
  // std::invalid_argument for a malformed review or an unknown path.
  [[nodiscard]] Json review(const std::string& path, const Json& admission_review) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::op
