#include "riasc/core/json_path.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace riasc {
namespace {

const Json& object() {
  static const Json value = Json::parse(R"({
    "metadata": {"name": "w", "labels": {"app.kubernetes.io/name": "netem", "tier": "front"}},
    "spec": {"size": 3, "ratio": 0.5, "empty": null,
             "tags": ["a", "b", "c"],
             "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}, {"port": 8080}]},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}
  })");
  return value;
}

// The values a path selects, as compact JSON, for readable failures.
std::string eval(std::string_view path) { return Json(evaluate(object(), path)).dump(); }

TEST(JsonPathTest, FieldsAndIndexes) {
  EXPECT_EQ(eval(".spec.size"), "[3]");
  EXPECT_EQ(eval(".metadata.name"), R"(["w"])");
  EXPECT_EQ(eval("$.spec.ratio"), "[0.5]");
  EXPECT_EQ(eval(".spec.tags[0]"), R"(["a"])");
  EXPECT_EQ(eval(".spec.tags[-1]"), R"(["c"])");
  EXPECT_EQ(eval(".spec.tags.[1]"), R"(["b"])");
  EXPECT_EQ(eval("[\"spec\"]['tags'][2]"), R"(["c"])");
  EXPECT_EQ(eval(".spec.empty"), "[null]");
}

TEST(JsonPathTest, WholeObject) {
  EXPECT_EQ(evaluate(object(), "."), std::vector<Json>{object()});
  EXPECT_EQ(evaluate(object(), "$"), std::vector<Json>{object()});
}

TEST(JsonPathTest, Wildcards) {
  EXPECT_EQ(eval(".spec.ports[*].port"), "[80,443,8080]");
  EXPECT_EQ(eval(".spec.ports[*].name"), R"(["http","https"])");
  EXPECT_EQ(eval(".metadata.labels.*"), R"(["netem","front"])");
  EXPECT_EQ(eval(".spec.tags[*]"), R"(["a","b","c"])");
}

TEST(JsonPathTest, KeysWithDotsAndSlashes) {
  EXPECT_EQ(eval(".metadata.labels['app.kubernetes.io/name']"), R"(["netem"])");
  EXPECT_EQ(eval(R"(.metadata.labels["app.kubernetes.io/name"])"), R"(["netem"])");
  EXPECT_EQ(eval(R"(.metadata.labels.app\.kubernetes\.io/name)"), R"(["netem"])");
  // Without the escapes the dots separate fields, and nothing matches.
  EXPECT_EQ(eval(".metadata.labels.app.kubernetes.io/name"), "[]");
}

TEST(JsonPathTest, Filters) {
  EXPECT_EQ(eval(R"(.status.conditions[?(@.type=="Ready")].status)"), R"(["True"])");
  EXPECT_EQ(eval(".status.conditions[?(@.type!='Ready')].status"), R"(["False"])");
  EXPECT_EQ(eval(R"(.status.conditions[?( @.type == "Ready" )].status)"), R"(["True"])");
  EXPECT_EQ(eval(".spec.ports[?(@.port>=443)].port"), "[443,8080]");
  EXPECT_EQ(eval(".spec.ports[?(@.port < 443)].name"), R"(["http"])");
  EXPECT_EQ(eval(".spec.ports[?(@.port<=80)].name"), R"(["http"])");
  EXPECT_EQ(eval(".spec.ports[?(@.port>80.5)].port"), "[443,8080]");
  // Exists: elements that have the member.
  EXPECT_EQ(eval(".spec.ports[?(@.name)].port"), "[80,443]");
  // A string never equals a number; Kubernetes does not convert either.
  EXPECT_EQ(eval(R"(.spec.ports[?(@.port=="80")].name)"), "[]");
  // Elements without the compared member do not match, also for !=.
  EXPECT_EQ(eval(".spec.ports[?(@.name!='http')].port"), "[443]");
  EXPECT_EQ(eval(R"(.status.conditions[?(@.type=="Missing")].status)"), "[]");
}

TEST(JsonPathTest, MissingOrMismatchedGiveNoMatch) {
  EXPECT_EQ(eval(".spec.nope"), "[]");
  EXPECT_EQ(eval(".spec.nope.deeper"), "[]");
  EXPECT_EQ(eval(".metadata.name.first"), "[]");
  EXPECT_EQ(eval(".spec.tags.first"), "[]");
  EXPECT_EQ(eval(".spec.size[0]"), "[]");
  EXPECT_EQ(eval(".spec.tags[3]"), "[]");
  EXPECT_EQ(eval(".spec.tags[-4]"), "[]");
  EXPECT_EQ(eval(".spec[?(@.x)]"), "[]");
  EXPECT_EQ(eval(".spec.empty.x"), "[]");
}

TEST(JsonPathTest, FindPointsIntoTheObject) {
  auto path = JsonPath::parse(".spec.tags[1]");
  auto found = path.find(object());
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found.front(), &object()["spec"]["tags"][1]);
  EXPECT_EQ(path.text(), ".spec.tags[1]");
}

