#include "riasc/core/label_selector.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace riasc {

// How GoogleTest prints selectors and requirements in failure messages.
void PrintTo(const LabelSelector& selector, std::ostream* out) {
  *out << (selector.matches_nothing() ? "<nothing>" : "\"" + selector.to_string() + "\"");
}
void PrintTo(const LabelSelector::Requirement& requirement, std::ostream* out) {
  *out << requirement.to_string();
}

namespace {

using ::testing::ElementsAre;
using Op = LabelSelector::Operator;
using test::Messages;

// Kubernetes' validation messages, spelled out so a change in wording fails the tests.
const std::string kNamePart =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kLabelValue =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const std::string kPrefixPart =
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

// The message of the SelectorError that parsing `text` throws; "" if it parses.
std::string parse_error(std::string_view text) {
  try {
    LabelSelector::parse(text);
  } catch (const SelectorError& error) {
    return error.what();
  }
  return "";
}

// The position of the SelectorError that parsing `text` throws.
std::size_t error_position(std::string_view text) {
  try {
    LabelSelector::parse(text);
  } catch (const SelectorError& error) {
    return error.position();
  }
  return SelectorError::npos;
}

std::string add_error(const std::string& key, Op op, std::vector<std::string> values) {
  try {
    LabelSelector().add(key, op, std::move(values));
  } catch (const SelectorError& error) {
    return error.what();
  }
  return "";
}

// from_json of the YAML `selector_yaml` under spec.podSelector, with its error messages.
struct FromJson {
  LabelSelector selector;
  Messages errors;
};
FromJson from_yaml(std::string_view selector_yaml) {
  FieldErrors errors;
  auto selector = LabelSelector::from_json(test::yaml(selector_yaml),
                                           FieldPath().child("spec").child("podSelector"), errors);
  return {selector, test::messages(errors)};
}

const Json kWebProd = {{"app", "web"}, {"env", "prod"}};

// ---------------------------------------------------------------------------------------------
// Parsing: every operator

TEST(LabelSelectorParseTest, EmptyTextMatchesEverything) {
  for (const char* text : {"", " ", " \t\r\n "}) {
    const auto selector = LabelSelector::parse(text);
    EXPECT_TRUE(selector.empty()) << text;
    EXPECT_FALSE(selector.matches_nothing()) << text;
    EXPECT_TRUE(selector.matches(kWebProd)) << text;
    EXPECT_TRUE(selector.matches(nullptr)) << text;
    EXPECT_EQ(selector.to_string(), "") << text;
  }
}

TEST(LabelSelectorParseTest, EqualsNeedsTheLabelWithThatValue) {
  const auto selector = LabelSelector::parse("app=web");
  ASSERT_EQ(selector.requirements().size(), 1U);
  EXPECT_EQ(selector.requirements()[0], (LabelSelector::Requirement{"app", Op::Equals, {"web"}}));
  EXPECT_FALSE(selector.empty());
  EXPECT_TRUE(selector.matches(kWebProd));
  EXPECT_FALSE(selector.matches(Json{{"app", "db"}}));
  EXPECT_FALSE(selector.matches(Json::object()));
  EXPECT_FALSE(selector.matches(nullptr));
}

TEST(LabelSelectorParseTest, DoubleEqualsIsEquals) {
  EXPECT_EQ(LabelSelector::parse("app==web"), LabelSelector::parse("app=web"));
  EXPECT_EQ(LabelSelector::parse("app==web").to_string(), "app=web");
}

TEST(LabelSelectorParseTest, NotEqualsHoldsWhenAbsentOrDifferent) {
  const auto selector = LabelSelector::parse("app!=web");
  EXPECT_EQ(selector.requirements()[0].op, Op::NotEquals);
  EXPECT_FALSE(selector.matches(kWebProd));
  EXPECT_TRUE(selector.matches(Json{{"app", "db"}}));
  EXPECT_TRUE(selector.matches(Json::object()));
  EXPECT_TRUE(selector.matches(nullptr));
}

TEST(LabelSelectorParseTest, InNeedsOneOfTheValues) {
  const auto selector = LabelSelector::parse("env in (prod,staging)");
  EXPECT_EQ(selector.requirements()[0], (LabelSelector::Requirement{"env", Op::In, {"prod", "staging"}}));
  EXPECT_TRUE(selector.matches(Json{{"env", "prod"}}));
  EXPECT_TRUE(selector.matches(Json{{"env", "staging"}}));
  EXPECT_FALSE(selector.matches(Json{{"env", "dev"}}));
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}}));
}

