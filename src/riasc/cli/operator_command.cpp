#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "riasc/cli/commands.hpp"
#include "riasc/operator/runner.hpp"
#include "riasc/tenancy/project_operator.hpp"

namespace riasc::cli {
namespace {

// The webhook server's flags; the operator SDK's standard flags (parse_runner_flags) take the rest.
struct WebhookFlags {
  std::string address = "0.0.0.0";
  std::uint16_t port = 9443;
  std::string url;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  std::string configuration_name;
};

std::optional<std::string> read_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "riasc operator: {}: cannot read {}\n", flag, path);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int run_operator(const WebhookFlags& webhook, const std::vector<std::string>& standard_args) {
  auto parsed = op::parse_runner_flags("riasc operator", standard_args, std::cout, std::cerr);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  op::RunnerOptions runner = std::get<op::RunnerOptions>(parsed);

  op::AdmissionServerOptions admission{.host = webhook.address, .port = webhook.port, .url = webhook.url};
  admission.configuration_name = webhook.configuration_name;
  if (webhook.cert_file.empty() != webhook.key_file.empty()) {
    fmt::print(stderr, "riasc operator: --webhook-cert-file and --webhook-key-file go together\n");
    return 2;
  }
  if (!webhook.cert_file.empty()) {
    auto certificate = read_file("--webhook-cert-file", webhook.cert_file);
    auto key = read_file("--webhook-key-file", webhook.key_file);
    // A self-signed certificate is its own CA; one issued by a CA needs that CA as caBundle.
    auto ca = read_file("--webhook-ca-file", webhook.ca_file.empty() ? webhook.cert_file : webhook.ca_file);
    if (!certificate || !key || !ca) return 1;
    admission.identity = http::KeyPair{*certificate, *key};
    admission.ca_pem = *ca;
  }
  op::OperatorOptions options = tenancy::ProjectOperator::operator_options();
  options.admission = admission;
  options.log = op::runner_log_sink(runner.log_format, "riasc-operator", runner.verbose);

  // The Runner owns the client and the operator; the Project operator lives as long as the
  // Runner, which stops its operator before run() returns.
  auto projects = std::make_shared<std::unique_ptr<tenancy::ProjectOperator>>();
  const op::LogSink log = options.log;
  op::Runner runner_(runner, options, [projects, log](op::Operator& operator_, client::Client& api) {
    *projects = std::make_unique<tenancy::ProjectOperator>(operator_, api,
                                                           tenancy::ProjectOperatorOptions{.log = log});
  });
  return runner_.run();
}

}  // namespace

void add_operator_command(CLI::App& app) {
  auto webhook = std::make_shared<WebhookFlags>();
  auto* command = app.add_subcommand(
      "operator",
      "Run RIasC's operators against a cluster: the Project operator (namespaces, admin role bindings, node "
      "labels) and its pod admission webhooks. The operator SDK's flags apply too: --kubeconfig, --context, "
      "--workers, --probe-port, --probe-address, --probe-https, --leader-elect, --lease-name, "
      "--lease-namespace, --log-format, --verbose (docs/operator-sdk.md).");
  command->allow_extras();
  command->add_option("--webhook-address", webhook->address, "Where the webhook server listens")
      ->capture_default_str();
  command->add_option("--webhook-port", webhook->port, "Webhook server port (0: any free one)")
      ->capture_default_str();
  command->add_option("--webhook-url", webhook->url,
                      "Base URL the API server calls, e.g. https://riasc-operator.riasc-system.svc:443 "
                      "(default: https://<address>:<port>)");
  command->add_option("--webhook-cert-file", webhook->cert_file,
                      "Serving certificate, PEM (default: one made at start with a CA of its own)");
  command->add_option("--webhook-key-file", webhook->key_file, "Private key of --webhook-cert-file, PEM");
  command->add_option(
      "--webhook-ca-file", webhook->ca_file,
      "CA of the serving certificate, the webhooks' caBundle (default: the certificate itself)");
  command->add_option("--webhook-configuration-name", webhook->configuration_name,
                      "Name of the Mutating/ValidatingWebhookConfiguration (default: project.riasc.eu)");
  command->callback([webhook, command] {
    if (int code = run_operator(*webhook, command->remaining()); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli
