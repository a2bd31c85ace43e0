#include "riasc/client/config.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "riasc/core/base64.hpp"
#include "riasc/core/field_error.hpp"
#include "riasc/core/yaml_document.hpp"

namespace riasc::client {

namespace {

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_required(const std::filesystem::path& file, std::string_view what) {
  auto text = read_file(file);
  if (!text) throw ConfigError(fmt::format("{}: cannot read the {}", file.string(), what));
  return *text;
}

bool is_pem(std::string_view text, std::string_view label_end) {
  return text.find("-----BEGIN ") != std::string_view::npos && text.find(label_end) != std::string_view::npos;
}

struct KubeconfigFile {
  std::filesystem::path path;
  YamlDocument document;
};

[[noreturn]] void fail(const KubeconfigFile& file, const FieldPath& path, std::string_view message) {
  std::string where = file.path.string();
  if (auto position = file.document.positions.locate(path); position.line > 0)
    where += fmt::format(":{}:{}", position.line, position.column);
  if (path.empty()) throw ConfigError(fmt::format("{}: {}", where, message));
  throw ConfigError(fmt::format("{}: {}: {}", where, path.to_string(), message));
}

// One cluster, user or context: the mapping under its `cluster`/`user`/`context` key.
struct Entry {
  const KubeconfigFile* file = nullptr;
  FieldPath path;  // clusters[2].cluster
  Json value;

  [[noreturn]] void fail(std::string_view key, std::string_view message) const {
    client::fail(*file, path.child(key), message);
  }
  [[nodiscard]] bool has(std::string_view key) const { return value.contains(key) && !value[key].is_null(); }
  [[nodiscard]] std::string string(std::string_view key) const {
    if (!has(key)) return {};
    if (!value[key].is_string()) fail(key, "must be a string");
    return value[key].get<std::string>();
  }
  [[nodiscard]] bool boolean(std::string_view key) const {
    if (!has(key)) return false;
    if (!value[key].is_boolean()) fail(key, "must be true or false");
    return value[key].get<bool>();
  }
  // A `<key>-data` member (base64) or a `<key>` file name, relative to this kubeconfig; the data
  // wins when both are set, as in client-go.
  [[nodiscard]] std::string data_or_file(const std::string& key) const {
    const std::string data_key = key + "-data";
    if (std::string data = string(data_key); !data.empty()) {
      auto decoded = base64_decode(data);
      if (!decoded) fail(data_key, "not valid base64");
      return *decoded;
    }
    std::string name = string(key);
    if (name.empty()) return {};
    std::filesystem::path target = name;
    if (target.is_relative()) target = file->path.parent_path() / target;
    auto text = read_file(target);
    if (!text) fail(key, fmt::format("cannot read {}", target.string()));
    return *text;
  }
};

// kubectl's merge of several files: the first file to set current-context, or to define a
// cluster, user or context of a given name, wins.
class Kubeconfig {
 public:
  void add(KubeconfigFile source) {
    const KubeconfigFile& file = files_.emplace_back(std::move(source));
    const Json& root = file.document.value;
    if (root.is_null()) return;
    if (!root.is_object()) fail(file, {}, "a kubeconfig must be a mapping");
    if (root.contains("current-context") && !root["current-context"].is_null()) {
      if (!root["current-context"].is_string())
        fail(file, FieldPath().child("current-context"), "must be a string");
      if (current_context_.empty() && !root["current-context"].get<std::string>().empty()) {
        current_context_ = root["current-context"].get<std::string>();
        current_context_file_ = &file;
      }
    }
    add_section(file, "clusters", "cluster", clusters_);
    add_section(file, "users", "user", users_);
    add_section(file, "contexts", "context", contexts_);
  }