TEST(LabelSelectorParseTest, NotInHoldsWhenAbsentOrNoneOfTheValues) {
  const auto selector = LabelSelector::parse("env notin (prod, staging)");
  EXPECT_EQ(selector.requirements()[0].op, Op::NotIn);
  EXPECT_FALSE(selector.matches(Json{{"env", "prod"}}));
  EXPECT_FALSE(selector.matches(Json{{"env", "staging"}}));
  EXPECT_TRUE(selector.matches(Json{{"env", "dev"}}));
  EXPECT_TRUE(selector.matches(Json{{"app", "web"}}));
}

TEST(LabelSelectorParseTest, ExistsAndDoesNotExist) {
  const auto exists = LabelSelector::parse("app");
  EXPECT_EQ(exists.requirements()[0], (LabelSelector::Requirement{"app", Op::Exists, {}}));
  EXPECT_TRUE(exists.matches(kWebProd));
  EXPECT_TRUE(exists.matches(Json{{"app", ""}}));
  EXPECT_FALSE(exists.matches(Json{{"env", "prod"}}));

  const auto absent = LabelSelector::parse("!app");
  EXPECT_EQ(absent.requirements()[0], (LabelSelector::Requirement{"app", Op::DoesNotExist, {}}));
  EXPECT_FALSE(absent.matches(kWebProd));
  EXPECT_FALSE(absent.matches(Json{{"app", ""}}));
  EXPECT_TRUE(absent.matches(Json{{"env", "prod"}}));
  EXPECT_TRUE(absent.matches(nullptr));
}

TEST(LabelSelectorParseTest, GreaterThanAndLessThanCompareIntegers) {
  const auto greater = LabelSelector::parse("replicas>3");
  EXPECT_EQ(greater.requirements()[0], (LabelSelector::Requirement{"replicas", Op::GreaterThan, {"3"}}));
  EXPECT_TRUE(greater.matches(Json{{"replicas", "4"}}));
  EXPECT_TRUE(greater.matches(Json{{"replicas", "+10"}}));  // Go's ParseInt takes a sign
  EXPECT_FALSE(greater.matches(Json{{"replicas", "3"}}));
  EXPECT_FALSE(greater.matches(Json{{"replicas", "-7"}}));
  EXPECT_FALSE(greater.matches(Json{{"replicas", "many"}}));
  EXPECT_FALSE(greater.matches(Json{{"replicas", "4.5"}}));
  EXPECT_FALSE(greater.matches(Json{{"replicas", "99999999999999999999"}}));  // out of int64
  EXPECT_FALSE(greater.matches(Json::object()));

  const auto less = LabelSelector::parse("replicas<3");
  EXPECT_EQ(less.requirements()[0].op, Op::LessThan);
  EXPECT_TRUE(less.matches(Json{{"replicas", "2"}}));
  EXPECT_TRUE(less.matches(Json{{"replicas", "-9223372036854775808"}}));
  EXPECT_FALSE(less.matches(Json{{"replicas", "3"}}));
  EXPECT_FALSE(less.matches(Json::object()));
}

TEST(LabelSelectorParseTest, EmptyValues) {
  const auto equals_empty = LabelSelector::parse("app=");
  EXPECT_EQ(equals_empty.requirements()[0].values, std::vector<std::string>{""});
  EXPECT_TRUE(equals_empty.matches(Json{{"app", ""}}));
  EXPECT_FALSE(equals_empty.matches(Json::object()));
  EXPECT_TRUE(LabelSelector::parse("app!=").matches(Json{{"app", "web"}}));
  EXPECT_FALSE(LabelSelector::parse("app!=,env").matches(Json{{"app", ""}, {"env", "x"}}));

  EXPECT_EQ(LabelSelector::parse("a in ()").requirements()[0].values, std::vector<std::string>{""});
  EXPECT_EQ(LabelSelector::parse("a in (,)").requirements()[0].values, std::vector<std::string>{""});
  EXPECT_EQ(LabelSelector::parse("a in (,x)").requirements()[0].values, (std::vector<std::string>{"", "x"}));
  EXPECT_EQ(LabelSelector::parse("a in (x,)").requirements()[0].values, (std::vector<std::string>{"", "x"}));
  EXPECT_EQ(LabelSelector::parse("a in (x,,y)").requirements()[0].values,
            (std::vector<std::string>{"", "x", "y"}));
  EXPECT_TRUE(LabelSelector::parse("a in ()").matches(Json{{"a", ""}}));
}

