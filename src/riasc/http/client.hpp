#pragma once

// A blocking HTTPS/1.1 client with keep-alive, for tests and command-line tools now and the
// Kubernetes client library later. Verifies the server against a given CA, by IP or host name.

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
  std::string ca_pem;                      // trust this CA only
  std::optional<KeyPair> client_identity;  // present a client certificate
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
  // until it returns false or the server ends the response. Returns the status code.
  unsigned stream(std::string_view method, std::string_view target,
                  const std::function<bool(std::string_view)>& on_data, Headers headers = {});

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::http
