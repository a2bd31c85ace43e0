#pragma once

// Inside the client library: runs a kubeconfig's exec credential plugin and reads the
// ExecCredential it prints, as client-go's exec authenticator does.

#include <chrono>
#include <optional>
#include <string>

#include "riasc/client/config.hpp"
#include "riasc/http/tls_certificates.hpp"

namespace riasc::client::detail {

struct ExecCredential {
  std::string token;
  std::optional<http::KeyPair> client_identity;
  std::optional<std::chrono::system_clock::time_point> expires;  // none: until a 401
};

// Runs the plugin (stdin from /dev/null, stderr passed through, KUBERNETES_EXEC_INFO set) and
// waits at most `timeout`. ConfigError naming the plugin's kubeconfig entry when the command is
// missing, fails, runs too long or prints something other than an ExecCredential.
ExecCredential run_exec_plugin(const ExecPlugin& plugin, const Config& cluster, std::chrono::seconds timeout);

}  // namespace riasc::client::detail