TEST(LabelSelectorParseTest, ValuesAreSortedAndUnique) {
  const auto selector = LabelSelector::parse("env in (staging, prod, staging)");
  EXPECT_EQ(selector.requirements()[0].values, (std::vector<std::string>{"prod", "staging"}));
  EXPECT_EQ(selector.to_string(), "env in (prod,staging)");
}

TEST(LabelSelectorParseTest, KeywordsAreIdentifiersWhereKeysAndValuesStand) {
  const auto selector = LabelSelector::parse("in in (in, notin),notin=in");
  ASSERT_EQ(selector.requirements().size(), 2U);
  EXPECT_EQ(selector.requirements()[0], (LabelSelector::Requirement{"in", Op::In, {"in", "notin"}}));
  EXPECT_EQ(selector.requirements()[1], (LabelSelector::Requirement{"notin", Op::Equals, {"in"}}));
}

TEST(LabelSelectorParseTest, PrefixedKeys) {
  const auto selector = LabelSelector::parse("app.kubernetes.io/name=web,!riasc.eu/ignore");
  EXPECT_TRUE(selector.matches(Json{{"app.kubernetes.io/name", "web"}}));
  EXPECT_FALSE(selector.matches(Json{{"app.kubernetes.io/name", "web"}, {"riasc.eu/ignore", "true"}}));
  EXPECT_FALSE(selector.matches(Json{{"name", "web"}}));
}

// ---------------------------------------------------------------------------------------------
// Parsing: whitespace

TEST(LabelSelectorParseTest, WhitespaceAroundTokensIsIgnored) {
  const auto expected = LabelSelector::parse("a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1,m<2");
  for (const char* text : {
           " a = b , c != d , e in ( f , g ) , h notin ( i ) , j , ! k , l > 1 , m < 2 ",
           "a=b,\tc!=d,\ne in(f,g),h notin(i),j,!k,l>1,m<2",
           "\r\na==b,c!=d,e  in  (f,g),h\tnotin\t(i),j ,!k, l>1,m<2\n",
       }) {
    EXPECT_EQ(LabelSelector::parse(text), expected) << text;
  }
}

TEST(LabelSelectorParseTest, WhitespaceSeparatesTokensButDoesNotJoinThem) {
  // `a b` is a key followed by something that is not an operator.
  EXPECT_EQ(parse_error("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  // `= =` is two equals signs, not `==`.
  EXPECT_EQ(parse_error("a= =b"), "unable to parse requirement: found '=', expected: identifier");
  // Form feed is not whitespace to Kubernetes: it is part of the identifier, which is then invalid.
  EXPECT_THAT(parse_error("\fa"),
              ::testing::StartsWith("unable to parse requirement: invalid label key \"\\fa\""));
}

// ---------------------------------------------------------------------------------------------
// AND semantics and order

TEST(LabelSelectorMatchTest, AllRequirementsMustHold) {
  const auto selector = LabelSelector::parse("app=web,env in (prod),!canary,tier");
  EXPECT_TRUE(selector.matches(Json{{"app", "web"}, {"env", "prod"}, {"tier", "frontend"}}));
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}, {"env", "prod"}}));  // tier missing
  EXPECT_FALSE(selector.matches(Json{{"app", "db"}, {"env", "prod"}, {"tier", "x"}}));
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}, {"env", "dev"}, {"tier", "x"}}));
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}, {"env", "prod"}, {"tier", "x"}, {"canary", "1"}}));
}

TEST(LabelSelectorMatchTest, ContradictoryRequirementsMatchNothing) {
  const auto selector = LabelSelector::parse("app=web,app!=web");
  EXPECT_EQ(selector.requirements().size(), 2U);
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}}));
  EXPECT_FALSE(selector.matches(Json{{"app", "db"}}));
  EXPECT_FALSE(LabelSelector::parse("app,!app").matches(Json::object()));
}

TEST(LabelSelectorMatchTest, RequirementsAreSortedByKeyKeepingTheOrderWithinAKey) {
  const auto selector = LabelSelector::parse("b=1,a=2,b!=3,!a");
  EXPECT_EQ(selector.to_string(), "a=2,!a,b=1,b!=3");
}

TEST(LabelSelectorMatchTest, LabelsThatAreNotAnObjectCountAsNone) {
  const auto absent = LabelSelector::parse("!app");
  const auto present = LabelSelector::parse("app");
  for (const Json& labels : {Json(nullptr), Json::array({"app"}), Json("app=web"), Json(3)}) {
    EXPECT_TRUE(absent.matches(labels)) << labels.dump();
    EXPECT_FALSE(present.matches(labels)) << labels.dump();
  }
}

