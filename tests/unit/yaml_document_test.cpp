#include "riasc/core/yaml_document.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "test_support.hpp"

namespace riasc {
namespace {

using test::yaml;

// The message and position of the YamlError that parsing `text` throws.
struct Thrown {
  std::string message;
  std::size_t line = 0;
  std::size_t column = 0;
  bool operator==(const Thrown&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Thrown& thrown) {
  return out << thrown.line << ":" << thrown.column << ": " << thrown.message;
}

Thrown parse_error(const std::string& text, const YamlLimits& limits = {}) {
  try {
    (void)parse_yaml_stream(text, limits);
  } catch (const YamlError& error) {
    return {error.what(), error.position().line, error.position().column};
  }
  ADD_FAILURE() << "no YamlError for:\n" << text;
  return {};
}

::testing::AssertionResult at(const SourcePosition& position, std::size_t line, std::size_t column) {
  if (position.line == line && position.column == column) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "position is " << position.line << ":" << position.column
                                       << ", expected " << line << ":" << column;
}

// ---------------------------------------------------------------------------------------------
// Scalars resolve as kubectl (go-yaml, YAML 1.1) resolves them

TEST(YamlScalarTest, Nulls) {
  const Json value = yaml(R"(
tilde: ~
word: null
capital: Null
upper: NULL
empty:
)");
  for (const char* key : {"tilde", "word", "capital", "upper", "empty"}) {
    ASSERT_TRUE(value.contains(key)) << key;
    EXPECT_TRUE(value[key].is_null()) << key;
  }
}

TEST(YamlScalarTest, Yaml11Booleans) {
  const Json value = yaml(R"(
yes_word: yes
Yes_word: Yes
on_word: on
ON_word: ON
y_word: y
true_word: true
True_word: True
no_word: no
NO_word: NO
off_word: off
n_word: n
false_word: FALSE
)");
  for (const char* key : {"yes_word", "Yes_word", "on_word", "ON_word", "y_word", "true_word", "True_word"}) {
    EXPECT_EQ(value[key], Json(true)) << key;
  }
  for (const char* key : {"no_word", "NO_word", "off_word", "n_word", "false_word"}) {
    EXPECT_EQ(value[key], Json(false)) << key;
  }
}

TEST(YamlScalarTest, Integers) {
  const Json value = yaml(R"(
decimal: 42
negative: -17
plus: +5
zero: 0
octal: 0755
octal_o: 0o17
hex: 0x1F
hex_upper: 0X1f
negative_hex: -0x10
binary: 0b101
underscores: 1_000_000
int64_max: 9223372036854775807
int64_min: -9223372036854775808
)");
  const std::pair<const char*, std::int64_t> expected[] = {
      {"decimal", 42},
      {"negative", -17},
      {"plus", 5},
      {"zero", 0},
      {"octal", 493},
      {"octal_o", 15},
      {"hex", 31},
      {"hex_upper", 31},
      {"negative_hex", -16},
      {"binary", 5},
      {"underscores", 1000000},
      {"int64_max", INT64_MAX},
      {"int64_min", INT64_MIN},
  };
  for (const auto& [key, number] : expected) {
    EXPECT_TRUE(value[key].is_number_integer()) << key << " = " << value[key];
    EXPECT_EQ(value[key].get<std::int64_t>(), number) << key;
  }
}

TEST(YamlScalarTest, IntegersBeyond64BitsBecomeUnsignedOrFloat) {
  const Json value = yaml(R"(
uint64_max: 18446744073709551615
beyond: 18446744073709551616
)");
  EXPECT_TRUE(value["uint64_max"].is_number_unsigned());
  EXPECT_EQ(value["uint64_max"].get<std::uint64_t>(), UINT64_MAX);
  EXPECT_TRUE(value["beyond"].is_number_float());
  EXPECT_DOUBLE_EQ(value["beyond"].get<double>(), 18446744073709551616.0);
}

TEST(YamlScalarTest, Floats) {
  const Json value = yaml(R"(
plain: 1.5
negative: -0.25
leading_dot: .5
exponent: 1e3
signed_exponent: 2.5E-3
underscores: 1_000.5
)");
  const std::pair<const char*, double> expected[] = {
      {"plain", 1.5},     {"negative", -0.25},         {"leading_dot", 0.5},
      {"exponent", 1000}, {"signed_exponent", 0.0025}, {"underscores", 1000.5},
  };
  for (const auto& [key, number] : expected) {
    EXPECT_TRUE(value[key].is_number_float()) << key << " = " << value[key];
    EXPECT_DOUBLE_EQ(value[key].get<double>(), number) << key;
  }
}

TEST(YamlScalarTest, QuotedScalarsStayStrings) {
  const Json value = yaml(R"(
double_int: "42"
single_bool: 'yes'
double_null: "null"
single_hex: '0x1F'
double_empty: ""
)");
  EXPECT_EQ(value["double_int"], Json("42"));
  EXPECT_EQ(value["single_bool"], Json("yes"));
  EXPECT_EQ(value["double_null"], Json("null"));
  EXPECT_EQ(value["single_hex"], Json("0x1F"));
  EXPECT_EQ(value["double_empty"], Json(""));
}

TEST(YamlScalarTest, PlainStringsThatLookAlmostLikeNumbers) {
  const Json value = yaml(R"(
sexagesimal: 1:20
version: 1.2.3
word: hello world
with_underscore: a_b
sign_only: "-"
hex_without_digits: 0x
octal_with_nine: 0o9
duration: 200ms
)");
  EXPECT_EQ(value["sexagesimal"], Json("1:20"));
  EXPECT_EQ(value["version"], Json("1.2.3"));
  EXPECT_EQ(value["word"], Json("hello world"));
  EXPECT_EQ(value["with_underscore"], Json("a_b"));
  EXPECT_EQ(value["sign_only"], Json("-"));
  EXPECT_EQ(value["hex_without_digits"], Json("0x"));
  EXPECT_EQ(value["octal_with_nine"], Json("0o9"));
  EXPECT_EQ(value["duration"], Json("200ms"));
}

TEST(YamlScalarTest, BlockScalarsAreStrings) {
  const Json value = yaml(R"(
literal: |
  line 1
  line 2
folded: >
  one
  two
stripped: |-
  42
)");
  EXPECT_EQ(value["literal"], Json("line 1\nline 2\n"));
  EXPECT_EQ(value["folded"], Json("one two\n"));
  EXPECT_EQ(value["stripped"], Json("42"));
}

TEST(YamlScalarTest, ExplicitTags) {
  const Json value = yaml(R"(
str_tagged: !!str 12
int_tagged: !!int "12"
bool_tagged: !!bool "yes"
null_tagged: !!null ""
)");
  EXPECT_EQ(value["str_tagged"], Json("12"));
  EXPECT_EQ(value["int_tagged"], Json(12));
  EXPECT_TRUE(value["int_tagged"].is_number_integer());
  EXPECT_EQ(value["bool_tagged"], Json(true));
  EXPECT_TRUE(value["null_tagged"].is_null());
  EXPECT_EQ(parse_error("a: !!int \"abc\"\n"), (Thrown{R"("abc" is not a number)", 1, 4}));
}

TEST(YamlScalarTest, NanAndInfinityAreRejected) {
  EXPECT_EQ(parse_error("a: .nan\n"), (Thrown{".nan cannot be represented in JSON", 1, 4}));
  EXPECT_EQ(parse_error("a: .NaN\n"), (Thrown{".NaN cannot be represented in JSON", 1, 4}));
  EXPECT_EQ(parse_error("a: .inf\n"), (Thrown{".inf cannot be represented in JSON", 1, 4}));
  EXPECT_EQ(parse_error("a:\n  b: -.Inf\n"), (Thrown{"-.Inf cannot be represented in JSON", 2, 6}));
  EXPECT_EQ(parse_error("a: 1e999\n"), (Thrown{"1e999 is out of range for a number", 1, 4}));
  // Quoted, they are just strings.
  EXPECT_EQ(yaml("a: '.nan'")["a"], Json(".nan"));
}

TEST(YamlScalarTest, PrefixedIntegersBeyond64BitsKeepTheirMagnitude) {
  EXPECT_DOUBLE_EQ(yaml("a: 0x" + std::string(17, 'F'))["a"].get<double>(), std::ldexp(1.0, 68));
  EXPECT_DOUBLE_EQ(yaml("a: -0x" + std::string(17, 'F'))["a"].get<double>(), -std::ldexp(1.0, 68));
  EXPECT_DOUBLE_EQ(yaml("a: 0b" + std::string(65, '1'))["a"].get<double>(), std::ldexp(1.0, 65));
  EXPECT_DOUBLE_EQ(yaml("a: 0o" + std::string(22, '7'))["a"].get<double>(), std::ldexp(1.0, 66));
}

TEST(YamlScalarTest, ScalarAndListDocuments) {
  EXPECT_EQ(yaml("42"), Json(42));
  EXPECT_EQ(yaml("- \n- 1\n- ''\n"), Json::parse(R"([null, 1, ""])"));
}

TEST(YamlScalarTest, JsonIsYamlToo) {
  EXPECT_EQ(yaml(R"({"a": [1, 2.5, "x", true, null], "b": {}})"),
            Json::parse(R"({"a": [1, 2.5, "x", true, null], "b": {}})"));
}

TEST(YamlScalarTest, MembersKeepDocumentOrder) {
  const Json value = yaml("zeta: 1\nalpha: 2\nmid: 3\n");
  EXPECT_EQ(value.dump(), R"({"zeta":1,"alpha":2,"mid":3})");
}

TEST(YamlScalarTest, MergeKeys) {
  // Explicit keys win over merged ones; with a list, earlier mappings win.
  EXPECT_EQ(yaml("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n")["derived"].dump(),
            R"({"b":3,"a":1})");
  EXPECT_EQ(yaml("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz:\n  <<: [*x, *y]\n  c: 3\n")["z"].dump(),
            R"({"c":3,"a":1,"b":2})");
  EXPECT_EQ(yaml("'<<': 1")["<<"], Json(1));  // quoted, it is an ordinary key
  EXPECT_EQ(parse_error("a: 1\n<<: 5\n"),
            (Thrown{"a << merge key takes a mapping or a list of mappings", 2, 1}));
}

TEST(YamlScalarTest, AliasesAreExpanded) {
  EXPECT_EQ(yaml("a: &x {k: 1}\nb: *x\n"), Json::parse(R"({"a": {"k": 1}, "b": {"k": 1}})"));
}

// ---------------------------------------------------------------------------------------------
// Positions

constexpr const char* kManifest =
    "apiVersion: v1\n"        // 1
    "kind: Thing\n"           // 2
    "spec:\n"                 // 3
    "  name: demo\n"          // 4
    "  ports:\n"              // 5
    "    - port: 80\n"        // 6
    "      protocol: TCP\n"   // 7
    "    - port: 443\n"       // 8
    "  labels: {a: b}\n"      // 9
    "  selector:\n"           // 10
    "    riasc.eu/lab: x\n";  // 11

TEST(YamlPositionTest, ScalarsAreLocatedAtTheirValue) {
  auto documents = parse_yaml_stream(kManifest);
  ASSERT_EQ(documents.size(), 1U);
  const SourceMap& positions = documents[0].positions;
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("apiVersion")), 1, 13));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.name")), 4, 9));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(0).child("port")), 6, 13));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(0).child("protocol")), 7, 17));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(1).child("port")), 8, 13));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.labels").key("a")), 9, 15));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.selector").key("riasc.eu/lab")), 11, 19));
}

