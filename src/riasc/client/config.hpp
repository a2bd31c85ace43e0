#pragma once

// Where a Client connects and as whom: from kubeconfig files (as kubectl reads them), from a
// pod's service-account files (in-cluster), or written out by hand, with explicit overrides on
// top (a command's --server/--token/--namespace flags).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/http/tls_certificates.hpp"

namespace riasc::client {

// A kubeconfig or in-cluster setup that cannot be used; the message names the file, the line
// when known, and the field: `/home/u/.kube/config:7:5: users[0].user.client-key-data: not
// valid base64`.
class ConfigError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A kubeconfig user's `exec` credential plugin (client.authentication.k8s.io v1 or v1beta1): a
// command that prints an ExecCredential with a token or a client certificate. It is run when a
// credential is first needed, again when the one it gave expires, and after a 401.
struct ExecPlugin {
  std::string api_version;
  std::string command;  // a relative path with a '/' is relative to the kubeconfig's directory
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the process's environment
  bool provide_cluster_info = false;                     // the cluster in KUBERNETES_EXEC_INFO
  std::string install_hint;                              // shown when the command is missing
  std::string origin;                                    // "file:line: users[0].user.exec", for errors
};

struct Config {
  std::string server;  // https://host[:port][/path-prefix]
  std::string ca_pem;  // empty: the system's CAs
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // verify the server's certificate for this name instead
  std::string bearer_token;
  // Read again at most every minute when set (projected service-account tokens rotate); wins
  // over bearer_token, as in client-go.
  std::filesystem::path bearer_token_file;
  std::optional<http::KeyPair> client_identity;  // client certificate and key, PEM
  std::optional<ExecPlugin> exec_plugin;         // its credential wins over the two above
  std::string namespace_name = "default";        // the context's namespace
  // For connecting, and for each request until its whole answer (a watch: until its headers).
  // kubectl's --request-timeout; a request that times out is not sent again.
  std::chrono::seconds timeout{30};
  // Answers of 429, or 5xx with a Retry-After header (the server did not act on the request), are
  // retried this often after the Retry-After wait (at most a minute each), as client-go does.
  int max_retries = 10;
};

// What the command line or a program sets over a loaded configuration. Unset members keep the
// loaded value; `context` chooses a kubeconfig context instead of current-context.
struct ConfigOverrides {
  std::string context;
  std::optional<std::string> server;
  std::optional<std::string> ca_pem;
  std::optional<bool> insecure_skip_tls_verify;  // true also drops the CA, as kubectl does
  std::optional<std::string> tls_server_name;
  std::optional<std::string> bearer_token;
  std::optional<http::KeyPair> client_identity;
  std::optional<std::string> namespace_name;
};

Config with_overrides(Config config, const ConfigOverrides& overrides);

// Reads and merges kubeconfig files the way kubectl merges KUBECONFIG: for current-context and
// for each named cluster, user and context, the first file that sets it wins; files that do not
// exist are skipped (all missing is an error). Relative file names inside a kubeconfig are
// relative to the file that holds them.
Config load_kubeconfig(const std::vector<std::filesystem::path>& files,
                       const ConfigOverrides& overrides = {});

// $KUBECONFIG split at ':' (empty entries dropped), else ~/.kube/config.
std::vector<std::filesystem::path> kubeconfig_files_from_environment();

inline constexpr std::string_view kServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

// In a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's token, ca.crt and namespace.
Config load_in_cluster_config(const std::filesystem::path& directory = kServiceAccountDirectory,
                              const ConfigOverrides& overrides = {});

// What a program should use without being told, in controller-runtime's order: $KUBECONFIG if
// set, else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Config load_default_config(const ConfigOverrides& overrides = {});

// The parts of Config::server; ConfigError for anything but an https:// URL.
struct ServerAddress {
  std::string host;  // without the brackets of an IPv6 literal
  std::uint16_t port = 443;
  std::string path_prefix;  // "" or "/k8s/clusters/c-1", never ending in '/'
};
ServerAddress parse_server_url(std::string_view url);

}  // namespace riasc::client