TEST(LabelSelectorMatchTest, NonStringLabelValuesCompareAsTheirJsonText) {
  EXPECT_TRUE(LabelSelector::parse("replicas>3").matches(Json{{"replicas", 5}}));
  EXPECT_TRUE(LabelSelector::parse("enabled=true").matches(Json{{"enabled", true}}));
  EXPECT_TRUE(LabelSelector::parse("app=").matches(Json{{"app", nullptr}}));
}

TEST(LabelSelectorMatchTest, MatchesObjectReadsMetadataLabels) {
  const auto selector = LabelSelector::parse("app=web");
  EXPECT_TRUE(selector.matches_object(test::yaml("metadata: {name: p, labels: {app: web}}")));
  EXPECT_FALSE(selector.matches_object(test::yaml("metadata: {name: p, labels: {app: db}}")));
  EXPECT_FALSE(selector.matches_object(test::yaml("metadata: {name: p}")));
  EXPECT_FALSE(selector.matches_object(test::yaml("spec: {}")));
  EXPECT_FALSE(selector.matches_object(test::yaml("metadata: {name: p, labels: null}")));
  // An object without labels: only selectors without positive requirements match it.
  const Json unlabelled = test::yaml("metadata: {name: p}");
  EXPECT_TRUE(LabelSelector::parse("").matches_object(unlabelled));
  EXPECT_TRUE(LabelSelector::parse("!app,env!=prod,tier notin (a)").matches_object(unlabelled));
  EXPECT_TRUE(LabelSelector::parse("!app").matches_object(Json("not an object")));
  EXPECT_FALSE(LabelSelector::parse("app").matches_object(Json::array()));
}

// ---------------------------------------------------------------------------------------------
// Syntax errors: every message

