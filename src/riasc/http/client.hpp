#pragma once

// A blocking HTTPS/1.1 client with keep-alive, for tests and command-line tools now and the
// Kubernetes client library (src/riasc/client). Verifies the server against a given CA (or the
// system's), by IP or host name.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "riasc/http/server.hpp"

namespace riasc::http {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string ca_pem;                      // trust this CA only; empty: the system's CAs
  std::optional<KeyPair> client_identity;  // present a client certificate
  // The name the server's certificate must carry and the TLS SNI, when it differs from `host`
  // (kubeconfig's tls-server-name: a cluster reached through a tunnel or by IP).
  std::string server_name;
  bool insecure_skip_tls_verify = false;  // kubeconfig's insecure-skip-tls-verify
  // Bounds connecting (with the TLS handshake), and each request() from writing it to the end of
  // the answer: past it, request() throws (boost::system::system_error, beast's timeout). A
  // stream()'s body is not bounded.
  std::chrono::seconds timeout{30};
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Reuses the connection while the server keeps it alive; reconnects once if it went away.
  Response request(std::string_view method, std::string_view target, std::string body = {},
                   Headers headers = {});

  // For streaming responses (watches): calls `on_data` with each piece of the body as it arrives,
  // until it returns false or the server ends the response. Returns the status code, or 0 when
  // cancel() ended it before the response began.
  unsigned stream(std::string_view method, std::string_view target,
                  const std::function<bool(std::string_view)>& on_data, Headers headers = {});

  // From any thread: ends the stream() in progress by shutting its socket down (a blocked read
  // returns at once), and makes every later stream() return 0 without connecting. This is how a
  // watch is stopped from an informer's thread without waiting for the next event.
  void cancel();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::http
