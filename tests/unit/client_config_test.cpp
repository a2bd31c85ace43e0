#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client_test_support.hpp"
#include "riasc/client/config.hpp"
#include "riasc/core/base64.hpp"
#include "riasc/http/tls_certificates.hpp"

namespace riasc::client {
namespace {

using client_test::ScopedEnvironment;
using client_test::TemporaryDirectory;
using ::testing::HasSubstr;

const http::KeyPair& ca() {
  static const http::KeyPair instance = http::create_certificate_authority("kubeconfig-test-ca");
  return instance;
}
const http::KeyPair& user_identity() {
  static const http::KeyPair instance = http::issue_certificate(ca(), {"alice", {"lab"}, {}, {}, false});
  return instance;
}

// The message of the ConfigError `load` throws.
template <class Load>
std::string config_error(Load load) {
  try {
    load();
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(KubeconfigTest, SeveralFilesMergeAsKubectlMergesThem) {
  TemporaryDirectory directory;
  auto first = directory.write("a.yaml", R"(
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: shared
  cluster: {server: "https://first.example:6443", insecure-skip-tls-verify: true}
users:
- name: alice
  user: {token: from-first}
contexts:
- name: lab
  context: {cluster: shared, user: alice, namespace: experiments}
)");
  auto second = directory.write("b.yaml", R"(
current-context: other
clusters:
- name: shared
  cluster: {server: "https://second.example"}
- name: edge
  cluster: {server: "https://edge.example:8443/k8s/clusters/c-1", tls-server-name: api.edge}
users:
- name: alice
  user: {token: from-second}
- name: bob
  user: {token: bob-token}
contexts:
- name: other
  context: {cluster: edge, user: bob}
)");
  const ScopedEnvironment kubeconfig("KUBECONFIG", (directory.path() / "missing.yaml").string() + ":" +
                                                       first.string() + "::" + second.string());
  auto files = kubeconfig_files_from_environment();
  ASSERT_EQ(files.size(), 3U);

  Config config = load_kubeconfig(files);
  EXPECT_EQ(config.server, "https://first.example:6443");  // the first file's "shared" wins
  EXPECT_EQ(config.bearer_token, "from-first");
  EXPECT_TRUE(config.insecure_skip_tls_verify);
  EXPECT_EQ(config.namespace_name, "experiments");

  ConfigOverrides overrides;
  overrides.context = "other";
  Config other = load_kubeconfig(files, overrides);
  EXPECT_EQ(other.server, "https://edge.example:8443/k8s/clusters/c-1");
  EXPECT_EQ(other.tls_server_name, "api.edge");
  EXPECT_EQ(other.bearer_token, "bob-token");
  EXPECT_EQ(other.namespace_name, "default");
}

TEST(KubeconfigTest, CertificatesAsDataOrAsFilesRelativeToTheKubeconfig) {
  TemporaryDirectory directory;
  directory.write("pki/ca.crt", ca().certificate_pem);
  directory.write("pki/alice.crt", user_identity().certificate_pem);
  directory.write("pki/alice.key", user_identity().private_key_pem);
  directory.write("token", "  file-token\n");
  auto files = directory.write("files.yaml", R"(
current-context: c
clusters:
- {name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: pki/ca.crt}}
users:
- {name: u, user: {client-certificate: pki/alice.crt, client-key: pki/alice.key, tokenFile: token}}
contexts:
- {name: c, context: {cluster: k, user: u}}
)");
  Config from_files = load_kubeconfig({files});
  EXPECT_EQ(from_files.ca_pem, ca().certificate_pem);
  ASSERT_TRUE(from_files.client_identity);
  EXPECT_EQ(from_files.client_identity->certificate_pem, user_identity().certificate_pem);
  EXPECT_EQ(from_files.client_identity->private_key_pem, user_identity().private_key_pem);
  EXPECT_EQ(from_files.bearer_token, "file-token");
  EXPECT_EQ(from_files.bearer_token_file, directory.path() / "token");

  // Data wins over a file name, as in client-go; the missing file is then not read at all.
  auto data = directory.write("data.yaml", fmt::format(R"(
current-context: c
clusters:
- name: k
  cluster:
    server: "https://127.0.0.1:6443"
    certificate-authority: does-not-exist.crt
    certificate-authority-data: {}
users:
- name: u
  user:
    client-certificate-data: {}
    client-key-data: {}
contexts:
- {{name: c, context: {{cluster: k, user: u}}}}
)",
                                                       base64_encode(ca().certificate_pem),
                                                       base64_encode(user_identity().certificate_pem),
                                                       base64_encode(user_identity().private_key_pem)));
  Config from_data = load_kubeconfig({data});
  EXPECT_EQ(from_data.ca_pem, ca().certificate_pem);
  ASSERT_TRUE(from_data.client_identity);
  EXPECT_EQ(from_data.client_identity->private_key_pem, user_identity().private_key_pem);
  EXPECT_TRUE(from_data.bearer_token.empty());
}

TEST(KubeconfigTest, ErrorsNameTheFileTheLineAndTheField) {
  TemporaryDirectory directory;
  auto bad_key = directory.write("bad-key.yaml", R"(current-context: c
clusters:
- {name: k, cluster: {server: "https://127.0.0.1:6443"}}
users:
- name: u
  user:
    client-certificate-data: AAAA
    client-key-data: "not base64!"
contexts:
- {name: c, context: {cluster: k, user: u}}
)");
  EXPECT_EQ(config_error([&] { load_kubeconfig({bad_key}); }),
            bad_key.string() + ":8:22: users[0].user.client-key-data: not valid base64");

  auto no_cluster = directory.write("no-cluster.yaml", R"(current-context: c
contexts:
- {name: c, context: {cluster: nowhere}}
)");
  EXPECT_THAT(config_error([&] { load_kubeconfig({no_cluster}); }),
              HasSubstr(no_cluster.string() +
                        ":3:32: contexts[0].context.cluster: cluster \"nowhere\" is not defined"));

  auto unknown_context = directory.write("unknown-context.yaml", "current-context: gone\n");
  EXPECT_THAT(
      config_error([&] { load_kubeconfig({unknown_context}); }),
      HasSubstr(unknown_context.string() + ":1:18: current-context: context \"gone\" is not defined"));

  auto missing_ca = directory.write("missing-ca.yaml", R"(current-context: c
clusters:
- {name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.pem}}
contexts:
- {name: c, context: {cluster: k}}
)");
  EXPECT_THAT(config_error([&] { load_kubeconfig({missing_ca}); }),
              HasSubstr("clusters[0].cluster.certificate-authority: cannot read " +
                        (directory.path() / "ca.pem").string()));

