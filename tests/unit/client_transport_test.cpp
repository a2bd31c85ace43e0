// How the client's requests behave on the wire: throttled answers (429, or 5xx with Retry-After)
// are retried after the wait the server asks for, up to a limit; a server that does not answer
// costs the request timeout, and a timed-out request is not sent again.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include <fmt/format.h>

#include "http_test_support.hpp"
#include "riasc/client/client.hpp"
#include "riasc/client/errors.hpp"

namespace riasc::http {
namespace {

using namespace std::chrono_literals;

class ClientTransportTest : public HttpTest {
 protected:
  client::Config config(int max_retries = 10, std::chrono::seconds timeout = 30s) const {
    client::Config config;
    config.server = fmt::format("https://127.0.0.1:{}", server_->port());
    config.ca_pem = identities().ca.certificate_pem;
    config.client_identity = identities().admin;
    config.max_retries = max_retries;
    config.timeout = timeout;
    return config;
  }
  // Answers `throttled` times with `status` and Retry-After, then 200 with a namespace.
  void serve_throttled(int throttled, unsigned status, std::string retry_after = "0") {
    serve([this, throttled, status, retry_after](Exchange& exchange) -> boost::asio::awaitable<void> {
      Response response;
      response.headers = {{"Content-Type", "application/json"}};
      if (requests_++ < throttled) {
        response.status = status;
        if (!retry_after.empty()) response.headers.emplace_back("Retry-After", retry_after);
        response.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests",)"
                        R"("message":"too many requests","code":429})";
      } else {
        response.body = R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"lab"}})";
      }
      co_await exchange.respond(std::move(response));
    });
  }
  std::atomic<int> requests_{0};
};

TEST_F(ClientTransportTest, ThrottledAnswersAreRetriedAfterRetryAfter) {
  serve_throttled(3, 429);
  client::Client api(config());
  EXPECT_EQ(api.get_path("/api/v1/namespaces/lab")["metadata"]["name"], "lab");
  EXPECT_EQ(requests_, 4);
}

TEST_F(ClientTransportTest, RetryAfterIsWaitedFor) {
  serve_throttled(1, 503, "1");
  client::Client api(config());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(api.get_path("/api/v1/namespaces/lab")["kind"], "Namespace");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(requests_, 2);
}

TEST_F(ClientTransportTest, RetriesStopAtTheLimitWithTheTypedError) {
  serve_throttled(100, 429);
  client::Client api(config(2));
  EXPECT_THROW((void)api.get_path("/api/v1/namespaces/lab"), client::TooManyRequests);
  EXPECT_EQ(requests_, 3);  // the first try and two retries
}

TEST_F(ClientTransportTest, ServerErrorsWithoutRetryAfterAreNotRetried) {
  serve_throttled(1, 500, "");
  client::Client api(config());
  EXPECT_THROW((void)api.get_path("/api/v1/namespaces/lab"), client::ServerError);
  EXPECT_EQ(requests_, 1);
}

TEST_F(ClientTransportTest, ASilentServerCostsTheTimeoutAndTheRequestIsNotSentAgain) {
  serve([this](Exchange& exchange) -> boost::asio::awaitable<void> {
    ++requests_;
    co_await exchange.wait(10s);  // nobody wakes it
    Response late;
    co_await exchange.respond(std::move(late));
  });
  client::Client api(config(10, 1s));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)api.get_path("/api/v1/namespaces/lab"), client::ConnectionError);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(requests_, 1);
}

}  // namespace
}  // namespace riasc::http
