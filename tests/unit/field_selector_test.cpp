#include "riasc/core/field_selector.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace riasc {

// How GoogleTest prints selectors and terms in failure messages.
void PrintTo(const FieldSelector& selector, std::ostream* out) { *out << '"' << selector.to_string() << '"'; }
void PrintTo(const FieldSelector::Term& term, std::ostream* out) { *out << term.to_string(); }

namespace {

using ::testing::ElementsAre;
using Op = FieldSelector::Operator;
using Term = FieldSelector::Term;

std::string parse_error(std::string_view text) {
  try {
    FieldSelector::parse(text);
  } catch (const SelectorError& error) {
    return error.what();
  }
  return "";
}

std::size_t error_position(std::string_view text) {
  try {
    FieldSelector::parse(text);
  } catch (const SelectorError& error) {
    return error.position();
  }
  return SelectorError::npos;
}

const Json kPod = test::yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: lab}
spec: {nodeName: node-1, hostNetwork: true, priority: 10}
status: {phase: Running}
)");

// ---------------------------------------------------------------------------------------------
// Parsing and matching

TEST(FieldSelectorTest, EmptySelectorMatchesEverything) {
  for (const char* text : {"", ",", ",,"}) {
    const auto selector = FieldSelector::parse(text);
    EXPECT_TRUE(selector.empty()) << text;
    EXPECT_TRUE(selector.matches(kPod)) << text;
    EXPECT_TRUE(selector.matches(nullptr)) << text;
    EXPECT_EQ(selector.to_string(), "") << text;
  }
  EXPECT_TRUE(FieldSelector().empty());
}

TEST(FieldSelectorTest, EqualsAndDoubleEquals) {
  const auto selector = FieldSelector::parse("metadata.name=web-0");
  EXPECT_THAT(selector.terms(), ElementsAre(Term{"metadata.name", Op::Equals, "web-0"}));
  EXPECT_FALSE(selector.empty());
  EXPECT_TRUE(selector.matches(kPod));
  EXPECT_FALSE(FieldSelector::parse("metadata.name=web-1").matches(kPod));
  EXPECT_EQ(FieldSelector::parse("metadata.name==web-0"), selector);
  EXPECT_FALSE(FieldSelector::parse("metadata.name==web-1").matches(kPod));
}

TEST(FieldSelectorTest, NotEquals) {
  const auto selector = FieldSelector::parse("status.phase!=Running");
  EXPECT_THAT(selector.terms(), ElementsAre(Term{"status.phase", Op::NotEquals, "Running"}));
  EXPECT_FALSE(selector.matches(kPod));
  EXPECT_TRUE(FieldSelector::parse("status.phase!=Pending").matches(kPod));
}

TEST(FieldSelectorTest, AllTermsMustHold) {
  EXPECT_TRUE(
      FieldSelector::parse("metadata.namespace=lab,spec.nodeName=node-1,status.phase!=Failed").matches(kPod));
  EXPECT_FALSE(FieldSelector::parse("metadata.namespace=lab,spec.nodeName=node-2").matches(kPod));
  EXPECT_FALSE(FieldSelector::parse("metadata.namespace=other,spec.nodeName=node-1").matches(kPod));
  EXPECT_FALSE(FieldSelector::parse("metadata.name=web-0,metadata.name!=web-0").matches(kPod));
}

TEST(FieldSelectorTest, MissingFieldsCompareAsEmpty) {
  const Json unscheduled = test::yaml("metadata: {name: p}\nstatus: {phase: Pending}");
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName=").matches(unscheduled));
  EXPECT_FALSE(FieldSelector::parse("spec.nodeName!=").matches(unscheduled));
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName!=node-1").matches(unscheduled));
  EXPECT_FALSE(FieldSelector::parse("spec.nodeName=node-1").matches(unscheduled));
  EXPECT_TRUE(FieldSelector::parse("metadata.namespace=").matches(unscheduled));  // cluster-scoped
  EXPECT_TRUE(FieldSelector::parse("no.such.field=").matches(nullptr));
  EXPECT_FALSE(FieldSelector::parse("spec.nodeName=").matches(kPod));
}