  auto plain_http = directory.write("http.yaml", R"(current-context: c
clusters:
- {name: k, cluster: {server: "http://127.0.0.1:8080"}}
contexts:
- {name: c, context: {cluster: k}}
)");
  EXPECT_THAT(config_error([&] { load_kubeconfig({plain_http}); }),
              HasSubstr("clusters[0].cluster.server: \"http://127.0.0.1:8080\" is not an https:// URL"));

  auto exec = directory.write("exec.yaml", R"(current-context: c
clusters:
- {name: k, cluster: {server: "https://127.0.0.1"}}
users:
- {name: u, user: {exec: {command: aws}}}
contexts:
- {name: c, context: {cluster: k, user: u}}
)");
  EXPECT_THAT(
      config_error([&] { load_kubeconfig({exec}); }),
      HasSubstr(
          "exec.yaml:5:20: users[0].user.exec.apiVersion: required: client.authentication.k8s.io/v1 or"));

  auto insecure_with_ca = directory.write("insecure.yaml", fmt::format(R"(current-context: c
clusters:
- {{name: k, cluster: {{server: "https://x", insecure-skip-tls-verify: true, certificate-authority-data: {}}}}}
contexts:
- {{name: c, context: {{cluster: k}}}}
)",
                                                                       base64_encode(ca().certificate_pem)));
  EXPECT_THAT(
      config_error([&] { load_kubeconfig({insecure_with_ca}); }),
      HasSubstr(
          "clusters[0].cluster.insecure-skip-tls-verify: cannot be combined with a certificate authority"));

  auto not_a_list = directory.write("not-a-list.yaml", "kind: Config\nclusters:\n  a: b\n");
  EXPECT_EQ(config_error([&] { load_kubeconfig({not_a_list}); }),
            not_a_list.string() + ":2:1: clusters: must be a list");

  auto syntax = directory.write("syntax.yaml", "clusters:\n  - name: [unclosed\n");
  EXPECT_THAT(config_error([&] { load_kubeconfig({syntax}); }), HasSubstr(syntax.string() + ":"));

  auto no_context = directory.write("no-context.yaml", "clusters: []\n");
  EXPECT_THAT(config_error([&] { load_kubeconfig({no_context}); }), HasSubstr("no current-context is set"));