TEST(YamlPositionTest, CollectionsAreLocatedAtTheirKey) {
  auto documents = parse_yaml_stream(kManifest);
  const SourceMap& positions = documents.at(0).positions;
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec")), 3, 1));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports")), 5, 3));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.labels")), 9, 3));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.selector")), 10, 3));
  // A list item has no key: it is located where the item's content begins.
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(1)), 8, 7));
}

TEST(YamlPositionTest, RootIsTheDocumentStart) {
  auto documents = parse_yaml_stream(kManifest);
  EXPECT_TRUE(at(documents.at(0).start, 1, 1));
  EXPECT_TRUE(at(documents.at(0).positions.locate({}), 1, 1));
}

TEST(YamlPositionTest, LocateFallsBackToTheNearestAncestor) {
  auto documents = parse_yaml_stream(kManifest);
  const SourceMap& positions = documents.at(0).positions;
  // A missing field is reported where its parent object is.
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.podSelector")), 3, 1));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(0).child("endPort")), 6, 7));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.ports").index(7).child("port")), 5, 3));
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("status.conditions").index(0)), 1, 1));
}

TEST(YamlPositionTest, LocateKeyFindsTheMembersName) {
  auto documents = parse_yaml_stream(kManifest);
  const SourceMap& positions = documents.at(0).positions;
  EXPECT_TRUE(at(positions.locate_key(FieldPath::parse_dotted("spec.name")), 4, 3));
  EXPECT_TRUE(
      at(positions.locate_key(FieldPath::parse_dotted("spec.ports").index(0).child("protocol")), 7, 7));
  EXPECT_TRUE(at(positions.locate_key(FieldPath::parse_dotted("spec.labels").key("a")), 9, 12));
  // Not an object member: as locate().
  EXPECT_TRUE(at(positions.locate_key(FieldPath::parse_dotted("spec.ports").index(1)), 8, 7));
  EXPECT_TRUE(at(positions.locate_key(FieldPath::parse_dotted("spec.missing")), 3, 1));
}

