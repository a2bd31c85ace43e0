#pragma once

// Inside the client library (not for its users): authenticated requests over a pool of
// keep-alive connections, shared by Client, Resource, discovery and watches.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/client/config.hpp"
#include "riasc/client/exec_credential.hpp"
#include "riasc/client/watch.hpp"
#include "riasc/core/json.hpp"
#include "riasc/http/client.hpp"

namespace riasc::client::detail {

// Percent-encodes everything but RFC 3986's unreserved characters: label selectors carry
// spaces, commas, '!' and parentheses.
std::string escape(std::string_view text);

// A query string built in order: "" or "?a=1&b=x%20y".
class Query {
 public:
  Query& add(std::string_view key, std::string_view value);
  Query& add_if(std::string_view key, std::string_view value) {
    return value.empty() ? *this : add(key, value);
  }
  [[nodiscard]] std::string str() const { return text_.empty() ? "" : "?" + text_; }

 private:
  std::string text_;
};

class Transport {
 public:
  explicit Transport(Config config);  // ConfigError for a bad server URL

  [[nodiscard]] const Config& config() const { return config_; }

  // `path` without the server's path prefix. ConnectionError when no answer came. Throttled
  // answers are retried (Config::max_retries).
  http::Response send(std::string_view method, const std::string& path, std::string body = {},
                      std::string_view content_type = {});
  // send(), then the typed ApiError for a status >= 400, else the body as JSON.
  Json call(std::string_view method, const std::string& path, std::string body = {},
            std::string_view content_type = {});

  // A connection of its own (a watch holds one for as long as it runs), and what to send on it.
  [[nodiscard]] std::unique_ptr<http::Client> connect();
  [[nodiscard]] http::Headers headers(std::string_view content_type = {});
  [[nodiscard]] std::string full_path(const std::string& path) const { return path_prefix_ + path; }

 private:
  http::Response send_once(std::string_view method, const std::string& path, std::string body,
                           std::string_view content_type);
  std::string bearer_token();
  // With an exec plugin: runs it when there is no credential yet, or (Fresh) the last one
  // expired, or (Replacement) a 401 said it is no good. New client certificates apply to new
  // connections.
  enum class Need { Any, Fresh, Replacement };
  void refresh_exec_credential(Need need);

  Config config_;
  http::ClientOptions options_;
  std::string path_prefix_;

  // Idle connections; a calling thread takes one (or opens one) for each request and gives it
  // back, so threads never wait for each other's requests.
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<http::Client>> idle_;

  std::mutex exec_mutex_;  // held while the plugin runs: one run for all waiting threads
  std::optional<ExecCredential> exec_credential_;

  std::mutex token_mutex_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_;
};

// A watch of `path_and_query` (which has ?watch=true) from `resource_version`, on a connection of
// its own.
WatchStream open_watch(std::shared_ptr<Transport> transport, std::string path_and_query,
                       std::string resource_version);

}  // namespace riasc::client::detail