TEST(FieldSelectorTest, AnyDottedPathIsReadAndScalarsCompareAsText) {
  EXPECT_TRUE(FieldSelector::parse("spec.hostNetwork=true").matches(kPod));
  EXPECT_TRUE(FieldSelector::parse("spec.priority=10").matches(kPod));
  EXPECT_TRUE(FieldSelector::parse("kind=Pod,apiVersion=v1").matches(kPod));
  EXPECT_TRUE(FieldSelector::parse("spec=").matches(kPod));  // an object is not a value
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName.x=").matches(kPod));

  EXPECT_EQ(FieldSelector::field_value(kPod, "metadata.name"), "web-0");
  EXPECT_EQ(FieldSelector::field_value(kPod, "spec.hostNetwork"), "true");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: {b: false}"), "a.b"), "false");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: {b: 1.5}"), "a.b"), "1.5");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: {b: null}"), "a.b"), "");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: {b: [x]}"), "a.b"), "");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: {b: x}"), "a"), "");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: x"), "a.b"), "");
  EXPECT_EQ(FieldSelector::field_value(test::yaml("a: x"), ""), "");
}

TEST(FieldSelectorTest, MatchesFieldsUsesTheGivenValues) {
  const auto selector = FieldSelector::parse("spec.hostNetwork=false,metadata.name=p");
  auto pod_fields = [](std::string_view field) -> std::string {
    if (field == "spec.hostNetwork") return "false";  // Kubernetes' default for an absent field
    if (field == "metadata.name") return "p";
    return "";
  };
  EXPECT_TRUE(selector.matches_fields(pod_fields));
  EXPECT_FALSE(selector.matches(test::yaml("metadata: {name: p}")));
  EXPECT_FALSE(selector.matches_fields([](std::string_view) { return std::string("true"); }));
}

TEST(FieldSelectorTest, OperatorsSplitAtTheFirstOccurrence) {
  EXPECT_THAT(FieldSelector::parse("a=!b").terms(), ElementsAre(Term{"a", Op::Equals, "!b"}));
  EXPECT_THAT(FieldSelector::parse("a!b=c").terms(), ElementsAre(Term{"a!b", Op::Equals, "c"}));
  EXPECT_THAT(FieldSelector::parse(R"(a!=\=b)").terms(), ElementsAre(Term{"a", Op::NotEquals, "=b"}));
  EXPECT_THAT(FieldSelector::parse("=x").terms(), ElementsAre(Term{"", Op::Equals, "x"}));
  EXPECT_THAT(FieldSelector::parse("a=").terms(), ElementsAre(Term{"a", Op::Equals, ""}));
}

TEST(FieldSelectorTest, NothingIsTrimmed) {
  const auto selector = FieldSelector::parse(" status.phase = Running");
  EXPECT_THAT(selector.terms(), ElementsAre(Term{" status.phase ", Op::Equals, " Running"}));
  EXPECT_THAT(selector.fields(), ElementsAre(" status.phase "));
}

// ---------------------------------------------------------------------------------------------
// Escapes

TEST(FieldSelectorTest, EscapedValues) {
  EXPECT_THAT(FieldSelector::parse(R"(metadata.name=a\,b)").terms(),
              ElementsAre(Term{"metadata.name", Op::Equals, "a,b"}));
  EXPECT_THAT(FieldSelector::parse(R"(a=x\=y)").terms(), ElementsAre(Term{"a", Op::Equals, "x=y"}));
  EXPECT_THAT(FieldSelector::parse(R"(a=x\\y)").terms(), ElementsAre(Term{"a", Op::Equals, R"(x\y)"}));
  EXPECT_THAT(FieldSelector::parse(R"(a=x\!y)").terms(), ElementsAre(Term{"a", Op::Equals, "x!y"}));
  EXPECT_THAT(FieldSelector::parse(R"(a!=\=)").terms(), ElementsAre(Term{"a", Op::NotEquals, "="}));
  // An escaped backslash does not escape the comma after it.
  EXPECT_THAT(FieldSelector::parse(R"(a=x\\,b=c)").terms(),
              ElementsAre(Term{"a", Op::Equals, R"(x\)"}, Term{"b", Op::Equals, "c"}));
  EXPECT_TRUE(FieldSelector::parse(R"(metadata.name=a\,b)").matches(test::yaml("metadata: {name: 'a,b'}")));
}