TEST(LabelSelectorErrorTest, SyntaxErrorsNameTheToken) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a=b,", "found '', expected: identifier after ','"},
      {"a=b,,c", "found ',', expected: identifier after ','"},
      {"a=b,)", "found ')', expected: identifier after ','"},
      {",a", "found ',', expected: !, identifier, or 'end of string'"},
      {"(", "found '(', expected: !, identifier, or 'end of string'"},
      {"!=a", "found '!=', expected: !, identifier, or 'end of string'"},
      {"=a", "found '=', expected: !, identifier, or 'end of string'"},
      {"a=b c", "found 'c', expected: ',' or 'end of string'"},
      {"a=b)", "found ')', expected: ',' or 'end of string'"},
      {"!a=b", "found '=', expected: ',' or 'end of string'"},
      {"a in (x)y", "found 'y', expected: ',' or 'end of string'"},
      {"!", "unable to parse requirement: found '', expected: identifier"},
      {"!!a", "unable to parse requirement: found '!', expected: identifier"},
      {"! (", "unable to parse requirement: found '(', expected: identifier"},
      {"a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"},
      {"a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"},
      {"a in x", "unable to parse requirement: found 'x' expected: '('"},
      {"a in", "unable to parse requirement: found '' expected: '('"},
      {"a notin ,", "unable to parse requirement: found ',' expected: '('"},
      {"a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"},
      {"a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"},
      {"a in (x", "unable to parse requirement: found '', expected: ',' or ')'"},
      {"a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"},
      {"a in (x,=)", "unable to parse requirement: found '=', expected: ',', or identifier"},
      {"a in (x,,)", "unable to parse requirement: found ')', expected: ',', or identifier"},
      {"a in (x,", "unable to parse requirement: found '', expected: ',', or identifier"},
      {"a=(", "unable to parse requirement: found '(', expected: identifier"},
      {"a!=!", "unable to parse requirement: found '!', expected: identifier"},
      {"a===b", "unable to parse requirement: found '=', expected: identifier"},
      {"a>", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"},
      {"a>b", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"},
      {"a<1.5", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"},
      {"a>99999999999999999999",
       "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_EQ(parse_error(text), message) << text;
  }
}

TEST(LabelSelectorErrorTest, ErrorsAreInvalidArgumentWithAPosition) {
  EXPECT_THROW(LabelSelector::parse("a in x"), std::invalid_argument);
  EXPECT_EQ(error_position("a=b, c in x"), 10U);
  EXPECT_EQ(error_position("a=b,"), 4U);   // the end of the text
  EXPECT_EQ(error_position(" -x=b"), 1U);  // the key
  EXPECT_EQ(error_position("a in (ok, -bad)"), 10U);
  EXPECT_EQ(error_position("a>b"), 2U);
}

// ---------------------------------------------------------------------------------------------
// Key and value validation

TEST(LabelSelectorErrorTest, InvalidKeys) {
  EXPECT_EQ(parse_error("-x"), "unable to parse requirement: invalid label key \"-x\": " + kNamePart);
  EXPECT_EQ(parse_error("x_=1"), "unable to parse requirement: invalid label key \"x_\": " + kNamePart);
  EXPECT_EQ(parse_error("a\"b=c"), "unable to parse requirement: invalid label key \"a\\\"b\": " + kNamePart);
  EXPECT_EQ(parse_error("a/b/c=d"),
            "unable to parse requirement: invalid label key \"a/b/c\": a qualified name must consist of "
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
            "'example.com/MyName')");
  EXPECT_EQ(parse_error("/a"),
            "unable to parse requirement: invalid label key \"/a\": prefix part must be non-empty");
  EXPECT_EQ(
      parse_error("a/"),
      "unable to parse requirement: invalid label key \"a/\": name part must be non-empty; " + kNamePart);
  EXPECT_EQ(parse_error("Example.com/a"),
            "unable to parse requirement: invalid label key \"Example.com/a\": " + kPrefixPart);
  EXPECT_EQ(parse_error("a..b/c"),
            "unable to parse requirement: invalid label key \"a..b/c\": " + kPrefixPart);
  EXPECT_EQ(parse_error("-a/-c"),
            "unable to parse requirement: invalid label key \"-a/-c\": " + kPrefixPart + "; " + kNamePart);
}

TEST(LabelSelectorErrorTest, KeyLengthLimits) {
  const std::string name63(63, 'n');
  EXPECT_EQ(parse_error(name63 + "=v"), "");
  EXPECT_EQ(parse_error(name63 + "n=v"), "unable to parse requirement: invalid label key \"" + name63 +
                                             "n\": name part must be no more than 63 characters");

  std::string prefix253;
  while (prefix253.size() < 250) prefix253 += "abcdefghi.";
  prefix253 += "abc";
  ASSERT_EQ(prefix253.size(), 253U);
  EXPECT_EQ(parse_error(prefix253 + "/" + name63 + "=v"), "");
  EXPECT_EQ(parse_error(prefix253 + "d/a"), "unable to parse requirement: invalid label key \"" + prefix253 +
                                                "d/a\": prefix part must be no more than 253 characters");
}

TEST(LabelSelectorErrorTest, InvalidValues) {
  EXPECT_EQ(parse_error("a=-v"),
            "unable to parse requirement: invalid label value: \"-v\": at key: \"a\": " + kLabelValue);
  EXPECT_EQ(parse_error("a in (ok, v.)"),
            "unable to parse requirement: invalid label value: \"v.\": at key: \"a\": " + kLabelValue);
  EXPECT_EQ(parse_error("a notin (a/b)"),
            "unable to parse requirement: invalid label value: \"a/b\": at key: \"a\": " + kLabelValue);
  // A negative number is an integer but not a label value.
  EXPECT_EQ(parse_error("a>-1"),
            "unable to parse requirement: invalid label value: \"-1\": at key: \"a\": " + kLabelValue);

  const std::string value63(63, 'v');
  EXPECT_EQ(parse_error("a=" + value63), "");
  EXPECT_EQ(parse_error("a=" + value63 + "v"), "unable to parse requirement: invalid label value: \"" +
                                                   value63 +
                                                   "v\": at key: \"a\": must be no more than 63 characters");
  EXPECT_EQ(parse_error("a=" + value63 + "-"),
            "unable to parse requirement: invalid label value: \"" + value63 +
                "-\": at key: \"a\": must be no more than 63 characters; " + kLabelValue);
}

TEST(LabelSelectorValidationTest, FreeFunctions) {
  EXPECT_THAT(qualified_name_errors("app.kubernetes.io/name"), ::testing::IsEmpty());
  EXPECT_THAT(qualified_name_errors("A_b.C-9"), ::testing::IsEmpty());
  EXPECT_THAT(qualified_name_errors(""), ElementsAre("name part must be non-empty", kNamePart));
  EXPECT_THAT(label_value_errors(""), ::testing::IsEmpty());
  EXPECT_THAT(label_value_errors("_x"), ElementsAre(kLabelValue));
  EXPECT_THAT(dns1123_subdomain_errors("example.com"), ::testing::IsEmpty());
  EXPECT_THAT(dns1123_subdomain_errors("a-.com"), ::testing::SizeIs(1));
  EXPECT_THAT(dns1123_subdomain_errors(""), ::testing::SizeIs(1));
}

// ---------------------------------------------------------------------------------------------
// Building in code

TEST(LabelSelectorAddTest, ValidatesLikeNewRequirement) {
  EXPECT_EQ(add_error("a", Op::In, {}), "for 'in', 'notin' operators, values set can't be empty");
  EXPECT_EQ(add_error("a", Op::NotIn, {}), "for 'in', 'notin' operators, values set can't be empty");
  EXPECT_EQ(add_error("a", Op::Equals, {"x", "y"}), "exact-match compatibility requires one single value");
  EXPECT_EQ(add_error("a", Op::NotEquals, {}), "exact-match compatibility requires one single value");
  EXPECT_EQ(add_error("a", Op::Exists, {"x"}), "values set must be empty for exists and does not exist");
  EXPECT_EQ(add_error("a", Op::GreaterThan, {"1", "2"}),
            "for 'Gt', 'Lt' operators, exactly one value is required");
  EXPECT_EQ(add_error("a", Op::LessThan, {"x"}), "for 'Gt', 'Lt' operators, the value must be an integer");
  EXPECT_EQ(add_error("-a", Op::Exists, {}), "invalid label key \"-a\": " + kNamePart);
  EXPECT_EQ(add_error("a", Op::In, {"x", "-y"}),
            "invalid label value: \"-y\": at key: \"a\": " + kLabelValue);
  EXPECT_EQ(add_error("a", Op::Equals, {"x", "x"}), "");  // one value after removing duplicates
}

TEST(LabelSelectorAddTest, AddedRequirementsAreSortedAndMatched) {
  LabelSelector selector;
  selector.add("tier", Op::Exists).add("app", Op::In, {"web", "api", "web"});
  EXPECT_EQ(selector.to_string(), "app in (api,web),tier");
  EXPECT_EQ(selector, LabelSelector::parse("tier,app in (web,api)"));
  EXPECT_TRUE(selector.matches(Json{{"app", "api"}, {"tier", "x"}}));

  auto nothing = LabelSelector::nothing();
  nothing.add("app", Op::Exists);
  EXPECT_TRUE(nothing.matches_nothing());
  EXPECT_FALSE(nothing.matches(Json{{"app", "x"}}));
}

TEST(LabelSelectorAddTest, OperatorNamesAreKubernetes) {
  EXPECT_EQ(to_string(Op::Equals), "=");
  EXPECT_EQ(to_string(Op::NotEquals), "!=");
  EXPECT_EQ(to_string(Op::In), "in");
  EXPECT_EQ(to_string(Op::NotIn), "notin");
  EXPECT_EQ(to_string(Op::Exists), "exists");
  EXPECT_EQ(to_string(Op::DoesNotExist), "!");
  EXPECT_EQ(to_string(Op::GreaterThan), "gt");
  EXPECT_EQ(to_string(Op::LessThan), "lt");
}

// ---------------------------------------------------------------------------------------------
// Canonical form

TEST(LabelSelectorToStringTest, CanonicalForm) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},
      {"app==web", "app=web"},
      {" env notin ( b , a ) ", "env notin (a,b)"},
      {"z,!y,x>1,w<2,v!=u,t in (s)", "t in (s),v!=u,w<2,x>1,!y,z"},
      {"a in (,x)", "a in (,x)"},
      {"a in ()", "a in ()"},
      {"a=", "a="},
      {"in in (notin)", "in in (notin)"},
      {"example.com/a=b,a=b", "a=b,example.com/a=b"},
  };
  for (const auto& [text, canonical] : cases) {
    EXPECT_EQ(LabelSelector::parse(text).to_string(), canonical) << text;
  }
}

