// validate_manifests: manifests checked as kube-apiserver would, each problem at file:line:column.

#include "riasc/cli/manifest_validation.hpp"

#include <gmock/gmock.h>

#include <gtest/gtest.h>
#include <filesystem>

#include <string>
#include <vector>

#include "riasc/cli/manifest_files.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "test_support.hpp"

namespace riasc::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ValidationReport run(const std::vector<ManifestFile>& files) {
  return validate_manifests(files, kinds::builtin_registry());
}

std::vector<std::string> lines(const ValidationReport& report) {
  std::vector<std::string> out;
  for (const auto& diagnostic : report.diagnostics) out.push_back(diagnostic.to_string());
  return out;
}

std::vector<std::string> check(const std::string& name, const std::string& content) {
  return lines(run({{name, content}}));
}

// ---------------------------------------------------------------------------------------------
// The broken inputs of the acceptance list: exactly one diagnostic each, at the right place

TEST(ManifestAcceptanceTest, YamlSyntaxError) {
  EXPECT_THAT(
      check("broken.yaml",
            "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
            "kind: TrafficProfile\n"               // 2
            "metadata:\n"                          // 3
            "  name: profile: broken\n"),          // 4
      ElementsAre("broken.yaml:4:16: YAML syntax error: mapping values are not allowed in this context; a "
                  "key is indented differently from its siblings, or a value contains an unquoted \": \""));
}

TEST(ManifestAcceptanceTest, LossRatioAboveOne) {
  EXPECT_THAT(
      check("lossy.yaml",
            "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
            "kind: TrafficProfile\n"               // 2
            "metadata:\n"                          // 3
            "  name: lossy\n"                      // 4
            "spec:\n"                              // 5
            "  podSelector: {}\n"                  // 6
            "  parameters:\n"                      // 7
            "    netem:\n"                         // 8
            "      loss_ratio: 1.5\n"),            // 9
      ElementsAre("lossy.yaml:9:19: spec.parameters.netem.loss_ratio: Invalid value: 1.5: must be less than "
                  "or equal to 1"));
}

TEST(ManifestAcceptanceTest, UnsupportedType) {
  EXPECT_THAT(
      check("foo.yaml",
            "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
            "kind: TrafficProfile\n"               // 2
            "metadata:\n"                          // 3
            "  name: foo\n"                        // 4
            "spec:\n"                              // 5
            "  podSelector: {}\n"                  // 6
            "  type: Foo\n"                        // 7
            "  parameters: {}\n"),                 // 8
      ElementsAre(
          R"(foo.yaml:7:9: spec.type: Unsupported value: "Foo": supported values: "Builtin", "Flexe")"));
}

TEST(ManifestAcceptanceTest, MissingPodSelectorIsReportedAtSpec) {
  EXPECT_THAT(check("nosel.yaml",
                    "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
                    "kind: TrafficProfile\n"               // 2
                    "metadata:\n"                          // 3
                    "  name: nosel\n"                      // 4
                    "spec:\n"                              // 5
                    "  parameters: {}\n"),                 // 6
              ElementsAre("nosel.yaml:5:1: spec.podSelector: Required value"));
}

TEST(ManifestAcceptanceTest, EmptyPodSelectorIsReportedOnItsLine) {
  EXPECT_THAT(check("empty.yaml",
                    "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
                    "kind: TrafficProfile\n"               // 2
                    "metadata:\n"                          // 3
                    "  name: empty\n"                      // 4
                    "spec:\n"                              // 5
                    "  podSelector:\n"                     // 6
                    "  parameters: {}\n"),                 // 7
              ElementsAre("empty.yaml:6:15: spec.podSelector: Required value"));
}

TEST(ManifestAcceptanceTest, UnknownFieldUnderNetemIsReportedAtItsKey) {
  EXPECT_THAT(
      check("typo.yaml",
            "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
            "kind: TrafficProfile\n"               // 2
            "metadata:\n"                          // 3
            "  name: typo\n"                       // 4
            "spec:\n"                              // 5
            "  podSelector: {}\n"                  // 6
            "  parameters:\n"                      // 7
            "    netem:\n"                         // 8
            "      lose_ratio: 0.2\n"),            // 9
      ElementsAre(
          R"(typo.yaml:9:7: spec.parameters.netem.lose_ratio: Unknown field: not declared in the schema; did you mean "loss_ratio"?)"));
}

TEST(ManifestAcceptanceTest, PortOutOfRange) {
  EXPECT_THAT(
      check("port.yaml",
            "apiVersion: k8s-netem.riasc.eu/v1\n"  // 1
            "kind: TrafficProfile\n"               // 2
            "metadata:\n"                          // 3
            "  name: port\n"                       // 4
            "spec:\n"                              // 5
            "  podSelector: {}\n"                  // 6
            "  parameters: {}\n"                   // 7
            "  egress:\n"                          // 8
            "    - ports:\n"                       // 9
            "        - port: 70000\n"),            // 10
      ElementsAre("port.yaml:10:17: spec.egress[0].ports[0].port: Invalid value: 70000: must be less than or "
                  "equal to 65535"));
}