TEST(YamlPositionTest, KeysThatNeedPointerEscapingAreLocated) {
  auto documents = parse_yaml_stream("m:\n  a/b: 1\n  c~d: 2\n");
  const SourceMap& positions = documents.at(0).positions;
  EXPECT_TRUE(at(positions.locate(FieldPath().child("m").key("a/b")), 2, 8));
  EXPECT_TRUE(at(positions.locate(FieldPath().child("m").key("c~d")), 3, 8));
}

TEST(YamlPositionTest, EmptyValueIsLocatedRightAfterItsKey) {
  // Not at the next token: an error about `podSelector:` must name its own line.
  auto documents = parse_yaml_stream("spec:\n  podSelector:\n  type: Builtin\n");
  const SourceMap& positions = documents.at(0).positions;
  EXPECT_TRUE(documents.at(0).value["spec"]["podSelector"].is_null());
  EXPECT_TRUE(at(positions.locate(FieldPath::parse_dotted("spec.podSelector")), 2, 15));
  EXPECT_TRUE(at(positions.locate_key(FieldPath::parse_dotted("spec.podSelector")), 2, 3));
  auto last = parse_yaml_stream("spec:\n  podSelector:\n");
  EXPECT_TRUE(at(last.at(0).positions.locate(FieldPath::parse_dotted("spec.podSelector")), 2, 15));
}

