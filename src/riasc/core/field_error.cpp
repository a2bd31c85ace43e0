#include "riasc/core/field_error.hpp"

#include <fmt/format.h>

namespace riasc {

namespace {

constexpr std::size_t kMaxRenderedValue = 80;

}  // namespace

std::string escape_json_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

FieldPath FieldPath::parse_dotted(std::string_view dotted) {
  FieldPath path;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    path = path.child(dotted.substr(0, dot));
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  return path;
}

FieldPath FieldPath::child(std::string_view name) const {
  FieldPath out = *this;
  out.segments_.emplace_back(Field{std::string(name)});
  return out;
}

FieldPath FieldPath::key(std::string_view key) const {
  FieldPath out = *this;
  out.segments_.emplace_back(Key{std::string(key)});
  return out;
}

FieldPath FieldPath::index(std::size_t i) const {
  FieldPath out = *this;
  out.segments_.emplace_back(i);
  return out;
}

FieldPath FieldPath::parent() const {
  FieldPath out = *this;
  if (!out.segments_.empty()) out.segments_.pop_back();
  return out;
}

FieldPath FieldPath::join(const FieldPath& tail) const {
  FieldPath out = *this;
  out.segments_.insert(out.segments_.end(), tail.segments_.begin(), tail.segments_.end());
  return out;
}

std::string FieldPath::to_string() const {
  std::string out;
  for (const auto& segment : segments_) {
    if (const auto* field = std::get_if<Field>(&segment)) {
      if (!out.empty()) out += '.';
      out += field->name;
    } else if (const auto* key = std::get_if<Key>(&segment)) {
      out += fmt::format("[{}]", key->key);
    } else {
      out += fmt::format("[{}]", std::get<std::size_t>(segment));
    }
  }
  return out;
}

std::string FieldPath::json_pointer() const {
  std::string out;
  for (const auto& segment : segments_) {
    out += '/';
    if (const auto* field = std::get_if<Field>(&segment)) {
      out += escape_json_pointer_token(field->name);
    } else if (const auto* key = std::get_if<Key>(&segment)) {
      out += escape_json_pointer_token(key->key);
    } else {
      out += std::to_string(std::get<std::size_t>(segment));
    }
  }
  return out;
}

std::string render_value(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kMaxRenderedValue) {
    std::size_t cut = kMaxRenderedValue - 3;
    // Never cut inside a UTF-8 character: back up over continuation bytes (10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
    text.resize(cut);
    text += "...";
  }
  return text;
}

std::string FieldError::to_string() const {
  std::string what;
  switch (type) {
    case Type::Required:
      what = "Required value";
      break;
    case Type::Invalid:
      what = fmt::format("Invalid value: {}", render_value(value));
      break;
    case Type::NotSupported:
      what = fmt::format("Unsupported value: {}", render_value(value));
      break;
    case Type::Duplicate:
      what = fmt::format("Duplicate value: {}", render_value(value));
      break;
    case Type::TooLong:
      what = "Too long";
      break;
    case Type::TooMany:
      what = fmt::format("Too many: {}", render_value(value));
      break;
    case Type::Forbidden:
      what = "Forbidden";
      break;
    case Type::Unknown:
      what = "Unknown field";
      break;
  }
  if (!detail.empty()) what = fmt::format("{}: {}", what, detail);
  if (path.empty()) return what;
  return fmt::format("{}: {}", path.to_string(), what);
}

}  // namespace riasc