TEST(FieldSelectorTest, EscapeValue) {
  EXPECT_EQ(FieldSelector::escape_value(R"(a,b=c\d!e)"), R"(a\,b\=c\\d!e)");
  EXPECT_EQ(FieldSelector::escape_value(""), "");
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(FieldSelectorTest, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a", "invalid selector: 'a'; can't understand 'a'"},
      {"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
      {"a!b", "invalid selector: 'a!b'; can't understand 'a!b'"},
      {"a<3", "invalid selector: 'a<3'; can't understand 'a<3'"},
      {R"(a=x\y)", R"(invalid field selector: invalid escape sequence: \y)"},
      {R"(a=x\)", R"(invalid field selector: invalid escape sequence: \)"},
      {"a=x\\\xC3\xA9", "invalid field selector: invalid escape sequence: \\\xC3\xA9"},  // a whole character
      {"a=b=c", "invalid field selector: unescaped character in value: '='"},
      {"a==b=c", "invalid field selector: unescaped character in value: '='"},
      {"a!==b", "invalid field selector: unescaped character in value: '='"},
      {R"(a=b,c=d\\,e)", R"(invalid selector: 'a=b,c=d\\,e'; can't understand 'e')"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_EQ(parse_error(text), message) << text;
  }
  EXPECT_THROW(FieldSelector::parse("a"), std::invalid_argument);
}

TEST(FieldSelectorTest, OfSeveralBadTermsTheFirstInSortedOrderIsNamed) {
  // Kubernetes sorts the terms as text before parsing them.
  EXPECT_EQ(parse_error("b,a"), "invalid selector: 'b,a'; can't understand 'a'");
  EXPECT_EQ(error_position("b,a"), 2U);
  EXPECT_EQ(error_position("x=1, y=a=b"), 8U);  // the unescaped '='
  EXPECT_EQ(error_position(R"(x=1,y=ab\q)"), 8U);
}

// ---------------------------------------------------------------------------------------------
// Fields, exact matches and the canonical form

TEST(FieldSelectorTest, FieldsAreDistinctAndSorted) {
  const auto selector = FieldSelector::parse("status.phase=Running,metadata.name=x,metadata.name!=y");
  EXPECT_THAT(selector.fields(), ElementsAre("metadata.name", "status.phase"));
  EXPECT_THAT(FieldSelector().fields(), ::testing::IsEmpty());
}

TEST(FieldSelectorTest, ExactMatch) {
  const auto selector = FieldSelector::parse("metadata.namespace!=kube-system,metadata.name==web-0");
  EXPECT_EQ(selector.exact_match("metadata.name"), "web-0");
  EXPECT_EQ(selector.exact_match("metadata.namespace"), std::nullopt);
  EXPECT_EQ(selector.exact_match("spec.nodeName"), std::nullopt);
}

TEST(FieldSelectorTest, CanonicalFormAndRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},
      {"b=1,a==2", "a=2,b=1"},
      {"a!=x,a=y,a==x", "a=x,a=y,a!=x"},
      {R"(a=x\,y,b=\=,c=\\,d=\!)", R"(a=x\,y,b=\=,c=\\,d=!)"},
      {",,a=1,", "a=1"},
  };
  for (const auto& [text, canonical] : cases) {
    const auto selector = FieldSelector::parse(text);
    EXPECT_EQ(selector.to_string(), canonical) << text;
    EXPECT_EQ(FieldSelector::parse(selector.to_string()), selector) << text;
  }
}

}  // namespace
}  // namespace riasc
