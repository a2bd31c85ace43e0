#pragma once

// The HTTP tests' server: one CA and identities for the whole suite, a server per test, and an
// echoing handler.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "riasc/http/client.hpp"
#include "riasc/http/server.hpp"
#include "riasc/http/tls_certificates.hpp"

namespace riasc::http {

// One CA and server identity for the whole suite: key generation is the slow part.
struct Identities {
  KeyPair ca = create_certificate_authority("test-ca");
  KeyPair server = issue_certificate(ca, {"server", {}, {"localhost"}, {"127.0.0.1"}, true});
  KeyPair admin = issue_certificate(ca, {"admin", {"system:masters", "lab"}, {}, {}, false});
};
inline const Identities& identities() {
  static const Identities instance;
  return instance;
}

class HttpTest : public ::testing::Test {
 protected:
  void serve(Handler handler, std::size_t body_limit = 1024) {
    ServerOptions options;
    options.body_limit = body_limit;
    serve(std::move(handler), options);
  }
  void serve(Handler handler, ServerOptions options) {
    options.identity = identities().server;
    options.client_ca_pem = identities().ca.certificate_pem;
    server_ = std::make_unique<Server>(options, std::move(handler));
    server_->start();
  }
  ClientOptions client_options() const {
    ClientOptions options;
    options.port = server_->port();
    options.ca_pem = identities().ca.certificate_pem;
    return options;
  }
  std::unique_ptr<Server> server_;
};

inline boost::asio::awaitable<void> echo(Exchange& exchange) {
  const Request& request = exchange.request();
  Response response;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = request.method + " " + request.target + " " + request.body +
                  " user=" + request.client_user.value_or("-") +
                  " accept=" + std::string(request.header("accept"));
  for (const auto& group : request.client_groups) response.body += " group=" + group;
  co_await exchange.respond(std::move(response));
}

}  // namespace riasc::http