  EXPECT_THAT(config_error([&] { load_kubeconfig({directory.path() / "none.yaml"}); }),
              HasSubstr("no kubeconfig found"));
}

TEST(InClusterConfigTest, ReadsTheServiceAccountFiles) {
  TemporaryDirectory directory;
  directory.write("token", "sa-token\n");
  directory.write("ca.crt", ca().certificate_pem);
  directory.write("namespace", "operators");
  const ScopedEnvironment host("KUBERNETES_SERVICE_HOST", "10.43.0.1");
  const ScopedEnvironment port("KUBERNETES_SERVICE_PORT", "443");
  Config config = load_in_cluster_config(directory.path());
  EXPECT_EQ(config.server, "https://10.43.0.1:443");
  EXPECT_EQ(config.bearer_token, "sa-token");
  EXPECT_EQ(config.bearer_token_file, directory.path() / "token");
  EXPECT_EQ(config.ca_pem, ca().certificate_pem);
  EXPECT_EQ(config.namespace_name, "operators");

  const ScopedEnvironment ipv6("KUBERNETES_SERVICE_HOST", "fd00::1");
  EXPECT_EQ(load_in_cluster_config(directory.path()).server, "https://[fd00::1]:443");

  std::filesystem::remove(directory.path() / "token");
  EXPECT_THAT(config_error([&] { load_in_cluster_config(directory.path()); }),
              HasSubstr((directory.path() / "token").string() + ": cannot read the service account token"));
}

TEST(InClusterConfigTest, OutsideAClusterSaysSo) {
  const ScopedEnvironment host("KUBERNETES_SERVICE_HOST", "");
  EXPECT_THAT(config_error([&] { load_in_cluster_config("/nonexistent"); }), HasSubstr("not in a cluster"));
}

TEST(ConfigTest, OverridesReplaceWhatTheyName) {
  Config config;
  config.server = "https://a.example";
  config.ca_pem = "ca";
  config.bearer_token = "old";
  config.bearer_token_file = "/tmp/token";
  ConfigOverrides overrides;
  overrides.bearer_token = "new";
  overrides.namespace_name = "lab";
  overrides.insecure_skip_tls_verify = true;
  Config result = with_overrides(config, overrides);
  EXPECT_EQ(result.server, "https://a.example");
  EXPECT_EQ(result.bearer_token, "new");
  EXPECT_TRUE(result.bearer_token_file.empty());  // else the file would win again
  EXPECT_EQ(result.namespace_name, "lab");
  EXPECT_TRUE(result.insecure_skip_tls_verify);
  EXPECT_TRUE(result.ca_pem.empty());
  overrides.server = "ftp://nope";
  EXPECT_THROW(with_overrides(config, overrides), ConfigError);
}

TEST(ConfigTest, ServerUrls) {
  auto address = parse_server_url("https://[::1]:6443/prefix/");
  EXPECT_EQ(address.host, "::1");
  EXPECT_EQ(address.port, 6443);
  EXPECT_EQ(address.path_prefix, "/prefix");
  address = parse_server_url("https://cluster.example");
  EXPECT_EQ(address.host, "cluster.example");
  EXPECT_EQ(address.port, 443);
  EXPECT_EQ(address.path_prefix, "");
  EXPECT_THROW(parse_server_url("https://host:99999"), ConfigError);
  EXPECT_THROW(parse_server_url("https://host:"), ConfigError);
  EXPECT_THROW(parse_server_url("https://:80"), ConfigError);
  EXPECT_THROW(parse_server_url("127.0.0.1:6443"), ConfigError);
}

TEST(Base64Test, DecodesWhatItEncodesAndRefusesOtherText) {
  for (const std::string& text : {std::string(), std::string("a"), std::string("ab"), std::string("abcd"),
                                  std::string("\xff\x00\x10 binary", 10)}) {
    EXPECT_EQ(base64_decode(base64_encode(text)), text);
  }
  EXPECT_EQ(base64_decode("YWJj\nZA=="), "abcd");
  EXPECT_EQ(base64_decode("YWJjZA"), "abcd");  // padding optional
  EXPECT_EQ(base64_decode("YW=JjZA"), std::nullopt);
  EXPECT_EQ(base64_decode("Y"), std::nullopt);
  EXPECT_EQ(base64_decode("YWJj!"), std::nullopt);
}

}  // namespace
}  // namespace riasc::client
