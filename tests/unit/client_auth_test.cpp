// Bearer tokens, TLS options and error answers, against a small http::Server that plays the API
// server's part (the embedded server takes no tokens until issue 7).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "client_test_support.hpp"
#include "riasc/client/client.hpp"
#include "riasc/http/server.hpp"

namespace riasc::client {
namespace {

using client_test::ScopedEnvironment;
using client_test::TemporaryDirectory;
using ::testing::HasSubstr;

struct Identities {
  http::KeyPair ca = http::create_certificate_authority("client-auth-ca");
  http::KeyPair server = http::issue_certificate(ca, {"server", {}, {"localhost"}, {"127.0.0.1"}, true});
};
const Identities& identities() {
  static const Identities instance;
  return instance;
}

// Answers /version to requests with `Authorization: Bearer <token>`, 401 to others; /busy with
// 429, /broken with a proxy's HTML page.
class TokenServer {
 public:
  TokenServer() {
    http::ServerOptions options;
    options.identity = identities().server;
    server_ = std::make_unique<http::Server>(options,
                                             [this](http::Exchange& exchange) { return handle(exchange); });
    server_->start();
  }

  void accept(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }

  [[nodiscard]] Config config() const {
    Config config;
    config.server = fmt::format("https://127.0.0.1:{}", server_->port());
    config.ca_pem = identities().ca.certificate_pem;
    return config;
  }

 private:
  boost::asio::awaitable<void> handle(http::Exchange& exchange) {
    const http::Request& request = exchange.request();
    http::Response response;
    response.headers.emplace_back("Content-Type", "application/json");
    std::string expected;
    {
      std::lock_guard lock(mutex_);
      expected = "Bearer " + token_;
    }
    if (request.target == "/busy") {
      response.status = 429;
      response.headers.emplace_back("Retry-After", "7");
      response.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"slow down",)"
                      R"("reason":"TooManyRequests","code":429})";
    } else if (request.target == "/broken") {
      response.status = 502;
      response.body = "<html>Bad Gateway</html>";
    } else if (request.header("authorization") != expected) {
      response.status = 401;
      response.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized",)"
                      R"("reason":"Unauthorized","code":401})";
    } else {
      response.body = R"({"major":"1","minor":"32"})";
    }
    co_await exchange.respond(std::move(response));
  }

  std::mutex mutex_;  // before server_: the handler may run until server_ is gone
  std::string token_ = "secret";
  std::unique_ptr<http::Server> server_;
};

TEST(ClientAuthTest, BearerTokensAreSentAndWrongOnesAreUnauthorized) {
  TokenServer server;
  Config config = server.config();
  config.bearer_token = "secret";
  EXPECT_EQ(Client(config).get_path("/version")["minor"], "32");
  config.bearer_token = "wrong";
  try {
    Client(config).get_path("/version");
    FAIL() << "no Unauthorized";
  } catch (const Unauthorized& error) {
    EXPECT_EQ(error.code(), 401);
    EXPECT_EQ(error.reason(), "Unauthorized");
  }
}

TEST(ClientAuthTest, InClusterTokenAndCaFromTheServiceAccountDirectory) {
  TokenServer server;
  TemporaryDirectory directory;
  directory.write("token", "secret\n");
  directory.write("ca.crt", identities().ca.certificate_pem);
  const ScopedEnvironment host("KUBERNETES_SERVICE_HOST", "127.0.0.1");
  const ScopedEnvironment port("KUBERNETES_SERVICE_PORT",
                               std::to_string(parse_server_url(server.config().server).port));
  Client client(load_in_cluster_config(directory.path()));
  EXPECT_EQ(client.get_path("/version")["major"], "1");
  EXPECT_EQ(client.default_namespace(), "default");  // no namespace file
}

TEST(ClientAuthTest, TlsServerNameAndInsecureSkipVerify) {
  TokenServer server;
  Config config = server.config();
  config.bearer_token = "secret";
  config.tls_server_name = "localhost";  // the certificate's DNS name, while connecting by IP
  EXPECT_EQ(Client(config).get_path("/version")["major"], "1");
  config.tls_server_name = "elsewhere.example";
  EXPECT_THROW(Client(config).get_path("/version"), ConnectionError);

  Config untrusted = server.config();
  untrusted.bearer_token = "secret";
  untrusted.ca_pem.clear();  // the system's CAs do not know the test CA
  EXPECT_THROW(Client(untrusted).get_path("/version"), ConnectionError);
  untrusted.insecure_skip_tls_verify = true;
  EXPECT_EQ(Client(untrusted).get_path("/version")["major"], "1");
}

TEST(ClientAuthTest, ErrorAnswersBecomeTypedErrors) {
  TokenServer server;
  Client client(server.config());
  try {
    client.get_path("/busy");
    FAIL() << "no TooManyRequests";
  } catch (const TooManyRequests& error) {
    EXPECT_EQ(error.retry_after(), std::chrono::seconds(7));
    EXPECT_STREQ(error.what(), "slow down");
  }
  try {
    client.get_path("/broken");
    FAIL() << "no ServerError";
  } catch (const ServerError& error) {
    EXPECT_EQ(error.code(), 502);
    EXPECT_THAT(error.what(), HasSubstr("<html>Bad Gateway</html>"));
  }
  Config nowhere = server.config();
  nowhere.server = "https://127.0.0.1:1";
  EXPECT_THROW(Client(nowhere).get_path("/version"), ConnectionError);
}

TEST(ClientErrorsTest, StatusObjectsMapToTheirClasses) {
  auto thrown = [](int code, const std::string& reason) -> std::string {
    Json status = {
        {"kind", "Status"}, {"status", "Failure"}, {"reason", reason}, {"message", "m"}, {"code", code}};
    try {
      throw_status(status);
    } catch (const NotFound&) {
      return "NotFound";
    } catch (const AlreadyExists&) {
      return "AlreadyExists";
    } catch (const Conflict&) {
      return "Conflict";
    } catch (const Gone&) {
      return "Gone";
    } catch (const Forbidden&) {
      return "Forbidden";
    } catch (const ServerError&) {
      return "ServerError";
    } catch (const ApiError& error) {
      return "ApiError " + std::to_string(error.code());
    }
    return "nothing";
  };
  EXPECT_EQ(thrown(404, "NotFound"), "NotFound");
  EXPECT_EQ(thrown(409, "AlreadyExists"), "AlreadyExists");
  EXPECT_EQ(thrown(409, "Conflict"), "Conflict");
  EXPECT_EQ(thrown(410, "Expired"), "Gone");
  EXPECT_EQ(thrown(403, "Forbidden"), "Forbidden");
  EXPECT_EQ(thrown(503, "ServiceUnavailable"), "ServerError");
  EXPECT_EQ(thrown(405, "MethodNotAllowed"), "ApiError 405");
}

}  // namespace
}  // namespace riasc::client