  Config resolve(const ConfigOverrides& overrides) const {
    const std::string name = overrides.context.empty() ? current_context_ : overrides.context;
    if (name.empty())
      throw ConfigError(fmt::format("{}: no current-context is set and no context was chosen", names()));
    auto context = contexts_.find(name);
    if (context == contexts_.end()) {
      if (overrides.context.empty())
        fail(*current_context_file_, FieldPath().child("current-context"),
             fmt::format("context \"{}\" is not defined", name));
      throw ConfigError(fmt::format("{}: context \"{}\" is not defined", names(), name));
    }
    Config config;
    const Entry& chosen = context->second;
    const std::string cluster_name = chosen.string("cluster");
    if (cluster_name.empty()) chosen.fail("cluster", "required");
    auto cluster = clusters_.find(cluster_name);
    if (cluster == clusters_.end())
      chosen.fail("cluster", fmt::format("cluster \"{}\" is not defined", cluster_name));
    read_cluster(cluster->second, config);
    if (std::string user_name = chosen.string("user"); !user_name.empty()) {
      auto user = users_.find(user_name);
      if (user == users_.end()) chosen.fail("user", fmt::format("user \"{}\" is not defined", user_name));
      read_user(user->second, config);
    }
    if (std::string namespace_name = chosen.string("namespace"); !namespace_name.empty())
      config.namespace_name = namespace_name;
    return with_overrides(std::move(config), overrides);
  }

  [[nodiscard]] bool empty() const { return files_.empty(); }

 private:
  static void add_section(const KubeconfigFile& file, std::string_view section, std::string_view inner,
                          std::map<std::string, Entry>& into) {
    const Json& root = file.document.value;
    if (!root.contains(section) || root[section].is_null()) return;
    const FieldPath list_path = FieldPath().child(section);
    if (!root[section].is_array()) fail(file, list_path, "must be a list");
    const Json& list = root[section];
    for (std::size_t i = 0; i < list.size(); ++i) {
      const FieldPath item_path = list_path.index(i);
      const Json& item = list[i];
      if (!item.is_object()) fail(file, item_path, "must be a mapping");
      if (!item.contains("name") || !item["name"].is_string() || item["name"].get<std::string>().empty())
        fail(file, item_path.child("name"), "required");
      Entry entry{&file, item_path.child(inner), item.contains(inner) ? item[inner] : Json::object()};
      if (entry.value.is_null()) entry.value = Json::object();
      if (!entry.value.is_object()) fail(file, entry.path, "must be a mapping");
      into.try_emplace(item["name"].get<std::string>(), std::move(entry));
    }
  }

  static void read_cluster(const Entry& cluster, Config& config) {
    config.server = cluster.string("server");
    if (config.server.empty()) cluster.fail("server", "required");
    try {
      (void)parse_server_url(config.server);
    } catch (const ConfigError& error) {
      cluster.fail("server", error.what());
    }
    config.ca_pem = cluster.data_or_file("certificate-authority");
    if (!config.ca_pem.empty() && !is_pem(config.ca_pem, "CERTIFICATE-----"))
      cluster.fail(
          cluster.has("certificate-authority-data") ? "certificate-authority-data" : "certificate-authority",
          "not a PEM certificate");
    config.insecure_skip_tls_verify = cluster.boolean("insecure-skip-tls-verify");
    if (config.insecure_skip_tls_verify && !config.ca_pem.empty())
      cluster.fail("insecure-skip-tls-verify", "cannot be combined with a certificate authority");
    config.tls_server_name = cluster.string("tls-server-name");
  }

