#pragma once

// The embedded Kubernetes-compatible API server: HTTPS, authentication by client certificate,
// discovery, and the resource verbs kubectl and the Python client use, over ObjectService.

#include <utility>  // before Asio's awaitable.hpp (Boost 1.74 with g++ 12)

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/apiserver/resource_registry.hpp"
#include "riasc/http/server.hpp"
#include "riasc/http/tls_certificates.hpp"
#include "riasc/store/store.hpp"

namespace riasc::apiserver {

struct ApiServerOptions {
  std::filesystem::path data_dir;  // state.db, pki/, kubeconfig
  std::string host = "127.0.0.1";
  std::uint16_t port = 6443;  // 0: any free port
  bool fsync = false;
  // Event loops, each on its own thread. A write holds its loop until the store's group commit,
  // so more loops than cores let more writes share a commit (2 loops: 4,000-5,800 creates/s with
  // 8 clients on 2 cores; 8 loops: 6,700).
  unsigned threads = 8;
  // Per client (certificate user, else address): requests answered at once and open watches or
  // followed logs; beyond either, 429 with Retry-After (see http::ServerOptions).
  unsigned max_requests_per_client = 64;
  unsigned max_streams_per_client = 4096;
  // Bearer tokens besides client certificates: kube-apiserver's --token-auth-file, CSV lines
  // `token,user,uid[,"group1,group2"]` (token_authenticator.hpp). Empty: certificates only.
  std::filesystem::path token_auth_file;
  // Offer HTTP/2 (ALPN h2). Clients that want it share one connection for all their requests and
  // watches, and one write carries an event to many watches.
  bool http2 = true;
  // History older than one interval is compacted away (kube-apiserver: 5 minutes); watches and
  // continue tokens from before it get 410 Gone. Zero: never.
  std::chrono::milliseconds compaction_interval = std::chrono::minutes(5);
  // Watches with allowWatchBookmarks get a BOOKMARK this often (and when they time out).
  std::chrono::milliseconds bookmark_interval = std::chrono::minutes(1);
};

// A kubeconfig for `user`, who authenticates with the client certificate `credentials`, to the
// server at `server_url` (https://host:port) whose CA is `ca_pem`.
std::string kubeconfig_text(const std::string& server_url, const std::string& ca_pem, const std::string& user,
                            const http::KeyPair& credentials);

class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();

  // Opens the store, installs RIasC's CRDs, starts serving, then writes DIR/kubeconfig.
  void start();
  void stop();
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::filesystem::path kubeconfig_path() const;

  // The request handler, for tests that drive it without sockets.
  boost::asio::awaitable<void> handle(http::Exchange& exchange);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace riasc::apiserver