TEST(YamlPositionTest, AliasesAreLocatedWhereTheyAreUsed) {
  auto documents = parse_yaml_stream("a: &x {k: 1}\nb: *x\nc:\n  - *x\n");
  const SourceMap& positions = documents.at(0).positions;
  EXPECT_TRUE(at(positions.locate(FieldPath().child("b")), 2, 1));  // a collection: at its key
  EXPECT_TRUE(at(positions.locate(FieldPath().child("c").index(0)), 4, 5));
}

TEST(YamlPositionTest, SourceMapWithoutPositionsIsUnknown) {
  SourceMap empty;
  EXPECT_TRUE(at(empty.locate(FieldPath::parse_dotted("a.b")), 0, 0));
  SourceMap map;
  map.add("/a", {4, 2});
  EXPECT_TRUE(at(map.locate(FieldPath::parse_dotted("a.b.c")), 4, 2));
  EXPECT_TRUE(at(map.locate(FieldPath::parse_dotted("x")), 0, 0));
  map.add("/a", {5, 1});  // later positions replace earlier ones
  EXPECT_TRUE(at(map.locate(FieldPath::parse_dotted("a")), 5, 1));
}

// ---------------------------------------------------------------------------------------------
// Streams of documents

TEST(YamlStreamTest, EmptyDocumentsAreSkipped) {
  auto documents = parse_yaml_stream(
      "---\n"          // 1
      "# a comment\n"  // 2
      "---\n"          // 3
      "a: 1\n"         // 4
      "---\n"          // 5
      "---\n"          // 6
      "b: 2\n"         // 7
      "---\n"          // 8
      "null\n");       // 9
  ASSERT_EQ(documents.size(), 2U);
  EXPECT_EQ(documents[0].value, Json::parse(R"({"a": 1})"));
  EXPECT_TRUE(at(documents[0].start, 4, 1));
  EXPECT_EQ(documents[1].value, Json::parse(R"({"b": 2})"));
  EXPECT_TRUE(at(documents[1].start, 7, 1));
  EXPECT_TRUE(at(documents[1].positions.locate(FieldPath().child("b")), 7, 4));
}

