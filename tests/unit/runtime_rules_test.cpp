// The runtime's pure parts: where a pod may run, and what its container's process is started
// with. The runtime itself is tested end to end in tests/e2e.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "riasc/runtime/container_env.hpp"
#include "riasc/runtime/container_process.hpp"
#include "riasc/runtime/scheduling.hpp"
#include "test_support.hpp"

namespace riasc::runtime {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const NodeIdentity kNode{"lab-1", Json{{"site", "aachen"}, {"cores", "16"}, {"gpu", "yes"}}};

std::optional<std::string> fits(const char* pod_yaml) {
  return unschedulable_reason(test::yaml(pod_yaml), kNode);
}

TEST(RuntimeScheduling, NodeSelectorNeedsEveryLabel) {
  EXPECT_FALSE(fits("{spec: {}}"));
  EXPECT_FALSE(fits("{spec: {nodeSelector: {site: aachen}}}"));
  EXPECT_FALSE(fits("{spec: {nodeSelector: {site: aachen, gpu: 'yes'}}}"));
  EXPECT_THAT(fits("{spec: {nodeSelector: {site: aachen, gpu: 'no'}}}").value_or(""),
              HasSubstr("didn't match Pod's node affinity/selector"));
  EXPECT_TRUE(fits("{spec: {nodeSelector: {rack: a}}}"));
}

TEST(RuntimeScheduling, RequiredAffinityTermsAreOredAndTheirExpressionsAnded) {
  auto affinity = [](const std::string& terms) {
    return fits(("{spec: {affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
                 "{nodeSelectorTerms: " +
                 terms + "}}}}}")
                    .c_str());
  };
  EXPECT_FALSE(affinity("[{matchExpressions: [{key: site, operator: In, values: [aachen, delft]}]}]"));
  EXPECT_TRUE(affinity("[{matchExpressions: [{key: site, operator: NotIn, values: [aachen]}]}]"));
  EXPECT_FALSE(affinity("[{matchExpressions: [{key: rack, operator: DoesNotExist}]}]"));
  EXPECT_TRUE(affinity("[{matchExpressions: [{key: rack, operator: Exists}]}]"));
  EXPECT_FALSE(affinity("[{matchExpressions: [{key: cores, operator: Gt, values: ['8']}]}]"));
  EXPECT_TRUE(affinity("[{matchExpressions: [{key: cores, operator: Lt, values: ['8']}]}]"));
  EXPECT_TRUE(affinity("[{matchExpressions: [{key: site, operator: Gt, values: ['8']}]}]"));  // not a number
  EXPECT_FALSE(affinity("[{matchFields: [{key: metadata.name, operator: In, values: [lab-1]}]}]"));
  EXPECT_TRUE(affinity("[{matchFields: [{key: metadata.name, operator: In, values: [lab-2]}]}]"));
  // Within a term every expression must hold; any one term is enough.
  EXPECT_TRUE(
      affinity("[{matchExpressions: [{key: site, operator: In, values: [aachen]}, {key: gpu, operator: In, "
               "values: ['no']}]}]"));
  EXPECT_FALSE(
      affinity("[{matchExpressions: [{key: site, operator: In, values: [delft]}]}, "
               "{matchExpressions: [{key: gpu, operator: Exists}]}]"));
  EXPECT_TRUE(affinity("[{}]"));  // an empty term matches nothing
  EXPECT_TRUE(affinity("[]"));
}

ResolvedCommand resolve(const char* pod_yaml, const DataLookup& lookup = {}) {
  const Json pod = test::yaml(pod_yaml);
  return resolve_command(
      pod, pod["spec"]["containers"][0],
      lookup ? lookup : [](const std::string&, const std::string&) { return std::optional<Json>(); });
}

TEST(RuntimeContainerEnv, CommandArgsAndReferencesExpand) {
  const auto command = resolve(R"y({metadata: {name: sim, namespace: lab, uid: u-1, labels: {role: grid}},
    spec: {nodeName: n1, containers: [{name: c, workingDir: /srv,
      command: [run, "--name=$(NAME)", "$(UNDEFINED)", "$$(NAME)"], args: ["$(ROLE)"],
      env: [{name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}},
            {name: ROLE, valueFrom: {fieldRef: {fieldPath: "metadata.labels['role']"}}},
            {name: WHERE, value: "$(NAME) on $(NODE)"},
            {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}},
            {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]}]},
    status: {podIP: 10.79.0.7}})y");
  EXPECT_THAT(command.argv, ElementsAre("run", "--name=sim", "$(UNDEFINED)", "$(NAME)", "grid"));
  EXPECT_EQ(command.working_dir, "/srv");
  EXPECT_THAT(command.env, Contains("HOSTNAME=sim"));
  EXPECT_THAT(command.env, Contains("WHERE=sim on $(NODE)"));  // NODE comes later: not yet defined
  EXPECT_THAT(command.env, Contains("IP=10.79.0.7"));
  EXPECT_THAT(command.env, Contains(testing::StartsWith("PATH=/usr/local/sbin:")));
}

