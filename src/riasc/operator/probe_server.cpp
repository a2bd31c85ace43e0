#include "riasc/operator/probe_server.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "riasc/http/server.hpp"
#include "riasc/operator/operator.hpp"

namespace riasc::op {

class ProbeServer::Impl {
 public:
  explicit Impl(ProbeServerOptions options) : options_(std::move(options)) {}

  [[nodiscard]] http::Response answer(const http::Request& request) const {
    const std::string path = request.target.substr(0, request.target.find('?'));
    http::Response response;
    response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.body = "method not allowed\n";
    } else if (path == "/healthz" || path == "/readyz" || path == "/livez") {
      // Kubernetes' verbose health format, so that a failing probe's event says which check.
      bool healthy = true;
      std::string lines;
      for (const auto& [name, check] : checks_) {
        const bool ok = check();
        healthy = healthy && ok;
        lines += fmt::format("[{}]{} {}\n", ok ? '+' : '-', name, ok ? "ok" : "failed");
      }
      response.status = healthy ? 200 : 500;
      response.body = healthy ? "ok" : lines + fmt::format("{} check failed\n", path.substr(1));
    } else if (path == "/metrics" && options_.registry) {
      response.headers = {{"Content-Type", metrics::Registry::kContentType}};
      response.body = options_.registry->expose();
    } else {
      response.status = 404;
      response.body = "not found\n";
    }
    return response;
  }

  ProbeServerOptions options_;
  std::vector<std::pair<std::string, std::function<bool()>>> checks_;
  std::string ca_pem_;
  std::unique_ptr<http::Server> server_;
};

ProbeServer::ProbeServer(ProbeServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ProbeServer::~ProbeServer() { stop(); }

void ProbeServer::add_check(std::string name, std::function<bool()> check) {
  if (impl_->server_) throw std::logic_error("probe checks must be added before ProbeServer::start()");
  impl_->checks_.emplace_back(std::move(name), std::move(check));
}

void ProbeServer::add(const Operator& operator_) {
  add_check("operator-" + operator_.name(), [&operator_] { return operator_.healthy(); });
}

void ProbeServer::start() {
  if (impl_->server_) throw std::logic_error("ProbeServer::start() called twice");
  http::ServerOptions options;
  options.host = impl_->options_.host;
  options.port = impl_->options_.port;
  options.threads = 1;
  options.http2 = false;
  options.tls = impl_->options_.tls;
  if (options.tls) {
    http::ServingIdentity made = http::create_serving_identity("riasc probes", impl_->options_.host);
    options.identity = std::move(made.identity);
    impl_->ca_pem_ = std::move(made.ca_pem);
  }
  Impl& impl = *impl_;
  impl_->server_ = std::make_unique<http::Server>(
      options, [&impl](http::Exchange& exchange) -> boost::asio::awaitable<void> {
        http::Response response = impl.answer(exchange.request());
        co_await exchange.respond(std::move(response));
      });
  impl_->server_->start();
}

void ProbeServer::stop() {
  if (impl_->server_) impl_->server_->stop();
}

std::uint16_t ProbeServer::port() const { return impl_->server_ ? impl_->server_->port() : 0; }
const std::string& ProbeServer::ca_pem() const { return impl_->ca_pem_; }

}  // namespace riasc::op