TEST(ManifestAcceptanceTest, ProjectUserThatIsNotAString) {
  EXPECT_THAT(check("project.yaml",
                    "apiVersion: riasc.eu/v1\n"  // 1
                    "kind: Project\n"            // 2
                    "metadata:\n"                // 3
                    "  name: lab\n"              // 4
                    "spec:\n"                    // 5
                    "  users:\n"                 // 6
                    "    - jane\n"               // 7
                    "    - 42\n"),               // 8
              ElementsAre("project.yaml:8:7: spec.users[1]: Invalid value: 42: must be of type string"));
}

constexpr const char* kWidgetCrd =
    "apiVersion: apiextensions.k8s.io/v1\n"  // 1
    "kind: CustomResourceDefinition\n"       // 2
    "metadata:\n"                            // 3
    "  name: widgets.example.com\n"          // 4
    "spec:\n"                                // 5
    "  group: example.com\n"                 // 6
    "  scope: Namespaced\n"                  // 7
    "  names:\n"                             // 8
    "    plural: widgets\n"                  // 9
    "    kind: Widget\n"                     // 10
    "  versions:\n"                          // 11
    "    - name: v1\n"                       // 12
    "      served: true\n"                   // 13
    "      storage: true\n"                  // 14
    "      schema:\n"                        // 15
    "        openAPIV3Schema:\n"             // 16
    "          type: object\n"               // 17
    "          properties:\n"                // 18
    "            spec:\n"                    // 19
    "              type: object\n"           // 20
    "              properties:\n"            // 21
    "                replicas:\n"            // 22
    "                  type: integer\n"      // 23
    "                  maximum: 10\n";       // 24

TEST(ManifestAcceptanceTest, CrdWhoseSchemaIsNotStructural) {
  std::string crd = kWidgetCrd;
  const std::string typed = "                  type: integer\n";
  crd.erase(crd.find(typed), typed.size());  // replicas loses its type
  EXPECT_THAT(
      check("crd.yaml", crd),
      ElementsAre(
          "crd.yaml:22:17: spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas]."
          "type: Required value: must not be empty for specified object fields"));
}

// ---------------------------------------------------------------------------------------------
// CRDs among the files

constexpr const char* kWidget =
    "apiVersion: example.com/v1\n"  // 1
    "kind: Widget\n"                // 2
    "metadata:\n"                   // 3
    "  name: w\n"                   // 4
    "spec:\n"                       // 5
    "  replicas: 20\n";             // 6

TEST(ManifestCrdTest, CrdInTheFilesChecksObjectsInOtherFiles) {
  const ValidationReport report = run({{"widget.yaml", kWidget}, {"crd.yaml", kWidgetCrd}});
  EXPECT_THAT(
      lines(report),
      ElementsAre("widget.yaml:6:13: spec.replicas: Invalid value: 20: must be less than or equal to 10"));
  EXPECT_EQ(report.documents, 2U);
  EXPECT_EQ(report.checked, 2U);
  EXPECT_THAT(report.unchecked_kinds, IsEmpty());
}

TEST(ManifestCrdTest, WithoutTheCrdTheKindIsUnchecked) {
  const ValidationReport report = run({{"widget.yaml", kWidget}});
  EXPECT_THAT(lines(report), IsEmpty());
  EXPECT_EQ(report.checked, 0U);
  EXPECT_THAT(report.unchecked_kinds, ElementsAre("example.com/v1 Widget"));
}