TEST(LabelSelectorToStringTest, ParseOfToStringRoundTrips) {
  for (const char* text :
       {"", "a", "!a", "a=b", "a!=b", "a>5", "a<0", "a in (x,y,z)", "a notin (,)", "a in (,x)",
        "a=", "a!=", "b=1,a=2,b!=3,!a", "x.io/k in (v1, v2),k2 notin (v3),!k3", "in=notin,notin in (in)"}) {
    const auto selector = LabelSelector::parse(text);
    const auto again = LabelSelector::parse(selector.to_string());
    EXPECT_EQ(again, selector) << text;
    EXPECT_EQ(again.to_string(), selector.to_string()) << text;
  }
}

TEST(LabelSelectorToStringTest, NothingHasNoStringForm) {
  EXPECT_THROW(static_cast<void>(LabelSelector::nothing().to_string()), std::logic_error);
  EXPECT_FALSE(LabelSelector::nothing().empty());
  EXPECT_TRUE(LabelSelector::everything().empty());
  EXPECT_NE(LabelSelector::nothing(), LabelSelector::everything());
}

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector

TEST(LabelSelectorFromJsonTest, EmptySelectorMatchesEverything) {
  const auto result = from_yaml("{}");
  EXPECT_THAT(result.errors, ::testing::IsEmpty());
  EXPECT_TRUE(result.selector.empty());
  EXPECT_TRUE(result.selector.matches(kWebProd));
  EXPECT_TRUE(result.selector.matches(nullptr));
  EXPECT_TRUE(from_yaml("{matchLabels: {}, matchExpressions: []}").selector.empty());
  EXPECT_TRUE(from_yaml("{matchLabels: null, matchExpressions: null}").selector.empty());
}