  static void read_exec(const Entry& user, Config& config) {
    const Entry exec{user.file, user.path.child("exec"), user.value["exec"]};
    if (!exec.value.is_object()) user.fail("exec", "must be a mapping");
    ExecPlugin plugin;
    plugin.api_version = exec.string("apiVersion");
    if (plugin.api_version.empty())
      exec.fail("apiVersion",
                "required: client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1");
    if (plugin.api_version != "client.authentication.k8s.io/v1" &&
        plugin.api_version != "client.authentication.k8s.io/v1beta1")
      exec.fail("apiVersion",
                fmt::format("\"{}\" is not supported; allowed: client.authentication.k8s.io/v1, "
                            "client.authentication.k8s.io/v1beta1",
                            plugin.api_version));
    plugin.command = exec.string("command");
    if (plugin.command.empty()) exec.fail("command", "required");
    if (plugin.command.find('/') != std::string::npos && std::filesystem::path(plugin.command).is_relative())
      plugin.command = (user.file->path.parent_path() / plugin.command).lexically_normal().string();
    if (exec.has("args")) {
      const Json& args = exec.value["args"];
      if (!args.is_array()) exec.fail("args", "must be a list of strings");
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (!args[i].is_string()) exec.fail(fmt::format("args[{}]", i), "must be a string");
        plugin.args.push_back(args[i].get<std::string>());
      }
    }
    if (exec.has("env")) {
      const Json& env = exec.value["env"];
      if (!env.is_array()) exec.fail("env", "must be a list of {name, value}");
      for (std::size_t i = 0; i < env.size(); ++i) {
        const Entry variable{user.file, exec.path.child("env").index(i), env[i]};
        if (!env[i].is_object())
          exec.fail(fmt::format("env[{}]", i), "must be a mapping with name and value");
        std::string name = variable.string("name");
        if (name.empty() || name.find('=') != std::string::npos)
          variable.fail("name", "required, without '='");
        plugin.env.emplace_back(std::move(name), variable.string("value"));
      }
    }
    // Never interactive: a controller has no terminal to prompt on.
    if (std::string mode = exec.string("interactiveMode"); mode == "Always")
      exec.fail("interactiveMode", "\"Always\" needs a terminal; allowed here: Never, IfAvailable");
    else if (!mode.empty() && mode != "Never" && mode != "IfAvailable")
      exec.fail("interactiveMode", fmt::format("\"{}\" is not one of Never, IfAvailable, Always", mode));
    plugin.provide_cluster_info = exec.boolean("provideClusterInfo");
    plugin.install_hint = exec.string("installHint");
    plugin.origin = user.file->path.string();
    if (auto position = user.file->document.positions.locate(exec.path); position.line > 0)
      plugin.origin += fmt::format(":{}:{}", position.line, position.column);
    plugin.origin += ": " + exec.path.to_string();
    config.exec_plugin = std::move(plugin);
  }

  static void read_user(const Entry& user, Config& config) {
    if (user.has("auth-provider"))
      user.fail("auth-provider", "auth providers were removed from kubectl; use an exec credential plugin");
    if (user.has("exec")) read_exec(user, config);
    if (user.has("username") || user.has("password"))
      user.fail(user.has("username") ? "username" : "password", "basic authentication is not supported");
    config.bearer_token = user.string("token");
    if (std::string token_file = user.string("tokenFile"); !token_file.empty()) {
      std::filesystem::path file = token_file;
      if (file.is_relative()) file = user.file->path.parent_path() / file;
      auto token = read_file(file);
      if (!token) user.fail("tokenFile", fmt::format("cannot read {}", file.string()));
      config.bearer_token = trim(*token);
      config.bearer_token_file = file;
    }
    std::string certificate = user.data_or_file("client-certificate");
    std::string key = user.data_or_file("client-key");
    if (certificate.empty() != key.empty()) {
      user.fail(certificate.empty() ? "client-certificate-data" : "client-key-data",
                "required with " + std::string(certificate.empty() ? "client-key" : "client-certificate"));
    }
    if (certificate.empty()) return;
    if (!is_pem(certificate, "CERTIFICATE-----"))
      user.fail(user.has("client-certificate-data") ? "client-certificate-data" : "client-certificate",
                "not a PEM certificate");
    if (!is_pem(key, "PRIVATE KEY-----"))
      user.fail(user.has("client-key-data") ? "client-key-data" : "client-key", "not a PEM private key");
    config.client_identity = http::KeyPair{std::move(certificate), std::move(key)};
  }

  std::string names() const {
    std::string out;
    for (const auto& file : files_) out += (out.empty() ? "" : ":") + file.path.string();
    return out;
  }

  std::deque<KubeconfigFile> files_;  // a deque: entries point into it
  std::string current_context_;
  const KubeconfigFile* current_context_file_ = nullptr;
  std::map<std::string, Entry> clusters_;
  std::map<std::string, Entry> users_;
  std::map<std::string, Entry> contexts_;
};

std::string environment(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  return value != nullptr ? value : "";
}

}  // namespace