TEST(RuntimeContainerEnv, ConfigMapsAndSecretsByKeyAndWhole) {
  const DataLookup lookup = [](const std::string& resource, const std::string& name) -> std::optional<Json> {
    if (resource == "configmaps" && name == "settings") return Json{{"rate", "50"}, {"mode", "fast"}};
    if (resource == "secrets" && name == "token") return Json{{"value", "s3cret"}};
    return std::nullopt;
  };
  const auto command = resolve(R"y({metadata: {name: p}, spec: {containers: [{name: c, command: [x],
      envFrom: [{configMapRef: {name: settings}, prefix: CFG_}],
      env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: token, key: value}}},
            {name: MAYBE, valueFrom: {configMapKeyRef: {name: absent, key: k, optional: true}}}]}]}})y",
                               lookup);
  EXPECT_THAT(command.env, Contains("CFG_rate=50"));
  EXPECT_THAT(command.env, Contains("CFG_mode=fast"));
  EXPECT_THAT(command.env, Contains("TOKEN=s3cret"));
  EXPECT_THAT(command.env, testing::Not(Contains(testing::StartsWith("MAYBE="))));
  EXPECT_THROW(resolve(R"y({metadata: {name: p}, spec: {containers: [{name: c, command: [x],
      env: [{name: K, valueFrom: {configMapKeyRef: {name: settings, key: missing}}}]}]}})y",
                       lookup),
               ConfigError);
  try {
    resolve(R"y({metadata: {name: p}, spec: {containers: [{name: c, command: [x],
      env: [{name: K, valueFrom: {secretKeyRef: {name: nothere, key: k}}}]}]}})y",
            lookup);
    FAIL() << "no error";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "env K: secret \"nothere\" not found");
  }
}

TEST(RuntimeContainerEnv, NoCommandSaysWhyAndWhatToDo) {
  try {
    resolve("{metadata: {name: web}, spec: {containers: [{name: nginx, image: 'nginx:1.25', args: [-g]}]}}");
    FAIL() << "no error";
  } catch (const NoCommand& error) {
    EXPECT_THAT(error.what(), HasSubstr("container \"nginx\" has no command"));
    EXPECT_THAT(error.what(), HasSubstr("image \"nginx:1.25\" is not used"));
  }
  EXPECT_THROW(resolve(R"y({metadata: {name: p}, spec: {containers: [{name: c, command: [x],
      env: [{name: K, valueFrom: {fieldRef: {fieldPath: spec.unknown}}}]}]}})y"),
               ConfigError);
}

TEST(RuntimeProcess, ExecutablesAreFoundLikeExecvp) {
  EXPECT_EQ(find_executable("sh", "/nonexistent:/bin:/usr/bin", "/"), "/bin/sh");
  EXPECT_EQ(find_executable("no-such-program-here", "/bin:/usr/bin", "/"), std::nullopt);
  EXPECT_EQ(find_executable("./sh", "", "/bin"), "/bin/sh");
  const std::string plain = testing::TempDir() + "/not-executable";
  std::ofstream(plain) << "data";
  std::filesystem::permissions(plain,
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(find_executable(plain, "/bin", "/"), std::nullopt);
}

TEST(RuntimeProcess, ExitStatusSignalsAndStartErrors) {
  const std::string log = testing::TempDir() + "/runtime-process.log";
  auto spec = [&](std::vector<std::string> argv, std::string working_dir = "/") {
    ProcessSpec process;
    process.argv = std::move(argv);
    process.env = {"PATH=/bin:/usr/bin"};
    process.working_dir = std::move(working_dir);
    process.log_path = log;
    return process;
  };
  auto run = [&](std::vector<std::string> argv) {
    auto process = ContainerProcess::start(spec(std::move(argv)));
    std::optional<ExitStatus> status;
    while (!(status = process.reap())) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return *status;
  };
  EXPECT_EQ(run({"sh", "-c", "exit 3"}).exit_code, 3);
  const ExitStatus killed = run({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.exit_code, 143);
  EXPECT_EQ(killed.signal, SIGTERM);
  try {
    ContainerProcess::start(spec({"no-such-program-here"}));
    FAIL() << "started";
  } catch (const StartError& error) {
    EXPECT_STREQ(error.what(),
                 "exec: \"no-such-program-here\": executable file not found in $PATH (/bin:/usr/bin)");
  }
  EXPECT_THROW(ContainerProcess::start(spec({"sh"}, "/no/such/dir")), StartError);
}

}  // namespace
}  // namespace riasc::runtime