TEST(LabelSelectorFromJsonTest, NullSelectorMatchesNothing) {
  const auto result = from_yaml("null");
  EXPECT_THAT(result.errors, ::testing::IsEmpty());
  EXPECT_TRUE(result.selector.matches_nothing());
  EXPECT_FALSE(result.selector.matches(kWebProd));
  EXPECT_FALSE(result.selector.matches(nullptr));
}

TEST(LabelSelectorFromJsonTest, MatchLabelsAndMatchExpressionsAllHold) {
  const auto result = from_yaml(R"(
matchLabels: {app: web, tier: ""}
matchExpressions:
  - {key: env, operator: In, values: [prod, staging]}
  - {key: track, operator: NotIn, values: [canary]}
  - {key: riasc.eu/lab, operator: Exists}
  - {key: legacy, operator: DoesNotExist, values: []}
)");
  ASSERT_THAT(result.errors, ::testing::IsEmpty());
  EXPECT_EQ(result.selector.to_string(),
            "app=web,env in (prod,staging),!legacy,riasc.eu/lab,tier=,track notin (canary)");
  const Json labels = {{"app", "web"}, {"tier", ""}, {"env", "prod"}, {"riasc.eu/lab", "1"}};
  EXPECT_TRUE(result.selector.matches(labels));
  for (const char* spoil : {"app", "tier", "env", "riasc.eu/lab"}) {
    Json without = labels;
    without.erase(spoil);
    EXPECT_FALSE(result.selector.matches(without)) << spoil;
  }
  Json canary = labels;
  canary["track"] = "canary";
  EXPECT_FALSE(result.selector.matches(canary));
  Json legacy = labels;
  legacy["legacy"] = "yes";
  EXPECT_FALSE(result.selector.matches(legacy));
  Json staging = labels;
  staging["env"] = "staging";
  EXPECT_TRUE(result.selector.matches(staging));
}

TEST(LabelSelectorFromJsonTest, ExpressionErrors) {
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: env, operator: In}]").errors,
      ElementsAre("spec.podSelector.matchExpressions[0].values: Required value: must be specified when "
                  "`operator` is 'In' or 'NotIn'"));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: env, operator: NotIn, values: []}]").errors,
      ElementsAre("spec.podSelector.matchExpressions[0].values: Required value: must be specified when "
                  "`operator` is 'In' or 'NotIn'"));
  EXPECT_THAT(from_yaml("matchExpressions: [{key: env, operator: Exists, values: [x]}]").errors,
              ElementsAre("spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when "
                          "`operator` is 'Exists' or 'DoesNotExist'"));
  EXPECT_THAT(from_yaml("matchExpressions: [{key: env, operator: DoesNotExist, values: [x]}]").errors,
              ElementsAre("spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when "
                          "`operator` is 'Exists' or 'DoesNotExist'"));
  EXPECT_THAT(
      from_yaml(
          "matchExpressions: [{key: env, operator: Exists}, {key: replicas, operator: Gt, values: ['1']}]")
          .errors,
      ElementsAre("spec.podSelector.matchExpressions[1].operator: Unsupported value: \"Gt\": supported "
                  "values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: env, operator: in, values: [x]}]").errors,
      ElementsAre("spec.podSelector.matchExpressions[0].operator: Unsupported value: \"in\": supported "
                  "values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""));
  EXPECT_THAT(from_yaml("matchExpressions: [{values: [x]}]").errors,
              ElementsAre("spec.podSelector.matchExpressions[0].key: Required value",
                          "spec.podSelector.matchExpressions[0].operator: Required value"));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: -env, operator: In, values: [ok, _bad]}]").errors,
      ElementsAre("spec.podSelector.matchExpressions[0].key: Invalid value: \"-env\": " + kNamePart,
                  "spec.podSelector.matchExpressions[0].values[1]: Invalid value: \"_bad\": " + kLabelValue));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: '', operator: Exists}]").errors,
      ElementsAre(
          "spec.podSelector.matchExpressions[0].key: Invalid value: \"\": name part must be non-empty",
          "spec.podSelector.matchExpressions[0].key: Invalid value: \"\": " + kNamePart));
}