std::string error_of(std::string_view path) {
  try {
    JsonPath::parse(path);
  } catch (const JsonPathError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(JsonPathTest, UnsupportedSyntaxIsNamed) {
  EXPECT_EQ(error_of(""),
            R"(invalid JSONPath "" at position 0: the path is empty; use '.' for the whole object)");
  EXPECT_EQ(
      error_of("spec.size"),
      R"(invalid JSONPath "spec.size" at position 0: a path starts with '.', '[' or '$', e.g. .spec.replicas)");
  EXPECT_EQ(
      error_of("{.spec.size}"),
      R"(invalid JSONPath "{.spec.size}" at position 0: templates ({...}) are not supported: give the path )"
      R"(alone, e.g. .spec.replicas)");
  EXPECT_EQ(error_of(".a..b"),
            R"(invalid JSONPath ".a..b" at position 2: recursive descent (..) is not supported)");
  EXPECT_EQ(error_of(".a[1:2]"),
            R"(invalid JSONPath ".a[1:2]" at position 4: slices ([a:b]) are not supported)");
  EXPECT_EQ(error_of(".a[:2]"),
            R"(invalid JSONPath ".a[:2]" at position 3: slices ([a:b]) are not supported)");
  EXPECT_EQ(error_of(".a[0,1]"), R"(invalid JSONPath ".a[0,1]" at position 4: unions (,) are not supported)");
  EXPECT_EQ(error_of(".a['x','y']"),
            R"(invalid JSONPath ".a['x','y']" at position 6: unions (,) are not supported)");
  EXPECT_EQ(error_of(R"(.a[?(@.x="y")])"),
            R"(invalid JSONPath ".a[?(@.x="y")]" at position 8: unsupported filter operator '='; )"
            R"(use ==, !=, <, <=, > or >=)");
  EXPECT_EQ(error_of(".a["), R"(invalid JSONPath ".a[" at position 2: unterminated '[': missing ']')");
  EXPECT_EQ(error_of(".a."), R"(invalid JSONPath ".a." at position 2: a path must not end with '.')");
  EXPECT_EQ(error_of(R"(.a[?(@.x=="y"))"),
            R"x(invalid JSONPath ".a[?(@.x=="y")" at position 13: a filter is written [?(...)])x");
  EXPECT_EQ(error_of(".a[?(@.x==)]"),
            R"(invalid JSONPath ".a[?(@.x==)]" at position 10: missing operand in filter)");
  EXPECT_EQ(
      error_of(".a[?(@.x==Ready)]"),
      R"(invalid JSONPath ".a[?(@.x==Ready)]" at position 10: a filter operand is @.path, a quoted string, )"
      R"(a number, true or false)");
  EXPECT_EQ(
      error_of(".a[?('x')]"),
      R"(invalid JSONPath ".a[?('x')]" at position 5: a filter without comparison tests a path: [?(@.field)])");
  EXPECT_EQ(error_of(".a b"), R"(invalid JSONPath ".a b" at position 2: unexpected ' ')");
  EXPECT_EQ(
      error_of(".a[x]"),
      R"(invalid JSONPath ".a[x]" at position 3: expected an index, '*', a quoted key or ?(filter) inside [...])");
  EXPECT_EQ(error_of(".a['x]"),
            R"(invalid JSONPath ".a['x]" at position 3: unterminated string: missing closing ')");
}

TEST(JsonPathTest, ErrorForValidation) {
  EXPECT_EQ(json_path_error(R"(.status.conditions[?(@.type=="Ready")].status)"), std::nullopt);
  EXPECT_EQ(json_path_error(".metadata.creationTimestamp"), std::nullopt);
  EXPECT_EQ(json_path_error(".spec..x"),
            std::optional<std::string>(
                R"(invalid JSONPath ".spec..x" at position 5: recursive descent (..) is not supported)"));
  EXPECT_THROW(evaluate(object(), ".a..b"), JsonPathError);
}

TEST(JsonPathTest, EveryPrinterColumnOfTheBuiltinCrdsParses) {
  for (const char* path : {".spec.type", ".spec.parameters.netem.delay", ".spec.parameters.netem.loss_ratio",
                           ".status.matchedPods", R"(.status.conditions[?(@.type=="Ready")].status)",
                           ".metadata.creationTimestamp", ".spec.users", ".spec.connection.port"}) {
    EXPECT_EQ(json_path_error(path), std::nullopt) << path;
  }
}

}  // namespace
}  // namespace riasc