TEST(YamlStreamTest, EmptyInputHasNoDocuments) {
  EXPECT_TRUE(parse_yaml_stream("").empty());
  EXPECT_TRUE(parse_yaml_stream("\n\n# only comments\n").empty());
  EXPECT_TRUE(parse_yaml_stream("~\n").empty());
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(YamlErrorTest, SyntaxErrorsHaveAPositionAndAnExplanation) {
  EXPECT_EQ(parse_error("a: [1, 2\n"),
            (Thrown{"did not find expected ',' or ']' (while parsing a flow sequence at line 1)", 2, 1}));
  EXPECT_EQ(parse_error("x: y: z\n"),
            (Thrown{"mapping values are not allowed in this context; a key is indented differently from its "
                    "siblings, or a value contains an unquoted \": \"",
                    1, 5}));
  EXPECT_EQ(
      parse_error("a:\n  b: 1\n\tc: 2\n"),
      (Thrown{"found a tab character that violates indentation (while scanning a plain scalar at line 2); "
              "this line is indented with a tab, and YAML allows only spaces",
              3, 1}));
  EXPECT_EQ(parse_error("a: |\n  x\n b: 1\n"),
            (Thrown{"did not find expected key (while parsing a block mapping at line 1)", 3, 2}));
  EXPECT_EQ(parse_error(",\n"),
            (Thrown{"did not find expected node content (while parsing a block node at line 1)", 1, 1}));
}

TEST(YamlErrorTest, SyntaxErrorInALaterDocumentFailsTheStream) {
  EXPECT_EQ(parse_error("a: 1\n---\nb: {c: 1\n"),
            (Thrown{"did not find expected ',' or '}' (while parsing a flow mapping at line 3)", 4, 1}));
}

TEST(YamlErrorTest, UnterminatedQuotedScalarIsASyntaxError) {
  EXPECT_EQ(parse_error("a: 'unterminated\nb: 1\n"),
            (Thrown{"found unexpected end of stream (while scanning a quoted scalar at line 1)", 3, 1}));
}

TEST(YamlErrorTest, UnknownAnchor) {
  EXPECT_EQ(parse_error("a: 1\nb: *nope\n"), (Thrown{R"(unknown anchor "nope")", 2, 4}));
}

TEST(YamlErrorTest, DuplicateKeysAreRejectedAtTheSecondKey) {
  EXPECT_EQ(parse_error("a: 1\nb: 2\na: 3\n"), (Thrown{R"(duplicate key "a")", 3, 1}));
  EXPECT_EQ(parse_error("spec:\n  x: 1\n  y: 2\n  x: {}\n"), (Thrown{R"(duplicate key "x")", 4, 3}));
  EXPECT_EQ(parse_error("{a: 1, a: 1}"), (Thrown{R"(duplicate key "a")", 1, 8}));
}

TEST(YamlErrorTest, NonScalarKeysAreRejected) {
  EXPECT_EQ(parse_error("? [a]\n: 1\n"), (Thrown{"mapping keys must be strings, numbers or booleans", 1, 3}));
  EXPECT_EQ(parse_error("x:\n  ? {k: v}\n  : 1\n"),
            (Thrown{"mapping keys must be strings, numbers or booleans", 2, 5}));
}

std::string billion_laughs(int levels) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level < levels; ++level) {
    const std::string name = "l" + std::to_string(level);
    const std::string previous = "*l" + std::to_string(level - 1);
    text += name + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) text += (i == 0 ? "" : ", ") + previous;
    text += "]\n";
  }
  return text;
}

