#pragma once

// HTTPS server for the embedded API server, HTTP/1.1 and HTTP/2 (chosen by ALPN): keep-alive,
// request size limits, client certificates, and streams (watches) that wait for events without
// polling; optionally plain HTTP/1.1 (ServerOptions::tls), for what a kubelet probes. Boost.Beast
// stays inside server.cpp; handlers see only Asio coroutines and these types.

#include <utility>  // Boost 1.74's awaitable.hpp needs it first under g++ 12

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/http/tls_certificates.hpp"

namespace riasc::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // GET, POST, ...
  std::string target;  // path and query, undecoded: /api/v1/namespaces?watch=1
  Headers headers;     // names in lower case
  std::string body;
  // From a verified client certificate: CN is the user, O the groups (Kubernetes' convention).
  std::optional<std::string> client_user;
  std::vector<std::string> client_groups;

  [[nodiscard]] std::string_view header(std::string_view lower_case_name) const;
};

struct Response {
  unsigned status = 200;
  Headers headers;  // Content-Type and the like; Content-Length is set by the server
  std::string body;
};

// Pass named values, not braced temporaries, to these calls inside co_await: g++ 12 fails on
// `co_await exchange.respond({500, {...}, ...})` ("array used as initializer").
//
// One request and its answer. A handler either calls respond() once, or start_stream() and then
// write_chunk() until it is done (the server ends the stream when the handler returns).
class Exchange {
 public:
  virtual ~Exchange() = default;
  [[nodiscard]] virtual const Request& request() const = 0;
  virtual boost::asio::awaitable<void> respond(Response response) = 0;
  // false when the client has gone away.
  virtual boost::asio::awaitable<bool> start_stream(unsigned status, Headers headers) = 0;
  virtual boost::asio::awaitable<bool> write_chunk(std::string chunk) = 0;
  // Suspends until the function from waker() is called (from any thread) or `timeout` passes.
  virtual boost::asio::awaitable<void> wait(std::chrono::milliseconds timeout) = 0;
  [[nodiscard]] virtual std::function<void()> waker() = 0;
};

using Handler = std::function<boost::asio::awaitable<void>(Exchange&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                    // 0: any free port (see Server::port)
  KeyPair identity;                          // the serving certificate and key
  std::string client_ca_pem;                 // verify client certificates signed by it, when presented
  std::size_t body_limit = 3 * 1024 * 1024;  // larger bodies get 413
  unsigned threads = 2;                      // event loops, one thread each; a connection stays on one loop
  std::chrono::seconds idle_timeout{120};    // a keep-alive connection with no request is closed
  // Per client (the user of a verified client certificate, else the remote address): requests
  // being answered at once, and open streams. Beyond either the client gets 429 with a
  // Retry-After. A stream leaves the first count when it starts, as Kubernetes exempts
  // long-running requests from its in-flight limits, so one client's watches cannot starve its
  // own writes.
  unsigned max_requests_per_client = 64;
  unsigned max_streams_per_client = 4096;
  // Offer HTTP/2 by ALPN; clients that do not ask for it get HTTP/1.1 either way.
  bool http2 = true;
  // false: plain HTTP/1.1 without TLS (identity, client_ca_pem and http2 are not used), for
  // endpoints that a kubelet's httpGet probe reads, whose scheme is HTTP unless told otherwise.
  bool tls = true;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on the worker threads. Throws when the address cannot be bound.
  void start();
  // Stops accepting, ends open connections and streams, and joins the worker threads.
  void stop();
  [[nodiscard]] std::uint16_t port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::http