TEST(LabelSelectorFromJsonTest, TypeErrors) {
  EXPECT_THAT(from_yaml("app=web").errors,
              ElementsAre("spec.podSelector: Invalid value: \"app=web\": must be of type object"));
  EXPECT_THAT(from_yaml("matchLabels: [app]").errors,
              ElementsAre("spec.podSelector.matchLabels: Invalid value: [\"app\"]: must be of type object"));
  EXPECT_THAT(
      from_yaml("matchLabels: {replicas: 3}").errors,
      ElementsAre("spec.podSelector.matchLabels[replicas]: Invalid value: 3: must be of type string"));
  EXPECT_THAT(
      from_yaml("matchExpressions: {key: a}").errors,
      ElementsAre(
          "spec.podSelector.matchExpressions: Invalid value: {\"key\":\"a\"}: must be of type array"));
  EXPECT_THAT(
      from_yaml("matchExpressions: [a]").errors,
      ElementsAre("spec.podSelector.matchExpressions[0]: Invalid value: \"a\": must be of type object"));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: 1, operator: true, values: x}]").errors,
      ElementsAre(
          "spec.podSelector.matchExpressions[0].key: Invalid value: 1: must be of type string",
          "spec.podSelector.matchExpressions[0].operator: Invalid value: true: must be of type string",
          "spec.podSelector.matchExpressions[0].values: Invalid value: \"x\": must be of type array"));
  EXPECT_THAT(
      from_yaml("matchExpressions: [{key: a, operator: In, values: [1]}]").errors,
      ElementsAre(
          "spec.podSelector.matchExpressions[0].values[0]: Invalid value: 1: must be of type string"));
}

TEST(LabelSelectorFromJsonTest, MatchLabelsErrors) {
  EXPECT_THAT(from_yaml("matchLabels: {-app: web, tier: -x}").errors,
              ElementsAre("spec.podSelector.matchLabels[-app]: Invalid value: \"-app\": " + kNamePart,
                          "spec.podSelector.matchLabels[tier]: Invalid value: \"-x\": " + kLabelValue));
  const std::string value64(64, 'v');
  EXPECT_THAT(from_yaml("matchLabels: {app: " + value64 + "}").errors,
              ElementsAre("spec.podSelector.matchLabels[app]: Invalid value: \"" + value64 +
                          "\": must be no more than 63 characters"));
  const std::string name64(64, 'k');
  EXPECT_THAT(from_yaml("matchLabels: {" + name64 + ": v}").errors,
              ElementsAre("spec.podSelector.matchLabels[" + name64 + "]: Invalid value: \"" + name64 +
                          "\": name part must be no more than 63 characters"));
}

TEST(LabelSelectorFromJsonTest, ASelectorWithErrorsMatchesNothingAndKeepsEarlierErrors) {
  FieldErrors errors;
  errors.push_back({FieldError::Type::Required, FieldPath().child("spec").child("parameters"), nullptr, ""});
  const auto selector = LabelSelector::from_json(test::yaml("matchLabels: {app: web, -x: z}"),
                                                 FieldPath().child("spec").child("podSelector"), errors);
  EXPECT_TRUE(selector.matches_nothing());
  EXPECT_FALSE(selector.matches(Json{{"app", "web"}, {"-x", "z"}}));
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_EQ(errors[0].to_string(), "spec.parameters: Required value");
  EXPECT_EQ(errors[1].path.to_string(), "spec.podSelector.matchLabels[-x]");
}

TEST(LabelSelectorFromJsonTest, EquivalentToTheQueryString) {
  const auto from_object = from_yaml(R"(
matchLabels: {app: web}
matchExpressions:
  - {key: env, operator: NotIn, values: [dev, dev]}
  - {key: gpu, operator: DoesNotExist}
)");
  ASSERT_THAT(from_object.errors, ::testing::IsEmpty());
  EXPECT_EQ(from_object.selector, LabelSelector::parse("app=web,env notin (dev),!gpu"));
  EXPECT_EQ(LabelSelector::parse(from_object.selector.to_string()), from_object.selector);
}

}  // namespace
}  // namespace riasc