Config with_overrides(Config config, const ConfigOverrides& overrides) {
  if (overrides.server) {
    (void)parse_server_url(*overrides.server);
    config.server = *overrides.server;
  }
  if (overrides.ca_pem) config.ca_pem = *overrides.ca_pem;
  if (overrides.insecure_skip_tls_verify) {
    config.insecure_skip_tls_verify = *overrides.insecure_skip_tls_verify;
    if (config.insecure_skip_tls_verify) config.ca_pem.clear();
  }
  if (overrides.tls_server_name) config.tls_server_name = *overrides.tls_server_name;
  if (overrides.bearer_token) {
    config.bearer_token = *overrides.bearer_token;
    config.bearer_token_file.clear();
  }
  if (overrides.client_identity) config.client_identity = overrides.client_identity;
  if (overrides.namespace_name) config.namespace_name = *overrides.namespace_name;
  return config;
}

Config load_kubeconfig(const std::vector<std::filesystem::path>& files, const ConfigOverrides& overrides) {
  Kubeconfig merged;
  std::string tried;
  for (const auto& path : files) {
    tried += (tried.empty() ? "" : ", ") + path.string();
    auto text = read_file(path);
    if (!text) {
      if (std::filesystem::exists(path))
        throw ConfigError(fmt::format("{}: cannot read the kubeconfig", path.string()));
      continue;
    }
    KubeconfigFile file{path, {}};
    try {
      auto documents = parse_yaml_stream(*text);
      if (documents.size() > 1)
        throw ConfigError(fmt::format("{}: a kubeconfig is one YAML document", path.string()));
      if (!documents.empty()) file.document = std::move(documents.front());
    } catch (const YamlError& error) {
      throw ConfigError(fmt::format("{}:{}:{}: {}", path.string(), error.position().line,
                                    error.position().column, error.what()));
    }
    merged.add(std::move(file));
  }
  if (merged.empty())
    throw ConfigError(fmt::format("no kubeconfig found (looked for {})", tried.empty() ? "none" : tried));
  return merged.resolve(overrides);
}

std::vector<std::filesystem::path> kubeconfig_files_from_environment() {
  std::vector<std::filesystem::path> files;
  const std::string list = environment("KUBECONFIG");
  std::size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    std::size_t end = std::min(list.find(':', start), list.size());
    if (end > start) files.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  if (files.empty()) files.push_back(std::filesystem::path(environment("HOME")) / ".kube" / "config");
  return files;
}

Config load_in_cluster_config(const std::filesystem::path& directory, const ConfigOverrides& overrides) {
  const std::string host = environment("KUBERNETES_SERVICE_HOST");
  const std::string port = environment("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty())
    throw ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  Config config;
  config.server = host.find(':') != std::string::npos ? fmt::format("https://[{}]:{}", host, port)
                                                      : fmt::format("https://{}:{}", host, port);
  (void)parse_server_url(config.server);
  config.bearer_token_file = directory / "token";
  config.bearer_token = trim(read_required(config.bearer_token_file, "service account token"));
  config.ca_pem = read_required(directory / "ca.crt", "service account CA certificate");
  if (auto namespace_name = read_file(directory / "namespace");
      namespace_name && !trim(*namespace_name).empty())
    config.namespace_name = trim(*namespace_name);
  return with_overrides(std::move(config), overrides);
}

Config load_default_config(const ConfigOverrides& overrides) {
  if (environment("KUBECONFIG").empty() && !environment("KUBERNETES_SERVICE_HOST").empty())
    return load_in_cluster_config(kServiceAccountDirectory, overrides);
  return load_kubeconfig(kubeconfig_files_from_environment(), overrides);
}

ServerAddress parse_server_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    throw ConfigError(fmt::format("\"{}\" is not an https:// URL (plain http is not supported)", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  ServerAddress address;
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    address.path_prefix = std::string(path);
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      throw ConfigError(fmt::format("\"{}\": unclosed '[' in the host", url));
    address.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw ConfigError(fmt::format("\"{}\": unexpected text after the host", url));
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    address.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (address.host.empty() || address.host.find('@') != std::string::npos)
    throw ConfigError(fmt::format("\"{}\": no host", url));
  if (!port.empty() || authority.ends_with(':')) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      throw ConfigError(fmt::format("\"{}\": the port must be a number from 1 to 65535", url));
    address.port = static_cast<std::uint16_t>(value);
  }
  return address;
}

}  // namespace riasc::client