TEST(YamlLimitsTest, AliasExpansionIsStoppedByMaxNodes) {
  // 3 levels: about 1 + 11 + 111 + 1111 values once expanded.
  const std::string text = billion_laughs(3);
  YamlLimits limits;
  limits.max_nodes = 10000;
  EXPECT_EQ(parse_yaml_stream(text, limits).size(), 1U);
  limits.max_nodes = 1000;
  EXPECT_EQ(parse_error(text, limits).message,
            "document has more than 1000 values (after expanding aliases)");
}

TEST(YamlLimitsTest, AnAliasCountsAsTheValuesItStandsFor) {
  YamlLimits limits;
  limits.max_nodes = 3;
  EXPECT_EQ(parse_yaml_stream("a: &x 1\nb: *x\n", limits).at(0).value, Json::parse(R"({"a": 1, "b": 1})"));
}

TEST(YamlLimitsTest, BillionLaughsFailsWithTheDefaultLimit) {
  // 10^9 strings once expanded; the default limit stops it after a million.
  EXPECT_EQ(parse_error(billion_laughs(9)).message,
            "document has more than 1000000 values (after expanding aliases)");
}

TEST(YamlLimitsTest, NodeLimitCountsEveryDocumentSeparately) {
  YamlLimits limits;
  limits.max_nodes = 3;  // {a: 1, b: 2} is three values
  EXPECT_EQ(parse_yaml_stream("a: 1\nb: 2\n---\nc: 1\nd: 2\n", limits).size(), 2U);
  EXPECT_EQ(parse_error("a: 1\nb: 2\nc: 3\n", limits),
            (Thrown{"document has more than 3 values (after expanding aliases)", 3, 4}));
}

TEST(YamlLimitsTest, DepthLimit) {
  YamlLimits limits;
  limits.max_depth = 3;  // values may sit at most 3 levels below the document's root
  EXPECT_EQ(parse_yaml_stream("[[[1]]]", limits).at(0).value, Json::parse("[[[1]]]"));
  EXPECT_EQ(parse_yaml_stream("a: {b: {c: 1}}", limits).at(0).value, Json::parse(R"({"a":{"b":{"c":1}}})"));
  EXPECT_EQ(parse_error("[[[[1]]]]", limits), (Thrown{"document nests deeper than 3 levels", 1, 5}));
  EXPECT_EQ(parse_error("a:\n  b:\n    c:\n      d: 1\n", limits),
            (Thrown{"document nests deeper than 3 levels", 4, 10}));
}

TEST(YamlLimitsTest, DepthLimitHoldsThroughAliases) {
  YamlLimits limits;
  limits.max_depth = 3;
  EXPECT_EQ(parse_error("a: &a [[1]]\nb: [[*a]]\n", limits).message, "document nests deeper than 3 levels");
}

TEST(YamlLimitsTest, DefaultDepthLimitIs256) {
  const std::string ok = std::string(256, '[') + std::string(256, ']');
  EXPECT_EQ(parse_yaml_stream(ok).size(), 1U);
  const std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_EQ(parse_error(deep), (Thrown{"document nests deeper than 256 levels", 1, 258}));
}

}  // namespace
}  // namespace riasc
