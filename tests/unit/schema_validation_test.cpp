// Schema::validate, keyword by keyword: for each a value that passes and one that fails, with the
// exact message users see.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "riasc/schema/schema.hpp"
#include "test_support.hpp"

namespace riasc::schema {
namespace {

using test::compile;
using test::messages;
using test::Messages;
using test::yaml;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The messages of validating `value_yaml` against `schema_yaml`.
Messages check(std::string_view schema_yaml, std::string_view value_yaml) {
  return test::validate(compile(schema_yaml), value_yaml);
}

// A schema for {spec: {<field>: <field_schema>}}, so messages carry a realistic path.
std::string under_spec(const std::string& field, const std::string& field_schema) {
  return "{type: object, properties: {spec: {type: object, properties: {" + field + ": " + field_schema +
         "}}}}";
}

// ---------------------------------------------------------------------------------------------
// type

TEST(SchemaTypeTest, Integer) {
  EXPECT_THAT(check("{type: integer}", "3"), IsEmpty());
  EXPECT_THAT(check("{type: integer}", "-3"), IsEmpty());
  EXPECT_THAT(check("{type: integer}", "1.5"), ElementsAre("Invalid value: 1.5: must be of type integer"));
  EXPECT_THAT(check("{type: integer}", "'3'"), ElementsAre(R"(Invalid value: "3": must be of type integer)"));
  EXPECT_THAT(check("{type: integer}", "true"), ElementsAre("Invalid value: true: must be of type integer"));
}

TEST(SchemaTypeTest, IntegralFloatIsAnInteger) {
  EXPECT_THAT(check("{type: integer}", "2.0"), IsEmpty());
  EXPECT_THAT(check("{type: integer}", "1e3"), IsEmpty());
  EXPECT_THAT(check("{type: integer, maximum: 10}", "20.0"),
              ElementsAre("Invalid value: 20.0: must be less than or equal to 10"));
}

TEST(SchemaTypeTest, Number) {
  EXPECT_THAT(check("{type: number}", "1"), IsEmpty());  // integers are numbers
  EXPECT_THAT(check("{type: number}", "1.5"), IsEmpty());
  EXPECT_THAT(check("{type: number}", "'1.5'"),
              ElementsAre(R"(Invalid value: "1.5": must be of type number)"));
}

TEST(SchemaTypeTest, String) {
  EXPECT_THAT(check("{type: string}", "hello"), IsEmpty());
  EXPECT_THAT(check("{type: string}", "'42'"), IsEmpty());
  EXPECT_THAT(check("{type: string}", "42"), ElementsAre("Invalid value: 42: must be of type string"));
  // YAML 1.1: an unquoted yes is a boolean, as kubectl reads it.
  EXPECT_THAT(check("{type: string}", "yes"), ElementsAre("Invalid value: true: must be of type string"));
}

TEST(SchemaTypeTest, Boolean) {
  EXPECT_THAT(check("{type: boolean}", "false"), IsEmpty());
  EXPECT_THAT(check("{type: boolean}", "on"), IsEmpty());
  EXPECT_THAT(check("{type: boolean}", "'true'"),
              ElementsAre(R"(Invalid value: "true": must be of type boolean)"));
  EXPECT_THAT(check("{type: boolean}", "1"), ElementsAre("Invalid value: 1: must be of type boolean"));
}

TEST(SchemaTypeTest, ObjectAndArray) {
  EXPECT_THAT(check("{type: object}", "{}"), IsEmpty());
  EXPECT_THAT(check("{type: object}", "[1]"), ElementsAre("Invalid value: [1]: must be of type object"));
  EXPECT_THAT(check("{type: array}", "[]"), IsEmpty());
  EXPECT_THAT(check("{type: array}", "{a: 1}"),
              ElementsAre(R"(Invalid value: {"a":1}: must be of type array)"));
}

TEST(SchemaTypeTest, TypeMismatchStopsFurtherChecksOfThatValue) {
  // A string is not checked against maximum, nor an object against its properties.
  EXPECT_THAT(check("{type: integer, maximum: 1, enum: [1]}", "'5'"),
              ElementsAre(R"(Invalid value: "5": must be of type integer)"));
  EXPECT_THAT(check("{type: object, required: [a]}", "[]"),
              ElementsAre("Invalid value: []: must be of type object"));
}

TEST(SchemaTypeTest, TypelessAcceptsAnything) {
  for (const char* value : {"1", "1.5", "x", "true", "{a: 1}", "[1]"}) {
    EXPECT_THAT(check("{x-kubernetes-preserve-unknown-fields: true}", value), IsEmpty()) << value;
  }
}

// ---------------------------------------------------------------------------------------------
// nullable and null

TEST(SchemaNullableTest, NullIsValidOnlyWhenNullable) {
  EXPECT_THAT(check("{type: string, nullable: true}", "null"), IsEmpty());
  EXPECT_THAT(check("{type: object, nullable: true}", "~"), IsEmpty());
  EXPECT_THAT(test::validate(compile("{type: string}"), "x"), IsEmpty());
  EXPECT_THAT(messages(compile("{type: string}").validate(nullptr)),
              ElementsAre("Invalid value: null: must be of type string"));
  EXPECT_THAT(messages(compile("{type: array, items: {type: integer}}").validate(yaml("[1, null]"))),
              ElementsAre("[1]: Invalid value: null: must be of type integer"));
}

TEST(SchemaNullableTest, NullFieldThatIsNotNullableCountsAsAbsent) {
  // Kubernetes prunes such nulls before validation: the field is simply not there.
  const auto schema =
      compile("{type: object, properties: {a: {type: string}, b: {type: string}}, required: [b]}");
  EXPECT_THAT(test::validate(schema, "{a: null, b: x}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "{a: x, b: null}"), ElementsAre("b: Required value"));
  const auto nullable =
      compile("{type: object, properties: {b: {type: string, nullable: true}}, required: [b]}");
  EXPECT_THAT(test::validate(nullable, "{b: null}"), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// enum

TEST(SchemaEnumTest, StringEnum) {
  const std::string schema = under_spec("type", "{type: string, enum: [Builtin, Flexe]}");
  EXPECT_THAT(check(schema, "spec: {type: Flexe}"), IsEmpty());
  EXPECT_THAT(check(schema, "spec: {type: Foo}"),
              ElementsAre(R"(spec.type: Unsupported value: "Foo": supported values: "Builtin", "Flexe")"));
  EXPECT_THAT(
      check(schema, "spec: {type: builtin}"),
      ElementsAre(R"(spec.type: Unsupported value: "builtin": supported values: "Builtin", "Flexe")"));
}

TEST(SchemaEnumTest, EnumOfOtherTypes) {
  EXPECT_THAT(check("{type: integer, enum: [1, 2]}", "2"), IsEmpty());
  EXPECT_THAT(check("{type: integer, enum: [1, 2]}", "3"),
              ElementsAre("Unsupported value: 3: supported values: 1, 2"));
  // Quoting in the enum matters: "True" (string) is not true (boolean).
  EXPECT_THAT(check(R"({type: string, enum: ["True", "False", Unknown]})", "'True'"), IsEmpty());
  EXPECT_THAT(check(R"({type: string, enum: ["True", "False", Unknown]})", "Maybe"),
              ElementsAre(R"(Unsupported value: "Maybe": supported values: "True", "False", "Unknown")"));
  EXPECT_THAT(check(R"({type: string, enum: ["", a]})", "''"), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf

std::string netem_schema() {
  return R"(
type: object
properties:
  spec:
    type: object
    properties:
      parameters:
        type: object
        properties:
          netem:
            type: object
            properties:
              loss_ratio: {type: number, minimum: 0, maximum: 1}
)";
}

TEST(SchemaNumberTest, MinimumAndMaximumAreInclusive) {
  const auto schema = compile(netem_schema());
  EXPECT_THAT(test::validate(schema, "spec: {parameters: {netem: {loss_ratio: 0}}}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "spec: {parameters: {netem: {loss_ratio: 1}}}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "spec: {parameters: {netem: {loss_ratio: 0.2}}}"), IsEmpty());
  EXPECT_THAT(
      test::validate(schema, "spec: {parameters: {netem: {loss_ratio: 1.5}}}"),
      ElementsAre("spec.parameters.netem.loss_ratio: Invalid value: 1.5: must be less than or equal to 1"));
  EXPECT_THAT(
      test::validate(schema, "spec: {parameters: {netem: {loss_ratio: -0.1}}}"),
      ElementsAre(
          "spec.parameters.netem.loss_ratio: Invalid value: -0.1: must be greater than or equal to 0"));
}

TEST(SchemaNumberTest, ExclusiveBounds) {
  const std::string schema =
      "{type: number, minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: true}";
  EXPECT_THAT(check(schema, "0.001"), IsEmpty());
  EXPECT_THAT(check(schema, "9.999"), IsEmpty());
  EXPECT_THAT(check(schema, "0"), ElementsAre("Invalid value: 0: must be greater than 0"));
  EXPECT_THAT(check(schema, "10"), ElementsAre("Invalid value: 10: must be less than 10"));
  EXPECT_THAT(check(schema, "-1"), ElementsAre("Invalid value: -1: must be greater than 0"));
  // exclusiveMinimum: false is the same as leaving it out.
  EXPECT_THAT(check("{type: number, minimum: 0, exclusiveMinimum: false}", "0"), IsEmpty());
}

TEST(SchemaNumberTest, FractionalBoundsAreShownAsWritten) {
  EXPECT_THAT(check("{type: number, maximum: 4294.967295}", "4294.967295"), IsEmpty());
  EXPECT_THAT(check("{type: number, maximum: 4294.967295}", "5000"),
              ElementsAre("Invalid value: 5000: must be less than or equal to 4294.967295"));
  EXPECT_THAT(check("{type: number, minimum: 0.5}", "0.25"),
              ElementsAre("Invalid value: 0.25: must be greater than or equal to 0.5"));
}

TEST(SchemaNumberTest, BoundsApplyToIntegersToo) {
  EXPECT_THAT(check("{type: integer, minimum: 1, maximum: 65535}", "65535"), IsEmpty());
  EXPECT_THAT(check("{type: integer, minimum: 1, maximum: 65535}", "70000"),
              ElementsAre("Invalid value: 70000: must be less than or equal to 65535"));
  EXPECT_THAT(check("{type: integer, minimum: 1, maximum: 65535}", "0"),
              ElementsAre("Invalid value: 0: must be greater than or equal to 1"));
}

TEST(SchemaNumberTest, MultipleOf) {
  EXPECT_THAT(check("{type: integer, multipleOf: 3}", "9"), IsEmpty());
  EXPECT_THAT(check("{type: integer, multipleOf: 3}", "0"), IsEmpty());
  EXPECT_THAT(check("{type: integer, multipleOf: 3}", "-6"), IsEmpty());
  EXPECT_THAT(check("{type: integer, multipleOf: 3}", "10"),
              ElementsAre("Invalid value: 10: must be a multiple of 3"));
  EXPECT_THAT(check("{type: number, multipleOf: 0.5}", "1.5"), IsEmpty());
  EXPECT_THAT(check("{type: number, multipleOf: 0.5}", "1.25"),
              ElementsAre("Invalid value: 1.25: must be a multiple of 0.5"));
  // Not fooled by binary floating point: 0.3 / 0.1 is 2.9999999999999996.
  EXPECT_THAT(check("{type: number, multipleOf: 0.1}", "0.3"), IsEmpty());
}

TEST(SchemaNumberTest, SeveralNumberErrorsAtOnce) {
  EXPECT_THAT(check("{type: integer, maximum: 10, multipleOf: 4}", "13"),
              ElementsAre("Invalid value: 13: must be less than or equal to 10",
                          "Invalid value: 13: must be a multiple of 4"));
}

// ---------------------------------------------------------------------------------------------
// minLength, maxLength (UTF-8 characters), pattern

TEST(SchemaStringTest, LengthCountsUtf8Characters) {
  // "µs" is 3 bytes but 2 characters; "🙂🙂" is 8 bytes, 2 characters.
  EXPECT_THAT(check("{type: string, maxLength: 2}", "µs"), IsEmpty());
  EXPECT_THAT(check("{type: string, maxLength: 2}", "🙂🙂"), IsEmpty());
  EXPECT_THAT(check("{type: string, maxLength: 2}", "µss"),
              ElementsAre("Too long: may not be longer than 2 characters"));
  EXPECT_THAT(check("{type: string, minLength: 2}", "µs"), IsEmpty());
  EXPECT_THAT(check("{type: string, minLength: 2}", "µ"),
              ElementsAre(R"(Invalid value: "µ": must be at least 2 characters long)"));
}

TEST(SchemaStringTest, SingularAndPluralCharacters) {
  EXPECT_THAT(check("{type: string, minLength: 1}", "''"),
              ElementsAre(R"(Invalid value: "": must be at least 1 character long)"));
  EXPECT_THAT(check("{type: string, maxLength: 1}", "ab"),
              ElementsAre("Too long: may not be longer than 1 character"));
  EXPECT_THAT(check("{type: string, maxLength: 0}", "''"), IsEmpty());
}

TEST(SchemaStringTest, PatternIsAnUnanchoredSearch) {
  // As Go's regexp.MatchString: the pattern may match anywhere in the value.
  EXPECT_THAT(check("{type: string, pattern: 'b+'}", "abbbc"), IsEmpty());
  EXPECT_THAT(check("{type: string, pattern: 'b+'}", "ac"),
              ElementsAre(R"(Invalid value: "ac": must match the regular expression 'b+')"));
  EXPECT_THAT(check("{type: string, pattern: '^[a-z]+$'}", "abc"), IsEmpty());
  EXPECT_THAT(check("{type: string, pattern: '^[a-z]+$'}", "abc1"),
              ElementsAre(R"(Invalid value: "abc1": must match the regular expression '^[a-z]+$')"));
  // An alternation anchored only at its ends (the original CRDs' mistake) matches inside words.
  EXPECT_THAT(check("{type: string, pattern: '^UDPv4|UDPv6|L2$'}", "xUDPv6y"), IsEmpty());
}

TEST(SchemaStringTest, PatternMatchesUtf8) {
  const std::string schema = R"({type: string, pattern: '^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$'})";
  EXPECT_THAT(check(schema, "20µs"), IsEmpty());
  EXPECT_THAT(check(schema, "1m30s"), IsEmpty());
  EXPECT_THAT(
      check(schema, "'200 ms'"),
      ElementsAre(
          R"(Invalid value: "200 ms": must match the regular expression '^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$')"));
}

TEST(SchemaStringTest, LengthAndPatternErrorsTogether) {
  EXPECT_THAT(check("{type: string, maxLength: 3, pattern: '^[a-z]*$'}", "ABCD"),
              ElementsAre("Too long: may not be longer than 3 characters",
                          R"(Invalid value: "ABCD": must match the regular expression '^[a-z]*$')"));
}

// ---------------------------------------------------------------------------------------------
// format

struct FormatCase {
  const char* format;
  const char* valid;
  const char* invalid;
  const char* expected;  // what the message says the value must be
};

// Names the case in test listings (ctest would otherwise show the struct's bytes).
void PrintTo(const FormatCase& c, std::ostream* out) {
  *out << c.format << ": " << c.valid << " passes, " << c.invalid << " fails";
}

class SchemaFormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(SchemaFormatTest, PassAndFail) {
  const FormatCase& c = GetParam();
  const auto schema = compile(std::string("{type: string, format: ") + c.format + "}");
  EXPECT_THAT(messages(schema.validate(Json(c.valid))), IsEmpty()) << c.valid;
  EXPECT_THAT(messages(schema.validate(Json(c.invalid))),
              ElementsAre("Invalid value: " + Json(c.invalid).dump() + ": must be " + c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Formats, SchemaFormatTest,
    ::testing::Values(
        FormatCase{"date-time", "2024-01-31T12:00:00Z", "2024-01-31 12:00",
                   "a date-time in RFC 3339 form, e.g. 2024-01-31T12:00:00Z"},
        FormatCase{"date-time", "2024-01-31T12:00:00.123+01:00", "2024-01-31",
                   "a date-time in RFC 3339 form, e.g. 2024-01-31T12:00:00Z"},
        FormatCase{"date", "2024-01-31", "31.01.2024", "a date in RFC 3339 form, e.g. 2024-01-31"},
        FormatCase{"duration", "1h30m", "5 minutes", "a duration such as 200ms, 1.5s or 1h30m"},
        FormatCase{"duration", "20µs", "1.5", "a duration such as 200ms, 1.5s or 1h30m"},
        FormatCase{"byte", "aGVsbG8=", "not base64!", "base64-encoded data"},
        FormatCase{"uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3",
                   "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000"},
        FormatCase{"ipv4", "192.0.2.1", "192.0.2.256", "an IPv4 address, e.g. 192.0.2.1"},
        FormatCase{"ipv4", "10.0.0.1", "2001:db8::1", "an IPv4 address, e.g. 192.0.2.1"},
        FormatCase{"ipv6", "2001:db8::1", "192.0.2.1", "an IPv6 address, e.g. 2001:db8::1"},
        FormatCase{"cidr", "10.0.0.0/8", "10.0.0.0/33", "a CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/64"},
        FormatCase{"cidr", "2001:db8::/64", "10.0.0.0", "a CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/64"},
        FormatCase{"cidr", "::/0", "2001:db8::/129", "a CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/64"},
        FormatCase{"mac", "02:00:5e:10:00:01", "02:00:5e:10:00", "a MAC address, e.g. 02:00:5e:10:00:01"},
        FormatCase{"mac", "02-00-5E-10-00-01", "02:00:5e:10:00:0g", "a MAC address, e.g. 02:00:5e:10:00:01"},
        FormatCase{"hostname", "ntp.example.org", "-bad.example.org",
                   "a host name (RFC 1123), e.g. ntp.example.org"},
        FormatCase{"hostname", "localhost", "under_score", "a host name (RFC 1123), e.g. ntp.example.org"},
        FormatCase{"email", "jane@example.org", "jane@localhost", "an e-mail address"},
        FormatCase{"uri", "https://example.org/archive", "example.org/archive",
                   "a URI with a scheme, e.g. https://example.org/archive"}),
    [](const ::testing::TestParamInfo<FormatCase>& param_info) {
      std::string name = std::to_string(param_info.index) + "_" + param_info.param.format;
      std::erase(name, '-');
      return name;
    });

TEST(SchemaFormatOtherTest, UnknownAndNumericFormatsDoNotRestrictStrings) {
  for (const char* format : {"int32", "int64", "double", "password", "my-own-format"}) {
    EXPECT_THAT(check(std::string("{type: string, format: ") + format + "}", "'anything at all'"), IsEmpty())
        << format;
  }
}

TEST(SchemaFormatOtherTest, FormatAppliesOnlyToStrings) {
  EXPECT_THAT(check("{type: integer, format: int64}", "5"), IsEmpty());
  EXPECT_THAT(check("{x-kubernetes-int-or-string: true, format: ipv4}", "5"), IsEmpty());
  EXPECT_THAT(check("{x-kubernetes-int-or-string: true, format: ipv4}", "x"),
              ElementsAre(R"(Invalid value: "x": must be an IPv4 address, e.g. 192.0.2.1)"));
}

TEST(SchemaFormatOtherTest, DatesMustExistInTheCalendar) {
  const auto date = compile("{type: string, format: date}");
  EXPECT_THAT(
      messages(date.validate("2024-13-45")),
      ElementsAre(R"(Invalid value: "2024-13-45": must be a date in RFC 3339 form, e.g. 2024-01-31)"));
  EXPECT_THAT(
      messages(date.validate("2024-02-30")),
      ElementsAre(R"(Invalid value: "2024-02-30": must be a date in RFC 3339 form, e.g. 2024-01-31)"));
  EXPECT_THAT(messages(date.validate("2024-02-29")), IsEmpty());  // a leap year
  const auto date_time = compile("{type: string, format: date-time}");
  EXPECT_THAT(
      messages(date_time.validate("2024-01-31T25:61:00Z")),
      ElementsAre(
          R"(Invalid value: "2024-01-31T25:61:00Z": must be a date-time in RFC 3339 form, e.g. 2024-01-31T12:00:00Z)"));
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-int-or-string

TEST(SchemaIntOrStringTest, AcceptsIntegersAndStringsOnly) {
  const std::string schema = "{x-kubernetes-int-or-string: true}";
  EXPECT_THAT(check(schema, "80"), IsEmpty());
  EXPECT_THAT(check(schema, "http"), IsEmpty());
  EXPECT_THAT(check(schema, "'80'"), IsEmpty());
  EXPECT_THAT(check(schema, "1.5"), ElementsAre("Invalid value: 1.5: must be an integer or a string"));
  EXPECT_THAT(check(schema, "true"), ElementsAre("Invalid value: true: must be an integer or a string"));
  EXPECT_THAT(check(schema, "[80]"), ElementsAre("Invalid value: [80]: must be an integer or a string"));
}

TEST(SchemaIntOrStringTest, NumberRulesApplyToIntegersAndStringRulesToStrings) {
  // The TrafficProfile port: 1..65535, or a container port name.
  const std::string schema = R"(
x-kubernetes-int-or-string: true
anyOf: [{type: integer}, {type: string}]
minimum: 1
maximum: 65535
minLength: 1
maxLength: 15
pattern: '^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$'
)";
  EXPECT_THAT(check(schema, "443"), IsEmpty());
  EXPECT_THAT(check(schema, "metrics-http"), IsEmpty());
  EXPECT_THAT(check(schema, "70000"),
              ElementsAre("Invalid value: 70000: must be less than or equal to 65535"));
  EXPECT_THAT(check(schema, "0"), ElementsAre("Invalid value: 0: must be greater than or equal to 1"));
  EXPECT_THAT(
      check(schema, "HTTP"),
      ElementsAre(
          R"(Invalid value: "HTTP": must match the regular expression '^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$')"));
  EXPECT_THAT(check(schema, "averyveryverylongname"),
              ElementsAre("Too long: may not be longer than 15 characters"));
  // A numeric string is a string: the pattern, not the range, decides.
  EXPECT_THAT(
      check(schema, "'70000'"),
      ElementsAre(
          R"(Invalid value: "70000": must match the regular expression '^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$')"));
  EXPECT_THAT(check(schema, "1.5"), ElementsAre("Invalid value: 1.5: must be an integer or a string"));
}

// ---------------------------------------------------------------------------------------------
// Typeless values with x-kubernetes-preserve-unknown-fields ("number or duration string")

TEST(SchemaTypelessTest, MinimumAppliesOnlyToNumbersAndPatternOnlyToStrings) {
  const std::string schema = R"(
x-kubernetes-preserve-unknown-fields: true
minimum: 0
maximum: 4294.967295
pattern: '^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$'
)";
  EXPECT_THAT(check(schema, "0.2"), IsEmpty());
  EXPECT_THAT(check(schema, "0"), IsEmpty());
  EXPECT_THAT(check(schema, "200ms"), IsEmpty());
  EXPECT_THAT(check(schema, "20µs"), IsEmpty());
  EXPECT_THAT(check(schema, "5000s"), IsEmpty());  // maximum does not apply to strings
  EXPECT_THAT(check(schema, "-1"), ElementsAre("Invalid value: -1: must be greater than or equal to 0"));
  EXPECT_THAT(check(schema, "5000"),
              ElementsAre("Invalid value: 5000: must be less than or equal to 4294.967295"));
  EXPECT_THAT(
      check(schema, "'200 ms'"),
      ElementsAre(
          R"(Invalid value: "200 ms": must match the regular expression '^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$')"));
  EXPECT_THAT(
      check(schema, "'0.2'"),
      ElementsAre(
          R"(Invalid value: "0.2": must match the regular expression '^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$')"));
  // Neither rule is about booleans or objects, as in Kubernetes.
  EXPECT_THAT(check(schema, "true"), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// properties, required, additionalProperties, minProperties, maxProperties

TEST(SchemaObjectTest, RequiredFields) {
  const auto schema =
      compile("{type: object, required: [a, b], properties: {a: {type: string}, b: {type: string}}}");
  EXPECT_THAT(test::validate(schema, "{a: foo, b: bar}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "{}"), ElementsAre("a: Required value", "b: Required value"));
  EXPECT_THAT(test::validate(schema, "{b: bar}"), ElementsAre("a: Required value"));
}

TEST(SchemaObjectTest, ErrorsComeInDocumentOrder) {
  const auto schema =
      compile("{type: object, properties: {a: {type: string}, b: {type: string}, c: {type: string}}}");
  EXPECT_THAT(test::validate(schema, "{c: 3, a: 1}"),
              ElementsAre("c: Invalid value: 3: must be of type string",
                          "a: Invalid value: 1: must be of type string"));
}

TEST(SchemaObjectTest, ErrorPathsCarryListIndices) {
  const auto schema = compile(R"(
type: object
properties:
  spec:
    type: object
    properties:
      egress:
        type: array
        items:
          type: object
          properties:
            ports:
              type: array
              items:
                type: object
                required: [protocol]
                properties:
                  port: {type: integer, maximum: 65535}
                  protocol: {type: string}
)");
  EXPECT_THAT(
      test::validate(schema, R"(
spec:
  egress:
    - ports: [{port: 80, protocol: TCP}, {port: 70000, protocol: UDP}]
    - ports: [{port: 1}]
)"),
      ElementsAre("spec.egress[0].ports[1].port: Invalid value: 70000: must be less than or equal to 65535",
                  "spec.egress[1].ports[0].protocol: Required value"));
}

TEST(SchemaObjectTest, AdditionalPropertiesSchemaChecksMapValuesWithKeyPaths) {
  const std::string schema =
      under_spec("nodeSelector", "{type: object, additionalProperties: {type: string, maxLength: 3}}");
  EXPECT_THAT(check(schema, "spec: {nodeSelector: {riasc.eu/lab: abc}}"), IsEmpty());
  EXPECT_THAT(check(schema, "spec: {nodeSelector: {a: abc, riasc.eu/lab: abcd, c: 1}}"),
              ElementsAre("spec.nodeSelector[riasc.eu/lab]: Too long: may not be longer than 3 characters",
                          "spec.nodeSelector[c]: Invalid value: 1: must be of type string"));
}

TEST(SchemaObjectTest, MapOfObjects) {
  const auto schema = compile(
      "{type: object, additionalProperties: {type: object, required: [port], properties: {port: {type: "
      "integer}}}}");
  EXPECT_THAT(test::validate(schema, "{web: {port: 80}}"), IsEmpty());
  EXPECT_THAT(
      test::validate(schema, "{web: {}, db: {port: x}}"),
      ElementsAre("[web].port: Required value", R"([db].port: Invalid value: "x": must be of type integer)"));
}

TEST(SchemaObjectTest, MinAndMaxProperties) {
  const auto schema =
      compile("{type: object, minProperties: 1, maxProperties: 2, additionalProperties: {type: string}}");
  EXPECT_THAT(test::validate(schema, "{a: foo}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "{a: foo, b: bar}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "{}"), ElementsAre("Invalid value: {}: must have at least 1 property"));
  EXPECT_THAT(test::validate(schema, "{a: foo, b: bar, c: baz}"),
              ElementsAre("Too many: 3: must have at most 2 properties"));
  EXPECT_THAT(
      check("{type: object, maxProperties: 1, x-kubernetes-preserve-unknown-fields: true}", "{a: 1, b: 2}"),
      ElementsAre("Too many: 2: must have at most 1 property"));
  EXPECT_THAT(check("{type: object, minProperties: 2, x-kubernetes-preserve-unknown-fields: true}", "{a: 1}"),
              ElementsAre(R"(Invalid value: {"a":1}: must have at least 2 properties)"));
}

TEST(SchemaObjectTest, UndeclaredFieldsAreNotValidationErrors) {
  // Unknown fields are pruning's business (Schema::unknown_fields), not validate's.
  EXPECT_THAT(check("{type: object, properties: {a: {type: string}}}", "{a: x, b: 1}"), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// items, minItems, maxItems, x-kubernetes-list-type

TEST(SchemaArrayTest, MinAndMaxItems) {
  EXPECT_THAT(check("{type: array, minItems: 1, maxItems: 3, items: {type: integer}}", "[1, 2, 3]"),
              IsEmpty());
  EXPECT_THAT(check("{type: array, minItems: 1, maxItems: 3, items: {type: integer}}", "[]"),
              ElementsAre("Invalid value: []: must have at least 1 item"));
  EXPECT_THAT(check("{type: array, minItems: 2}", "[1]"),
              ElementsAre("Invalid value: [1]: must have at least 2 items"));
  EXPECT_THAT(check("{type: array, maxItems: 3, items: {type: integer}}", "[1, 2, 3, 4]"),
              ElementsAre("Too many: 4: must have at most 3 items"));
  EXPECT_THAT(check("{type: array, maxItems: 1}", "[1, 2]"),
              ElementsAre("Too many: 2: must have at most 1 item"));
}

TEST(SchemaArrayTest, ItemsAreCheckedWithTheirIndex) {
  EXPECT_THAT(check("{type: array, items: {type: integer, minimum: 1, maximum: 3}}", "[1, 0, 3, 4, x]"),
              ElementsAre("[1]: Invalid value: 0: must be greater than or equal to 1",
                          "[3]: Invalid value: 4: must be less than or equal to 3",
                          R"([4]: Invalid value: "x": must be of type integer)"));
}

TEST(SchemaArrayTest, ListTypeSetRejectsDuplicates) {
  const std::string schema =
      under_spec("users", "{type: array, x-kubernetes-list-type: set, items: {type: string}}");
  EXPECT_THAT(check(schema, "spec: {users: [jane, max]}"), IsEmpty());
  EXPECT_THAT(check(schema, "spec: {users: [jane, max, jane]}"),
              ElementsAre(R"(spec.users[2]: Duplicate value: "jane")"));
  EXPECT_THAT(
      check(schema, "spec: {users: [a, a, a]}"),
      ElementsAre(R"(spec.users[1]: Duplicate value: "a")", R"(spec.users[2]: Duplicate value: "a")"));
  EXPECT_THAT(check("{type: array, x-kubernetes-list-type: set, items: {type: integer}}", "[1, 2, 3, 2]"),
              ElementsAre("[3]: Duplicate value: 2"));
  // An atomic list may repeat items.
  EXPECT_THAT(check("{type: array, x-kubernetes-list-type: atomic, items: {type: integer}}", "[1, 1]"),
              IsEmpty());
}

std::string conditions_schema(const std::string& required) {
  return R"(
type: object
properties:
  status:
    type: object
    properties:
      conditions:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [type]
        items:
          type: object
          required: )" +
         required + R"(
          properties:
            type: {type: string}
            status: {type: string}
)";
}

TEST(SchemaArrayTest, ListTypeMapRejectsDuplicateKeys) {
  const auto schema = compile(conditions_schema("[type, status]"));
  EXPECT_THAT(
      test::validate(
          schema, R"(status: {conditions: [{type: Ready, status: "True"}, {type: Synced, status: "True"}]})"),
      IsEmpty());
  EXPECT_THAT(
      test::validate(
          schema, R"(status: {conditions: [{type: Ready, status: "True"}, {type: Ready, status: "False"}]})"),
      ElementsAre(R"(status.conditions[1]: Duplicate value: {"type":"Ready"})"));
}

TEST(SchemaArrayTest, ListTypeMapKeysMustBePresent) {
  // Here the items do not require the key themselves, so the list-map rule is what reports it.
  const auto schema = compile(conditions_schema("[status]"));
  EXPECT_THAT(test::validate(schema, R"(status: {conditions: [{status: "True"}]})"),
              ElementsAre("status.conditions[0].type: Required value"));
}

TEST(SchemaArrayTest, MissingListMapKeyIsReportedOnce) {
  const auto schema = compile(conditions_schema("[type, status]"));
  EXPECT_THAT(test::validate(schema, R"(status: {conditions: [{status: "True"}]})"),
              ElementsAre("status.conditions[0].type: Required value"));
}

TEST(SchemaArrayTest, ListMapKeyWithADefaultCountsAsPresent) {
  const auto schema = compile(R"(
type: array
x-kubernetes-list-type: map
x-kubernetes-list-map-keys: [port, protocol]
items:
  type: object
  required: [port]
  properties:
    port: {type: integer}
    protocol: {type: string, default: TCP}
)");
  EXPECT_THAT(test::validate(schema, "[{port: 80}, {port: 80, protocol: UDP}]"), IsEmpty());
  // Without protocol, the first item's key is {port: 80, protocol: TCP}: the same as the second's.
  EXPECT_THAT(test::validate(schema, "[{port: 80}, {port: 80, protocol: TCP}]"),
              ElementsAre(R"([1]: Duplicate value: {"port":80,"protocol":"TCP"})"));
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-embedded-resource

TEST(SchemaEmbeddedResourceTest, NeedsApiVersionAndKind) {
  const std::string schema = under_spec(
      "template",
      "{type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}");
  EXPECT_THAT(check(schema, "spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: x}, spec: {}}}"),
              IsEmpty());
  EXPECT_THAT(check(schema, "spec: {template: {}}"),
              ElementsAre("spec.template.apiVersion: Required value", "spec.template.kind: Required value"));
  EXPECT_THAT(check(schema, "spec: {template: {kind: Pod}}"),
              ElementsAre("spec.template.apiVersion: Required value"));
  EXPECT_THAT(check(schema, "spec: {template: {apiVersion: 1, kind: Pod}}"),
              ElementsAre("spec.template.apiVersion: Invalid value: 1: must be of type string"));
  EXPECT_THAT(check(schema, "spec: {template: {apiVersion: v1, kind: Pod, metadata: []}}"),
              ElementsAre("spec.template.metadata: Invalid value: []: must be of type object"));
}

// ---------------------------------------------------------------------------------------------
// allOf, anyOf, oneOf, not

TEST(SchemaJunctorTest, AllOfNeedsEveryBranch) {
  const std::string schema = "{type: integer, allOf: [{minimum: 1}, {maximum: 10}]}";
  EXPECT_THAT(check(schema, "5"), IsEmpty());
  EXPECT_THAT(check(schema, "0"), ElementsAre("Invalid value: 0: must be greater than or equal to 1"));
  EXPECT_THAT(check(schema, "11"), ElementsAre("Invalid value: 11: must be less than or equal to 10"));
}

TEST(SchemaJunctorTest, AnyOfNeedsOneBranch) {
  const std::string schema = "{type: number, anyOf: [{minimum: 10}, {maximum: 0}]}";
  EXPECT_THAT(check(schema, "10.5"), IsEmpty());
  EXPECT_THAT(check(schema, "-0.5"), IsEmpty());
  EXPECT_THAT(
      check(schema, "5.5"),
      ElementsAre("Invalid value: 5.5: must validate at least one schema (anyOf); as a number it fails: "
                  "must be greater than or equal to 10"));
}

TEST(SchemaJunctorTest, AnyOfReportsTheOneBranchOfTheValuesType) {
  // Exactly one branch is about the value's type: its own errors say more.
  const std::string schema = "{anyOf: [{type: integer, minimum: 1}, {type: string, minLength: 2}]}";
  EXPECT_THAT(check(schema, "5"), IsEmpty());
  EXPECT_THAT(check(schema, "ab"), IsEmpty());
  EXPECT_THAT(check(schema, "0"), ElementsAre("Invalid value: 0: must be greater than or equal to 1"));
  EXPECT_THAT(check(schema, "a"), ElementsAre(R"(Invalid value: "a": must be at least 2 characters long)"));
  // No branch is about numbers with a fraction, or booleans: the general message, with the first
  // branch's reason.
  EXPECT_THAT(
      check(schema, "1.5"),
      ElementsAre("Invalid value: 1.5: must validate at least one schema (anyOf); as a number it fails: "
                  "must be of type integer"));
  EXPECT_THAT(
      check(schema, "true"),
      ElementsAre("Invalid value: true: must validate at least one schema (anyOf); as a boolean it fails: "
                  "must be of type integer"));
}

TEST(SchemaJunctorTest, AnyOfWithTwoBranchesOfTheValuesTypeGivesTheGeneralMessage) {
  const std::string schema = "{anyOf: [{type: number, minimum: 10}, {type: number, maximum: 0}]}";
  EXPECT_THAT(
      check(schema, "5.5"),
      ElementsAre("Invalid value: 5.5: must validate at least one schema (anyOf); as a number it fails: "
                  "must be greater than or equal to 10"));
}

TEST(SchemaJunctorTest, AnyOfWithPropertiesInBranches) {
  // The label-selector requirement of the TrafficProfile CRD.
  const std::string schema = R"(
type: object
required: [key, operator]
properties:
  key: {type: string}
  operator: {type: string, enum: [In, NotIn, Exists, DoesNotExist]}
  values: {type: array, items: {type: string}}
anyOf:
  - properties:
      operator: {enum: [In, NotIn]}
      values: {minItems: 1}
    required: [values]
  - properties:
      operator: {enum: [Exists, DoesNotExist]}
      values: {maxItems: 0}
)";
  EXPECT_THAT(check(schema, "{key: app, operator: In, values: [web]}"), IsEmpty());
  EXPECT_THAT(check(schema, "{key: app, operator: Exists}"), IsEmpty());
  EXPECT_THAT(check(schema, "{key: app, operator: Exists, values: []}"), IsEmpty());
  EXPECT_THAT(
      check(schema, "{key: app, operator: Exists, values: [web]}"),
      ElementsAre(::testing::AllOf(
          ::testing::StartsWith(R"(Invalid value: {"key":"app","operator":"Exists","values":["web"]}: )"
                                "must validate at least one schema (anyOf); as a"),
          ::testing::EndsWith(
              R"( object it fails: operator: Unsupported value: "Exists": supported values: "In", "NotIn")"))));
}

TEST(SchemaJunctorTest, AnyOfExplainsAMissingRequiredField) {
  const std::string schema = R"(
type: object
properties:
  operator: {type: string}
  values: {type: array, items: {type: string}}
anyOf:
  - properties: {operator: {enum: [In, NotIn]}}
    required: [values]
  - properties: {operator: {enum: [Exists, DoesNotExist]}}
)";
  const auto errors = check(schema, "{key: app, operator: In}");
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_THAT(errors[0], ::testing::HasSubstr("values"));
  EXPECT_THAT(errors[0], ::testing::Not(::testing::EndsWith(": ")));
  EXPECT_THAT(errors[0], ::testing::Not(::testing::HasSubstr("as a object")));
}

TEST(SchemaJunctorTest, OneOfNeedsExactlyOneBranch) {
  const std::string schema = R"(
type: object
properties: {ipBlock: {type: object}, podSelector: {type: object}, namespaceSelector: {type: object}}
oneOf:
  - required: [ipBlock]
  - anyOf:
      - required: [podSelector]
      - required: [namespaceSelector]
)";
  EXPECT_THAT(check(schema, "{ipBlock: {}}"), IsEmpty());
  EXPECT_THAT(check(schema, "{podSelector: {}, namespaceSelector: {}}"), IsEmpty());
  EXPECT_THAT(
      check(schema, "{ipBlock: {}, podSelector: {}}"),
      ElementsAre(
          R"(Invalid value: {"ipBlock":{},"podSelector":{}}: must validate one and only one schema (oneOf))"));
  EXPECT_THAT(check(schema, "{}"),
              ElementsAre("Invalid value: {}: must validate one and only one schema (oneOf)"));
}

TEST(SchemaJunctorTest, NotRejectsWhatItsSchemaAccepts) {
  const std::string schema = "{type: string, not: {enum: [forbidden, also-forbidden]}}";
  EXPECT_THAT(check(schema, "fine"), IsEmpty());
  EXPECT_THAT(check(schema, "forbidden"),
              ElementsAre(R"(Invalid value: "forbidden": must not validate the schema (not))"));
  EXPECT_THAT(check("{type: object, not: {required: [a]}}", "{a: 1}"),
              ElementsAre(R"(Invalid value: {"a":1}: must not validate the schema (not))"));
  EXPECT_THAT(check("{type: object, not: {required: [a]}}", "{b: 1}"), IsEmpty());
}

TEST(SchemaJunctorTest, JunctorsAreCheckedBesideTheNodesOwnRules) {
  EXPECT_THAT(check("{type: integer, maximum: 100, allOf: [{minimum: 10}]}", "200"),
              ElementsAre("Invalid value: 200: must be less than or equal to 100"));
  EXPECT_THAT(check("{type: integer, maximum: 100, allOf: [{minimum: 10}], not: {enum: [5]}}", "5"),
              ElementsAre("Invalid value: 5: must be greater than or equal to 10",
                          "Invalid value: 5: must not validate the schema (not)"));
}

// ---------------------------------------------------------------------------------------------
// Root::Resource

TEST(SchemaResourceTest, ApiVersionKindAndMetadataAreImplicit) {
  const auto schema = compile("{type: object, properties: {spec: {type: object}}}", Schema::Root::Resource);
  EXPECT_THAT(test::validate(schema, "{apiVersion: x/v1, kind: Thing, metadata: {name: a}, spec: {}}"),
              IsEmpty());
  EXPECT_THAT(test::validate(schema, "{apiVersion: 1, kind: [], metadata: x}"),
              ElementsAre("apiVersion: Invalid value: 1: must be of type string",
                          "kind: Invalid value: []: must be of type string",
                          R"(metadata: Invalid value: "x": must be of type object)"));
}

TEST(SchemaResourceTest, DeclaredMetadataRestrictionsApply) {
  const auto schema = compile(R"(
type: object
properties:
  metadata:
    type: object
    properties:
      name: {type: string, maxLength: 5}
)",
                              Schema::Root::Resource);
  EXPECT_THAT(test::validate(schema, "{metadata: {name: short, labels: {a: b}}}"), IsEmpty());
  EXPECT_THAT(test::validate(schema, "{metadata: {name: toolong}}"),
              ElementsAre("metadata.name: Too long: may not be longer than 5 characters"));
}

// ---------------------------------------------------------------------------------------------
// Schema::compile

::testing::AssertionResult compile_fails_with(std::string_view schema_yaml, const Messages& expected,
                                              const FieldPath& at = {}) {
  try {
    (void)Schema::compile(yaml(schema_yaml), Schema::Root::Value, at);
  } catch (const SchemaError& error) {
    Messages got = messages(error.errors());
    if (got != expected) {
      auto failure = ::testing::AssertionFailure() << "errors:";
      for (const auto& message : got) failure << "\n  " << message;
      return failure;
    }
    if (!expected.empty() && std::string(error.what()) != expected.front()) {
      return ::testing::AssertionFailure() << "what() is " << error.what();
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no SchemaError";
}

TEST(SchemaCompileTest, InvalidRegularExpressionIsReportedAtItsPath) {
  EXPECT_TRUE(compile_fails_with(
      "{type: object, properties: {name: {type: string, pattern: '(['}}}",
      {R"(spec.properties[name].pattern: Invalid value: "([": must be a valid regular expression: missing ]: [)"},
      FieldPath().child("spec")));
  // Go's regexp (RE2) has no look-around.
  EXPECT_TRUE(compile_fails_with(
      "{type: string, pattern: '^(?!x)'}",
      {R"re(pattern: Invalid value: "^(?!x)": must be a valid regular expression: invalid perl operator: (?!)re"}));
}

TEST(SchemaCompileTest, KeywordsOfTheWrongJsonType) {
  EXPECT_TRUE(compile_fails_with("{type: 5}", {"type: Invalid value: 5: must be a string"}));
  EXPECT_TRUE(compile_fails_with(
      "{type: float}",
      {R"(type: Unsupported value: "float": supported values: "object", "array", "string", "integer", "number", "boolean")"}));
  EXPECT_TRUE(compile_fails_with("{type: number, minimum: '1'}",
                                 {R"(minimum: Invalid value: "1": must be a number)"}));
  EXPECT_TRUE(compile_fails_with("{type: string, minLength: -1}",
                                 {"minLength: Invalid value: -1: must be a non-negative integer"}));
  EXPECT_TRUE(compile_fails_with("{type: string, maxLength: 1.5}",
                                 {"maxLength: Invalid value: 1.5: must be a non-negative integer"}));
  EXPECT_TRUE(compile_fails_with("{type: string, nullable: 'yes'}",
                                 {R"(nullable: Invalid value: "yes": must be true or false)"}));
  EXPECT_TRUE(compile_fails_with("{type: object, required: [a, 1]}",
                                 {"required[1]: Invalid value: 1: must be a string"}));
  EXPECT_TRUE(compile_fails_with("{type: object, required: a}",
                                 {R"(required: Invalid value: "a": must be a list of strings)"}));
  EXPECT_TRUE(compile_fails_with("{type: string, enum: a}",
                                 {R"(enum: Invalid value: "a": must be a list of values)"}));
  EXPECT_TRUE(compile_fails_with("{type: object, properties: [a]}",
                                 {R"(properties: Invalid value: ["a"]: must be an object of schemas)"}));
  EXPECT_TRUE(compile_fails_with("{type: object, properties: {a: 5}}",
                                 {"properties[a]: Invalid value: 5: must be a schema object"}));
  EXPECT_TRUE(compile_fails_with("{type: string, anyOf: {}}",
                                 {"anyOf: Invalid value: {}: must be a list of schemas"}));
  EXPECT_TRUE(compile_fails_with("{type: array, items: [{type: string}]}",
                                 {R"(items: Invalid value: [{"type":"string"}]: must be a schema object)"}));
}

TEST(SchemaCompileTest, EveryProblemIsReported) {
  EXPECT_TRUE(compile_fails_with(
      "{type: object, properties: {a: {type: string, pattern: '['}, b: {type: integer, maximum: x}}}",
      {R"(properties[a].pattern: Invalid value: "[": must be a valid regular expression: missing ]: [)",
       R"(properties[b].maximum: Invalid value: "x": must be a number)"}));
}

TEST(SchemaCompileTest, SchemaMustBeAnObject) {
  EXPECT_TRUE(compile_fails_with("[1]", {"Invalid value: [1]: must be a schema object"}));
}

}  // namespace
}  // namespace riasc::schema
