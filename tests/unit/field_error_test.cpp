#include "riasc/core/field_error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "test_support.hpp"

namespace riasc {
namespace {

// Whether `text` is well-formed UTF-8 (no truncated or stray continuation bytes).
bool is_valid_utf8(const std::string& text) {
  std::size_t pending = 0;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (pending > 0) {
      if ((byte & 0xC0U) != 0x80U) return false;
      --pending;
    } else if ((byte & 0x80U) == 0) {
      continue;
    } else if ((byte & 0xE0U) == 0xC0U) {
      pending = 1;
    } else if ((byte & 0xF0U) == 0xE0U) {
      pending = 2;
    } else if ((byte & 0xF8U) == 0xF0U) {
      pending = 3;
    } else {
      return false;
    }
  }
  return pending == 0;
}

FieldPath egress_port_path() {
  return FieldPath().child("spec").child("egress").index(0).child("ports").index(1).child("port");
}

// ---------------------------------------------------------------------------------------------
// FieldPath

TEST(FieldPathTest, EmptyPathPrintsAsEmptyStrings) {
  FieldPath path;
  EXPECT_TRUE(path.empty());
  EXPECT_EQ(path.to_string(), "");
  EXPECT_EQ(path.json_pointer(), "");
}

TEST(FieldPathTest, FieldsAndIndicesPrintAsKubernetesDoes) {
  const FieldPath path = egress_port_path();
  EXPECT_FALSE(path.empty());
  EXPECT_EQ(path.to_string(), "spec.egress[0].ports[1].port");
  EXPECT_EQ(path.json_pointer(), "/spec/egress/0/ports/1/port");
}

TEST(FieldPathTest, MapKeysPrintInBracketsAndAsPointerMembers) {
  const FieldPath path = FieldPath().child("spec").child("nodeSelector").key("riasc.eu/lab");
  EXPECT_EQ(path.to_string(), "spec.nodeSelector[riasc.eu/lab]");
  EXPECT_EQ(path.json_pointer(), "/spec/nodeSelector/riasc.eu~1lab");
}

TEST(FieldPathTest, SchemaPathsMixFieldsAndKeys) {
  const FieldPath path = FieldPath::parse_dotted("spec.versions")
                             .index(0)
                             .child("schema")
                             .child("openAPIV3Schema")
                             .child("properties")
                             .key("spec")
                             .child("type");
  EXPECT_EQ(path.to_string(), "spec.versions[0].schema.openAPIV3Schema.properties[spec].type");
  EXPECT_EQ(path.json_pointer(), "/spec/versions/0/schema/openAPIV3Schema/properties/spec/type");
}

TEST(FieldPathTest, PathMayStartWithAnIndexOrAKey) {
  EXPECT_EQ(FieldPath().index(2).child("name").to_string(), "[2].name");
  EXPECT_EQ(FieldPath().key("app").to_string(), "[app]");
  EXPECT_EQ(FieldPath().index(2).child("name").json_pointer(), "/2/name");
}

TEST(FieldPathTest, JsonPointerEscapesTildeBeforeSlash) {
  EXPECT_EQ(escape_json_pointer_token("a~b/c"), "a~0b~1c");
  // "~1" written literally must not turn into "/" when read back: ~ is escaped first.
  EXPECT_EQ(escape_json_pointer_token("~1"), "~01");
  EXPECT_EQ(escape_json_pointer_token("/~"), "~1~0");
  EXPECT_EQ(escape_json_pointer_token("plain"), "plain");
  EXPECT_EQ(escape_json_pointer_token(""), "");
  EXPECT_EQ(FieldPath().child("a/b").key("c~d").json_pointer(), "/a~1b/c~0d");
  // The dotted form is for people and is not escaped.
  EXPECT_EQ(FieldPath().child("a/b").key("c~d").to_string(), "a/b[c~d]");
}

TEST(FieldPathTest, ParseDottedMakesFieldSegments) {
  const FieldPath path = FieldPath::parse_dotted("spec.parameters.netem.loss_ratio");
  ASSERT_EQ(path.segments().size(), 4U);
  for (const auto& segment : path.segments()) {
    EXPECT_TRUE(std::holds_alternative<FieldPath::Field>(segment));
  }
  EXPECT_EQ(path, FieldPath().child("spec").child("parameters").child("netem").child("loss_ratio"));
  EXPECT_EQ(path.to_string(), "spec.parameters.netem.loss_ratio");
  EXPECT_EQ(FieldPath::parse_dotted("spec"), FieldPath().child("spec"));
  EXPECT_TRUE(FieldPath::parse_dotted("").empty());
}

TEST(FieldPathTest, SegmentKindsAreDistinct) {
  // A field, a key and an index with the same spelling are different paths.
  EXPECT_NE(FieldPath().child("0"), FieldPath().key("0"));
  EXPECT_NE(FieldPath().key("0"), FieldPath().index(0));
  EXPECT_EQ(FieldPath().key("0").to_string(), FieldPath().index(0).to_string());
  const FieldPath path = FieldPath().child("a").key("b").index(3);
  const auto& segments = path.segments();
  ASSERT_EQ(segments.size(), 3U);
  EXPECT_EQ(std::get<FieldPath::Field>(segments[0]).name, "a");
  EXPECT_EQ(std::get<FieldPath::Key>(segments[1]).key, "b");
  EXPECT_EQ(std::get<std::size_t>(segments[2]), 3U);
}

TEST(FieldPathTest, ParentDropsTheLastSegment) {
  const FieldPath path = egress_port_path();
  EXPECT_EQ(path.parent().to_string(), "spec.egress[0].ports[1]");
  EXPECT_EQ(path.parent().parent().to_string(), "spec.egress[0].ports");
  EXPECT_EQ(FieldPath().child("spec").parent(), FieldPath());
  EXPECT_EQ(FieldPath().parent(), FieldPath());  // the root has no parent: stays the root
}

TEST(FieldPathTest, BuildersDoNotModifyTheOriginal) {
  const FieldPath spec = FieldPath().child("spec");
  const FieldPath child = spec.child("type");
  (void)spec.key("k");
  (void)spec.index(1);
  EXPECT_EQ(spec.to_string(), "spec");
  EXPECT_EQ(child.to_string(), "spec.type");
}

TEST(FieldPathTest, JoinAppendsTheTailsSegments) {
  const FieldPath prefix = FieldPath().child("items").index(3);
  const FieldPath tail = FieldPath::parse_dotted("spec.podSelector").key("app");
  const FieldPath joined = prefix.join(tail);
  EXPECT_EQ(joined.to_string(), "items[3].spec.podSelector[app]");
  EXPECT_EQ(joined.json_pointer(), "/items/3/spec/podSelector/app");
  EXPECT_EQ(prefix.join(FieldPath()), prefix);
  EXPECT_EQ(FieldPath().join(tail), tail);
  EXPECT_EQ(prefix.to_string(), "items[3]");  // unchanged
}

// ---------------------------------------------------------------------------------------------
// FieldError

FieldError error(FieldError::Type type, const FieldPath& path, Json value, std::string detail) {
  return FieldError{type, path, std::move(value), std::move(detail)};
}

TEST(FieldErrorTest, RequiredValue) {
  EXPECT_EQ(
      error(FieldError::Type::Required, FieldPath::parse_dotted("spec.podSelector"), nullptr, "").to_string(),
      "spec.podSelector: Required value");
  EXPECT_EQ(error(FieldError::Type::Required, FieldPath::parse_dotted("metadata.name"), nullptr,
                  "name or generateName is required")
                .to_string(),
            "metadata.name: Required value: name or generateName is required");
}

TEST(FieldErrorTest, InvalidValue) {
  EXPECT_EQ(error(FieldError::Type::Invalid, FieldPath::parse_dotted("spec.parameters.netem.loss_ratio"), 1.5,
                  "must be less than or equal to 1")
                .to_string(),
            "spec.parameters.netem.loss_ratio: Invalid value: 1.5: must be less than or equal to 1");
  EXPECT_EQ(
      error(FieldError::Type::Invalid, FieldPath().child("x"), "abc", "must be of type integer").to_string(),
      R"(x: Invalid value: "abc": must be of type integer)");
  EXPECT_EQ(error(FieldError::Type::Invalid, FieldPath().child("x"), nullptr, "").to_string(),
            "x: Invalid value: null");
}

TEST(FieldErrorTest, UnsupportedValue) {
  EXPECT_EQ(error(FieldError::Type::NotSupported, FieldPath::parse_dotted("spec.type"), "Foo",
                  R"(supported values: "Builtin", "Flexe")")
                .to_string(),
            R"(spec.type: Unsupported value: "Foo": supported values: "Builtin", "Flexe")");
}

TEST(FieldErrorTest, DuplicateValue) {
  EXPECT_EQ(error(FieldError::Type::Duplicate, FieldPath::parse_dotted("spec.users").index(1), "jane", "")
                .to_string(),
            R"(spec.users[1]: Duplicate value: "jane")");
  EXPECT_EQ(error(FieldError::Type::Duplicate, FieldPath::parse_dotted("status.conditions").index(2),
                  Json{{"type", "Ready"}}, "")
                .to_string(),
            R"(status.conditions[2]: Duplicate value: {"type":"Ready"})");
}

TEST(FieldErrorTest, TooLongOmitsTheValue) {
  EXPECT_EQ(error(FieldError::Type::TooLong, FieldPath().child("name"), std::string(300, 'a'),
                  "may not be longer than 253 characters")
                .to_string(),
            "name: Too long: may not be longer than 253 characters");
}

TEST(FieldErrorTest, TooMany) {
  EXPECT_EQ(error(FieldError::Type::TooMany, FieldPath::parse_dotted("spec.segments"), 2,
                  "must have at most 1 item")
                .to_string(),
            "spec.segments: Too many: 2: must have at most 1 item");
}

TEST(FieldErrorTest, Forbidden) {
  EXPECT_EQ(error(FieldError::Type::Forbidden, FieldPath().child("x"), 1, "may not be set").to_string(),
            "x: Forbidden: may not be set");
  EXPECT_EQ(error(FieldError::Type::Forbidden, FieldPath().child("x"), nullptr, "").to_string(),
            "x: Forbidden");
}

TEST(FieldErrorTest, UnknownField) {
  EXPECT_EQ(
      error(FieldError::Type::Unknown, FieldPath::parse_dotted("spec.parameters.netem.lose_ratio"), nullptr,
            R"(not declared in the schema; did you mean "loss_ratio"?)")
          .to_string(),
      R"(spec.parameters.netem.lose_ratio: Unknown field: not declared in the schema; did you mean "loss_ratio"?)");
  EXPECT_EQ(error(FieldError::Type::Unknown, FieldPath().child("x"), nullptr, "").to_string(),
            "x: Unknown field");
}

TEST(FieldErrorTest, EmptyPathHasNoPrefix) {
  EXPECT_EQ(error(FieldError::Type::Invalid, {}, Json::array({1, 2}), "must be an object").to_string(),
            "Invalid value: [1,2]: must be an object");
  EXPECT_EQ(error(FieldError::Type::Required, {}, nullptr, "").to_string(), "Required value");
}

TEST(FieldErrorTest, DefaultConstructedIsAnInvalidNullAtTheRoot) {
  FieldError e;
  EXPECT_EQ(e.type, FieldError::Type::Invalid);
  EXPECT_EQ(e.to_string(), "Invalid value: null");
}

// ---------------------------------------------------------------------------------------------
// render_value

TEST(RenderValueTest, ScalarsRenderAsCompactJson) {
  EXPECT_EQ(render_value(1.5), "1.5");
  EXPECT_EQ(render_value(70000), "70000");
  EXPECT_EQ(render_value(-3), "-3");
  EXPECT_EQ(render_value(true), "true");
  EXPECT_EQ(render_value(nullptr), "null");
  EXPECT_EQ(render_value("Foo"), R"("Foo")");
  EXPECT_EQ(render_value("a\"b\n"), R"("a\"b\n")");
}

TEST(RenderValueTest, NonAsciiIsKeptReadable) { EXPECT_EQ(render_value("20µs"), "\"20µs\""); }

TEST(RenderValueTest, CollectionsRenderOnOneLineInDocumentOrder) {
  Json object = Json::object();
  object["z"] = 1;
  object["a"] = Json::array({true, nullptr, "x"});
  EXPECT_EQ(render_value(object), R"({"z":1,"a":[true,null,"x"]})");
  EXPECT_EQ(render_value(Json::array()), "[]");
  EXPECT_EQ(render_value(Json::object()), "{}");
}

TEST(RenderValueTest, ValuesUpTo80CharactersAreNotShortened) {
  const std::string value(78, 'x');  // 80 characters with the quotes
  EXPECT_EQ(render_value(value), "\"" + value + "\"");
}

TEST(RenderValueTest, LongerValuesAreCutTo80CharactersEndingInEllipsis) {
  const std::string rendered = render_value(std::string(79, 'x'));  // 81 with the quotes
  EXPECT_EQ(rendered, "\"" + std::string(76, 'x') + "...");
  EXPECT_EQ(rendered.size(), 80U);
  EXPECT_EQ(render_value(std::string(1000, 'y')), "\"" + std::string(76, 'y') + "...");
  Json list = Json::array();
  for (int i = 0; i < 100; ++i) list.push_back(i);
  const std::string rendered_list = render_value(list);
  EXPECT_EQ(rendered_list.size(), 80U);
  EXPECT_EQ(rendered_list.substr(0, 10), "[0,1,2,3,4");
  EXPECT_EQ(rendered_list.substr(77), "...");
}

TEST(RenderValueTest, ShorteningKeepsUtf8CharactersWhole) {
  // 30 three-byte characters: 92 bytes with the quotes. Byte 77 falls inside the 26th "€".
  std::string euros;
  for (int i = 0; i < 30; ++i) euros += "€";
  const std::string rendered = render_value(euros);
  EXPECT_TRUE(is_valid_utf8(rendered)) << rendered;
  EXPECT_EQ(rendered, "\"" + euros.substr(0, 25 * 3) + "...");
}

}  // namespace
}  // namespace riasc