TEST(ManifestCrdTest, BrokenCrdIsNotUsed) {
  std::string crd = kWidgetCrd;
  crd.replace(crd.find("Namespaced"), 10, "Global");
  const ValidationReport report = run({{"crd.yaml", crd}, {"widget.yaml", kWidget}});
  EXPECT_THAT(
      lines(report),
      ElementsAre(
          R"(crd.yaml:7:10: spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced")"));
  EXPECT_THAT(report.unchecked_kinds, ElementsAre("example.com/v1 Widget"));
}

TEST(ManifestCrdTest, CrdInTheFilesReplacesTheBuiltinOne) {
  const schema::CrdRegistry registry = kinds::builtin_registry();
  const schema::CustomResourceDefinition* project = registry.find("riasc.eu/v1", "Project");
  ASSERT_NE(project, nullptr);
  Json crd = project->source();
  crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["owner"] =
      Json{{"type", "string"}};
  const std::string object =
      "apiVersion: riasc.eu/v1\nkind: Project\nmetadata: {name: lab}\nspec: {owner: jane}\n";
  EXPECT_THAT(
      lines(run({{"project.yaml", object}})),
      ElementsAre("project.yaml:4:8: spec.owner: Unknown field: not declared in the schema; known fields: "
                  "users, nodes, nodeSelector, limits"));
  EXPECT_THAT(lines(run({{"project.yaml", object}, {"crd.json", crd.dump(2)}})), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// Lists, kinds and document shapes

TEST(ManifestDocumentTest, ListItemsAreCheckedWithTheirIndex) {
  const ValidationReport report = run({{"list.yaml",
                                        "apiVersion: v1\n"               // 1
                                        "kind: List\n"                   // 2
                                        "items:\n"                       // 3
                                        "  - apiVersion: riasc.eu/v1\n"  // 4
                                        "    kind: Project\n"            // 5
                                        "    metadata: {name: good}\n"   // 6
                                        "  - apiVersion: riasc.eu/v1\n"  // 7
                                        "    kind: Project\n"            // 8
                                        "    metadata: {name: bad}\n"    // 9
                                        "    spec: {users: [1]}\n"}});   // 10
  EXPECT_THAT(
      lines(report),
      ElementsAre("list.yaml:10:20: items[1].spec.users[0]: Invalid value: 1: must be of type string"));
  EXPECT_EQ(report.documents, 2U);
  EXPECT_EQ(report.checked, 2U);
}

TEST(ManifestDocumentTest, UnknownRiascKindIsAnError) {
  EXPECT_THAT(
      check("kind.yaml", "apiVersion: riasc.eu/v1\nkind: Projekt\nmetadata: {name: x}\n"),
      ElementsAre(
          R"(kind.yaml:2:7: kind: Unsupported value: "Projekt": kinds of riasc.eu: Project, SchedulerConfig, TimeSyncConfig)"));
  EXPECT_THAT(
      check("group.yaml", "apiVersion: lab.riasc.eu/v1\nkind: Thing\nmetadata: {name: x}\n"),
      ElementsAre(
          R"(group.yaml:2:7: kind: Unsupported value: "Thing": no RIasC kind is defined in group lab.riasc.eu)"));
}

TEST(ManifestDocumentTest, OtherKindsAreUncheckedNotErrors) {
  const ValidationReport report =
      run({{"app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {anything: 1}\n"
            "---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
            "---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db}\n"}});
  EXPECT_THAT(lines(report), IsEmpty());
  EXPECT_EQ(report.count(Diagnostic::Severity::Error), 0U);
  EXPECT_EQ(report.documents, 3U);
  EXPECT_EQ(report.checked, 0U);
  EXPECT_THAT(report.unchecked_kinds, ElementsAre("apps/v1 Deployment", "v1 ConfigMap"));
}

TEST(ManifestDocumentTest, ApiVersionAndKindAreRequired) {
  EXPECT_THAT(
      check("bare.yaml", "metadata: {name: x}\n"),
      ElementsAre("bare.yaml:1:1: apiVersion: Required value", "bare.yaml:1:1: kind: Required value"));
  EXPECT_THAT(check("types.yaml", "apiVersion: 1\nkind: Project\n"),
              ElementsAre("types.yaml:1:13: apiVersion: Invalid value: 1: must be a string"));
}

TEST(ManifestDocumentTest, DocumentMustBeAMapping) {
  EXPECT_THAT(
      check("list.yaml", "- a\n- b\n"),
      ElementsAre(
          R"(list.yaml:1:1: Invalid value: ["a","b"]: a manifest must be a mapping with apiVersion, kind and metadata)"));
}

TEST(ManifestDocumentTest, MalformedCrdIdentityIsReportedNotThrown) {
  ValidationReport report;
  EXPECT_NO_THROW(report = run({{"crd.yaml", "apiVersion: 1\nkind: CustomResourceDefinition\n"}}));
  EXPECT_THAT(lines(report), ElementsAre("crd.yaml:1:13: apiVersion: Invalid value: 1: must be a string"));
}

TEST(ManifestDocumentTest, ClusterScopedObjectWithNamespaceIsAWarning) {
  const ValidationReport report = run({{"ns.yaml",
                                        "apiVersion: riasc.eu/v1\n"   // 1
                                        "kind: Project\n"             // 2
                                        "metadata:\n"                 // 3
                                        "  name: lab\n"               // 4
                                        "  namespace: default\n"}});  // 5
  EXPECT_THAT(lines(report),
              ElementsAre("ns.yaml:5:14: warning: metadata.namespace: ignored: Project is cluster-scoped, "
                          "so the API server drops the namespace"));
  EXPECT_EQ(report.count(Diagnostic::Severity::Warning), 1U);
  EXPECT_EQ(report.count(Diagnostic::Severity::Error), 0U);
}

TEST(ManifestDocumentTest, DiagnosticsAreOrderedByFileThenPosition) {
  const std::string bad_project =
      "apiVersion: riasc.eu/v1\nkind: Project\nmetadata: {name: lab}\nspec: {users: [1], nodes: [2]}\n";
  const ValidationReport report = run({
      {"b.yaml", "apiVersion: riasc.eu/v1\nkind: Project\nmetadata: {name: ok}\n---\n" + bad_project},
      {"a.yaml", "x: [\n"},
      {"c.yaml", bad_project},
  });
  EXPECT_THAT(lines(report),
              ElementsAre("b.yaml:8:16: spec.users[0]: Invalid value: 1: must be of type string",
                          "b.yaml:8:28: spec.nodes[0]: Invalid value: 2: must be of type string",
                          "a.yaml:2:1: YAML syntax error: did not find expected node content (while "
                          "parsing a flow node at line 2)",
                          "c.yaml:4:16: spec.users[0]: Invalid value: 1: must be of type string",
                          "c.yaml:4:28: spec.nodes[0]: Invalid value: 2: must be of type string"));
  EXPECT_EQ(report.documents, 3U);
  EXPECT_EQ(report.checked, 3U);
}

TEST(ManifestDocumentTest, EmptyInput) {
  const ValidationReport report = run({{"empty.yaml", ""}, {"comments.yaml", "# nothing\n---\n"}});
  EXPECT_THAT(report.diagnostics, IsEmpty());
  EXPECT_EQ(report.documents, 0U);
}

TEST(DiagnosticTest, ToString) {
  Diagnostic error{Diagnostic::Severity::Error, "a.yaml", {3, 7}, "spec.x: Required value"};
  EXPECT_EQ(error.to_string(), "a.yaml:3:7: spec.x: Required value");
  Diagnostic warning{Diagnostic::Severity::Warning, "b.yaml", {1, 1}, "careful"};
  EXPECT_EQ(warning.to_string(), "b.yaml:1:1: warning: careful");
  Diagnostic unknown{Diagnostic::Severity::Error, "<stdin>", {}, "no position"};
  EXPECT_EQ(unknown.to_string(), "<stdin>: no position");
}

// ---------------------------------------------------------------------------------------------
// The examples

TEST(ManifestExamplesTest, EveryExampleValidatesWithoutErrors) {
  const ReadResult input = read_manifest_paths({std::string(RIASC_SOURCE_DIR) + "/examples"});
  EXPECT_THAT(input.errors, IsEmpty());
  ASSERT_FALSE(input.files.empty());
  const ValidationReport report = run(input.files);
  std::vector<std::string> errors;
  for (const auto& diagnostic : report.diagnostics) {
    if (diagnostic.severity == Diagnostic::Severity::Error) errors.push_back(diagnostic.to_string());
  }
  EXPECT_THAT(errors, IsEmpty());
  // Every example of a RIasC kind is checked; the quickstart experiment also has Kubernetes'
  // own kinds, which riasc validate leaves to the API server.
  std::size_t builtin = 0;
  for (const auto& object : report.objects) {
    if (!object.object.value("apiVersion", "").ends_with("riasc.eu/v1") &&
        object.object.value("kind", "") != "CustomResourceDefinition")
      ++builtin;
  }
  EXPECT_EQ(report.checked + builtin, report.documents);
  EXPECT_THAT(report.unchecked_kinds, testing::IsSubsetOf({"v1 Namespace", "v1 Pod"}));
}

// Each file alone, except that the CRDs of its folder come along (examples/operators holds a CRD and
// an object of its kind, as `kubectl apply -f examples/operators/` sends them).
TEST(ManifestExamplesTest, EachExampleFileOnItsOwn) {
  const ReadResult input = read_manifest_paths({std::string(RIASC_SOURCE_DIR) + "/examples"});
  auto folder = [](const ManifestFile& file) { return std::filesystem::path(file.name).parent_path(); };
  for (const auto& file : input.files) {
    std::vector<ManifestFile> with_crds;
    for (const auto& other : input.files) {
      if (other.name != file.name && folder(other) == folder(file) &&
          other.content.find("kind: CustomResourceDefinition") != std::string::npos)
        with_crds.push_back(other);
    }
    with_crds.push_back(file);
    const ValidationReport report = run(with_crds);
    EXPECT_EQ(report.count(Diagnostic::Severity::Error), 0U) << file.name;
    EXPECT_EQ(report.checked + report.unchecked_kinds.size() > 0, true) << file.name;
    EXPECT_TRUE(std::ranges::all_of(report.objects, &CheckedObject::valid)) << file.name;
  }
}

}  // namespace
}  // namespace riasc::cli
