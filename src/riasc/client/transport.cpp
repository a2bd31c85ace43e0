#include "riasc/client/transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

#include "riasc/client/errors.hpp"

namespace riasc::client::detail {

namespace {

// Connections kept open beyond this are closed after use: enough for a pool of worker threads.
constexpr std::size_t kMaxIdleConnections = 16;
// How long a token read from a file is used before the file is read again (client-go: 1 minute).
constexpr auto kTokenFileRefresh = std::chrono::minutes(1);

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

std::string_view header_value(const http::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return {};
}

// Retry-After in seconds (RFC 9110 also allows a date, which Kubernetes never sends: 1 s then).
std::chrono::milliseconds retry_delay(std::string_view retry_after) {
  int seconds = 1;
  const auto [end, error] =
      std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
  if (error != std::errc() || end != retry_after.data() + retry_after.size() || seconds < 0) seconds = 1;
  return std::chrono::seconds(std::min(seconds, 60));
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (unreserved(c))
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
  }
  return out;
}

Query& Query::add(std::string_view key, std::string_view value) {
  if (!text_.empty()) text_ += '&';
  text_ += escape(key);
  text_ += '=';
  text_ += escape(value);
  return *this;
}

Transport::Transport(Config config) : config_(std::move(config)) {
  ServerAddress address = parse_server_url(config_.server);
  options_.host = address.host;
  options_.port = address.port;
  options_.ca_pem = config_.ca_pem;
  options_.client_identity = config_.client_identity;
  options_.server_name = config_.tls_server_name;
  options_.insecure_skip_tls_verify = config_.insecure_skip_tls_verify;
  options_.timeout = config_.timeout;
  path_prefix_ = address.path_prefix;
  token_ = config_.bearer_token;
  token_read_ = std::chrono::steady_clock::now();
}

std::unique_ptr<http::Client> Transport::connect() {
  refresh_exec_credential(Need::Any);  // the token is checked for expiry when the headers are made
  std::lock_guard lock(token_mutex_);
  return std::make_unique<http::Client>(options_);
}

void Transport::refresh_exec_credential(Need need) {
  if (!config_.exec_plugin) return;
  std::lock_guard run_lock(exec_mutex_);
  {
    std::lock_guard lock(token_mutex_);
    const bool expired = exec_credential_ && exec_credential_->expires &&
                         std::chrono::system_clock::now() >= *exec_credential_->expires;
    if (exec_credential_ && need != Need::Replacement && !(need == Need::Fresh && expired)) return;
  }
  ExecCredential credential = run_exec_plugin(*config_.exec_plugin, config_, config_.timeout);
  std::lock_guard lock(token_mutex_);
  const bool new_identity = credential.client_identity &&
                            (!options_.client_identity || options_.client_identity->certificate_pem !=
                                                              credential.client_identity->certificate_pem);
  if (credential.client_identity) options_.client_identity = credential.client_identity;
  token_ = credential.token.empty() ? config_.bearer_token : credential.token;
  exec_credential_ = std::move(credential);
  if (new_identity) {
    std::lock_guard pool_lock(pool_mutex_);
    idle_.clear();  // they present the old certificate
  }
}

std::string Transport::bearer_token() {
  refresh_exec_credential(Need::Fresh);
  std::lock_guard lock(token_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (!config_.exec_plugin && !config_.bearer_token_file.empty() && now - token_read_ >= kTokenFileRefresh) {
    std::ifstream in(config_.bearer_token_file);
    std::ostringstream text;
    text << in.rdbuf();
    std::string token = text.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (in && !token.empty()) token_ = std::move(token);  // keep the last good token otherwise
    token_read_ = now;
  }
  return token_;
}

http::Headers Transport::headers(std::string_view content_type) {
  http::Headers headers{{"Accept", "application/json"}};
  if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
  if (std::string token = bearer_token(); !token.empty())
    headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

http::Response Transport::send(std::string_view method, const std::string& path, std::string body,
                               std::string_view content_type) {
  bool refreshed = false;
  for (int retries = 0;; ++retries) {
    const bool last = retries >= config_.max_retries;
    http::Response response = send_once(method, path, body, content_type);
    if (response.status == 401 && config_.exec_plugin && !refreshed) {
      refreshed = true;  // once: a plugin that keeps giving rejected credentials is the answer
      refresh_exec_credential(Need::Replacement);
      --retries;
      continue;
    }
    const std::string_view retry_after = header_value(response, "retry-after");
    const bool throttled = response.status == 429 || (response.status >= 500 && !retry_after.empty());
    if (!throttled || last) return response;
    std::this_thread::sleep_for(retry_delay(retry_after));
  }
}

http::Response Transport::send_once(std::string_view method, const std::string& path, std::string body,
                                    std::string_view content_type) {
  // First: refreshing an exec credential may retire the idle connections.
  http::Headers request_headers = headers(content_type);
  std::unique_ptr<http::Client> connection;
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  http::Response response;
  try {
    if (!connection) connection = connect();
    response = connection->request(method, full_path(path), std::move(body), std::move(request_headers));
  } catch (const ConfigError&) {
    throw;  // the credential plugin's own message
  } catch (const std::exception& error) {
    // The connection is dropped with its unknown state; the next request opens a new one.
    throw ConnectionError(fmt::format("{} {}: {}", method, config_.server, error.what()));
  }
  std::lock_guard lock(pool_mutex_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
  return response;
}

Json Transport::call(std::string_view method, const std::string& path, std::string body,
                     std::string_view content_type) {
  http::Response response = send(method, path, std::move(body), content_type);
  if (response.status >= 400)
    throw_api_error(static_cast<int>(response.status), response.body, header_value(response, "retry-after"));
  if (response.body.empty()) return nullptr;
  Json parsed = Json::parse(response.body, nullptr, false);
  if (parsed.is_discarded()) {
    throw ServerError(static_cast<int>(response.status), "InternalError",
                      fmt::format("{} {}: the answer is not JSON", method, path));
  }
  return parsed;
}

}  // namespace riasc::client::detail
