// `riasc user add NAME [--group G]...`: a client certificate for NAME signed by the embedded
// server's CA, and a kubeconfig that uses it. What NAME may then do is up to RBAC: a Project that
// lists NAME in spec.users, or a RoleBinding.

#include <fmt/format.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "riasc/apiserver/api_server.hpp"
#include "riasc/cli/commands.hpp"
#include "riasc/client/config.hpp"
#include "riasc/core/go_quote.hpp"
#include "riasc/core/rfc3339.hpp"
#include "riasc/http/tls_certificates.hpp"

namespace riasc::cli {

namespace {

namespace fs = std::filesystem;

struct UserFlags {
  std::string name;
  std::vector<std::string> groups;
  std::string data_dir = ".riasc";
  std::string output;  // default DATA_DIR/users/NAME.kubeconfig
  std::string server;  // default: the admin kubeconfig's
  int days = 365;
};

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The same rule as a Project's spec.users, so every user made here can be listed in a Project.
std::string name_problem(const std::string& name) {
  static const std::regex kAllowed("[A-Za-z0-9][A-Za-z0-9._@:+-]*");
  if (name.empty() || name.size() > 247 || !std::regex_match(name, kAllowed))
    return "must be 1 to 247 letters, digits and . _ @ : + -, starting with a letter or digit";
  if (name.starts_with("system:"))
    return "names starting with system: are reserved for Kubernetes' own identities";
  return {};
}

int add_user(const UserFlags& flags) {
  auto fail = [](const std::string& message) {
    std::cerr << "riasc user add: " << message << "\n";
    return 1;
  };
  if (auto problem = name_problem(flags.name); !problem.empty())
    return fail(fmt::format("user name {}: {}", go_quote(flags.name), problem));
  for (const auto& group : flags.groups) {
    if (group.empty() || group.find(',') != std::string::npos)
      return fail(fmt::format("--group {}: must be non-empty and contain no comma", go_quote(group)));
  }
  if (flags.days < 1 || flags.days > 3650)
    return fail(fmt::format("--days {}: must be 1 to 3650", flags.days));

  const fs::path data_dir(flags.data_dir);
  const auto ca_certificate = read_file(data_dir / "pki" / "ca.crt");
  const auto ca_key = read_file(data_dir / "pki" / "ca.key");
  if (!ca_certificate || !ca_key) {
    return fail(fmt::format(
        "{}: no CA (ca.crt and ca.key); start `riasc up` or `riasc server` with --data-dir {} once "
        "first, or pass the --data-dir of a running server",
        (data_dir / "pki").string(), flags.data_dir));
  }
  std::string server = flags.server;
  if (server.empty()) {
    try {
      server = client::load_kubeconfig({data_dir / "kubeconfig"}).server;
    } catch (const std::exception& error) {
      return fail(fmt::format("cannot read the server's address from {}: {}; pass --server https://HOST:PORT",
                              (data_dir / "kubeconfig").string(), error.what()));
    }
  }

  http::CertificateRequest request;
  request.common_name = flags.name;
  request.organizations = flags.groups;
  request.valid_days = flags.days;
  http::KeyPair credentials;
  try {
    credentials = http::issue_certificate({*ca_certificate, *ca_key}, request);
  } catch (const std::exception& error) {
    return fail(fmt::format("cannot sign the certificate with {}: {}", (data_dir / "pki" / "ca.key").string(),
                            error.what()));
  }
  const fs::path output =
      flags.output.empty() ? data_dir / "users" / (flags.name + ".kubeconfig") : fs::path(flags.output);
  std::error_code error;
  if (output.has_parent_path()) fs::create_directories(output.parent_path(), error);
  {
    // Created owner-only before anything is written: the file holds a private key.
    const mode_t old_mask = ::umask(077);
    std::ofstream out(output, std::ios::trunc);
    ::umask(old_mask);
    out << apiserver::kubeconfig_text(server, *ca_certificate, flags.name, credentials);
    if (!out) return fail(fmt::format("{}: cannot write the kubeconfig", output.string()));
  }
  fs::permissions(output, fs::perms::owner_read | fs::perms::owner_write, error);
  const auto until = std::chrono::system_clock::now() + std::chrono::days(flags.days);
  std::string groups;
  for (const auto& group : flags.groups) groups += (groups.empty() ? "" : ", ") + group;
  std::cout << fmt::format(
      "riasc user add: wrote {} for user {}{} (certificate valid for {} days, until {})\n"
      "Grant access with a Project that lists the user in spec.users, or a RoleBinding; then:\n"
      "  KUBECONFIG={} kubectl auth can-i --list -n NAMESPACE\n",
      output.string(), flags.name, groups.empty() ? "" : fmt::format(" (groups: {})", groups), flags.days,
      format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(until)), output.string());
  return 0;
}

}  // namespace

void add_user_command(CLI::App& app) {
  auto* user = app.add_subcommand("user", "Credentials for people who use the embedded server");
  user->require_subcommand(1);
  auto flags = std::make_shared<UserFlags>();
  auto* add = user->add_subcommand(
      "add", "Sign a client certificate for NAME with the server's CA and write a kubeconfig that uses it");
  add->add_option("name", flags->name, "User name (as RBAC subjects and Project spec.users name it)")
      ->required();
  add->add_option("--group,-g", flags->groups, "A group the user belongs to (repeatable)");
  add->add_option("--data-dir", flags->data_dir, "The server's data folder (holds pki/ and kubeconfig)")
      ->capture_default_str();
  add->add_option("--output,-o", flags->output,
                  "Where to write the kubeconfig [DATA_DIR/users/NAME.kubeconfig]");
  add->add_option("--server", flags->server, "The server's URL [the one in DATA_DIR/kubeconfig]");
  add->add_option("--days", flags->days, "How long the certificate is valid, 1 to 3650 days")
      ->capture_default_str();
  add->callback([flags] { exit_with(add_user(*flags)); });
}

}  // namespace riasc::cli
