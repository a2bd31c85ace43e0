#include "riasc/client/exec_credential.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "riasc/core/base64.hpp"
#include "riasc/core/json.hpp"
#include "riasc/core/rfc3339.hpp"

extern char** environ;

namespace riasc::client::detail {

namespace {

[[noreturn]] void fail(const ExecPlugin& plugin, const std::string& message) {
  throw ConfigError(fmt::format("{}: exec plugin \"{}\": {}", plugin.origin, plugin.command, message));
}

// KUBERNETES_EXEC_INFO: what the plugin may want to know about the request.
std::string exec_info(const ExecPlugin& plugin, const Config& cluster) {
  Json spec = {{"interactive", false}};
  if (plugin.provide_cluster_info) {
    spec["cluster"] = {{"server", cluster.server},
                       {"insecure-skip-tls-verify", cluster.insecure_skip_tls_verify}};
    if (!cluster.tls_server_name.empty()) spec["cluster"]["tls-server-name"] = cluster.tls_server_name;
    if (!cluster.ca_pem.empty())
      spec["cluster"]["certificate-authority-data"] = base64_encode(cluster.ca_pem);
  }
  return Json{{"apiVersion", plugin.api_version}, {"kind", "ExecCredential"}, {"spec", spec}}.dump();
}

// Closes both ends of a pipe however the run ends.
struct Pipe {
  int fds[2] = {-1, -1};
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
};

std::string run(const ExecPlugin& plugin, const Config& cluster, std::chrono::seconds timeout) {
  std::vector<std::string> environment;
  for (char** entry = environ; entry && *entry; ++entry) environment.emplace_back(*entry);
  for (const auto& [name, value] : plugin.env) environment.push_back(name + "=" + value);
  environment.push_back("KUBERNETES_EXEC_INFO=" + exec_info(plugin, cluster));
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> arguments{plugin.command};
  arguments.insert(arguments.end(), plugin.args.begin(), plugin.args.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  Pipe out;
  if (::pipe2(out.fds, O_CLOEXEC) != 0) fail(plugin, fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fds[1], 1);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawnp(&pid, plugin.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::string message = fmt::format("cannot run it: {}", std::strerror(spawned));
    if (!plugin.install_hint.empty()) message += "\n" + plugin.install_hint;
    fail(plugin, message);
  }
  ::close(out.fds[1]);
  out.fds[1] = -1;

  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd readable{out.fds[0], POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    char buffer[4096];
    const ssize_t got = ::read(out.fds[0], buffer, sizeof buffer);
    if (got > 0) {
      output.append(buffer, static_cast<std::size_t>(got));
      if (output.size() > (1u << 20)) fail(plugin, "printed more than 1 MiB");
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      break;
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) fail(plugin, fmt::format("no credential within {} s", timeout.count()));
  if (WIFSIGNALED(status)) fail(plugin, fmt::format("killed by signal {}", WTERMSIG(status)));
  if (WEXITSTATUS(status) != 0) fail(plugin, fmt::format("exited with status {}", WEXITSTATUS(status)));
  return output;
}

}  // namespace

ExecCredential run_exec_plugin(const ExecPlugin& plugin, const Config& cluster,
                               std::chrono::seconds timeout) {
  const std::string output = run(plugin, cluster, timeout);
  const Json credential = Json::parse(output, nullptr, false);
  if (credential.is_discarded() || !credential.is_object()) fail(plugin, "printed something other than JSON");
  if (credential.value("kind", "") != "ExecCredential")
    fail(plugin, "printed something other than an ExecCredential");
  if (credential.value("apiVersion", "") != plugin.api_version)
    fail(plugin, fmt::format("printed apiVersion \"{}\" where \"{}\" was asked for",
                             credential.value("apiVersion", ""), plugin.api_version));
  const Json status = credential.value("status", Json::object());
  if (!status.is_object()) fail(plugin, "status must be a mapping");
  ExecCredential result;
  result.token = status.value("token", "");
  const std::string certificate = status.value("clientCertificateData", "");
  const std::string key = status.value("clientKeyData", "");
  if (certificate.empty() != key.empty())
    fail(plugin, "status.clientCertificateData and status.clientKeyData come together");
  if (!certificate.empty()) result.client_identity = http::KeyPair{certificate, key};
  if (result.token.empty() && !result.client_identity)
    fail(plugin, "status has neither a token nor clientCertificateData and clientKeyData");
  if (std::string expires = status.value("expirationTimestamp", ""); !expires.empty()) {
    result.expires = parse_rfc3339(expires);
    if (!result.expires)
      fail(plugin, fmt::format("status.expirationTimestamp \"{}\" is not RFC 3339", expires));
  }
  return result;
}

}  // namespace riasc::client::detail
