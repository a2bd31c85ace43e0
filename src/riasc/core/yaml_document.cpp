#include "riasc/core/yaml_document.hpp"

#include <yaml.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

namespace riasc {

void SourceMap::add(const std::string& json_pointer, SourcePosition position) {
  positions_.insert_or_assign(json_pointer, position);
}

void SourceMap::add_key(const std::string& json_pointer, SourcePosition position) {
  key_positions_.insert_or_assign(json_pointer, position);
}

SourcePosition SourceMap::locate_key(const FieldPath& path) const {
  auto found = key_positions_.find(path.json_pointer());
  return found != key_positions_.end() ? found->second : locate(path);
}

SourcePosition SourceMap::locate(const FieldPath& path) const {
  FieldPath at = path;
  while (true) {
    auto found = positions_.find(at.json_pointer());
    if (found != positions_.end()) return found->second;
    if (at.empty()) return {};
    at = at.parent();
  }
}

namespace {

// libyaml (the parser kubectl's go-yaml was ported from) rather than yaml-cpp: yaml-cpp 0.7 loops
// forever on a stray ',' at document level, found by fuzzing.

SourcePosition position_of(const yaml_mark_t& mark) { return {mark.line + 1, mark.column + 1}; }

bool one_of(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::ranges::find(words, text) != words.end();
}

std::optional<Json> parse_integer(std::string text) {
  std::erase(text, '_');
  if (text.empty()) return std::nullopt;
  const bool negative = text[0] == '-';
  std::string digits = (text[0] == '-' || text[0] == '+') ? text.substr(1) : text;
  if (digits.empty()) return std::nullopt;
  int base = 10;
  auto prefixed = [&](char lower) {
    return digits.size() > 2 && digits[0] == '0' &&
           std::tolower(static_cast<unsigned char>(digits[1])) == lower;
  };
  if (prefixed('x')) {
    base = 16;
    digits = digits.substr(2);
  } else if (prefixed('o')) {
    base = 8;
    digits = digits.substr(2);
  } else if (prefixed('b')) {
    base = 2;
    digits = digits.substr(2);
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;  // YAML 1.1 octal, as kubectl reads it
    digits = digits.substr(1);
  }
  for (char c : digits) {
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                         : (c >= '0' && c < static_cast<char>('0' + base));
    if (!ok) return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long magnitude = std::strtoull(digits.c_str(), &end, base);
  if (errno == ERANGE) {
    // Beyond 64 bits: Kubernetes decodes such numbers as floats.
    double approximate = 0;
    for (char c : digits) {
      approximate = approximate * base + std::stoi(std::string(1, c), nullptr, 16);
    }
    return Json(negative ? -approximate : approximate);
  }
  constexpr auto kMaxSigned = static_cast<unsigned long long>(INT64_MAX);
  if (negative) {
    if (magnitude > kMaxSigned + 1ULL) return Json(-static_cast<double>(magnitude));
    return Json(magnitude == kMaxSigned + 1ULL ? INT64_MIN : -static_cast<std::int64_t>(magnitude));
  }
  if (magnitude <= kMaxSigned) return Json(static_cast<std::int64_t>(magnitude));
  return Json(static_cast<std::uint64_t>(magnitude));
}

// [-+]? ( .digits | digits[.digits] ) ( [eE][-+]?digits )?
std::optional<double> parse_float(std::string text) {
  std::erase(text, '_');
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t from = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
    return i - from;
  };
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  std::size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  return std::strtod(text.c_str(), nullptr);
}

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

Json resolve_scalar(const std::string& text, const std::string& tag, bool plain, SourcePosition at) {
  const bool untagged = tag.empty() || tag == "!";
  if (!untagged && !tag.starts_with(kTagPrefix)) return text;  // an application tag: keep the text
  const std::string_view type =
      untagged ? std::string_view() : std::string_view(tag).substr(kTagPrefix.size());
  if (type == "str" || (untagged && !plain)) return text;  // quoted and block scalars are strings
  if (type.empty() || type == "null") {
    if (one_of(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  }
  if (type.empty() || type == "bool") {
    if (one_of(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) return true;
    if (one_of(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}))
      return false;
  }
  if (type.empty() || type == "int" || type == "float") {
    if (one_of(text, {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                      "-.Inf", "-.INF"})) {
      throw YamlError(at, fmt::format("{} cannot be represented in JSON", text));
    }
    if (auto integer = parse_integer(text)) return *integer;
    if (auto number = parse_float(text)) {
      if (!std::isfinite(*number)) throw YamlError(at, fmt::format("{} is out of range for a number", text));
      return *number;
    }
    if (!type.empty()) throw YamlError(at, fmt::format("\"{}\" is not a number", text));
  }
  if (!type.empty() && type != "str") {
    throw YamlError(at, fmt::format("\"{}\" cannot be read as !!{}", text, type));
  }
  return text;
}

std::string as_string(const yaml_char_t* text) {
  return text ? std::string(reinterpret_cast<const char*>(text)) : std::string();
}

class Parser {
 public:
  Parser(std::string_view text, const YamlLimits& limits) : limits_(limits) {
    if (!yaml_parser_initialize(&parser_)) throw YamlError({}, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  ~Parser() {
    release();
    yaml_parser_delete(&parser_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  std::vector<YamlDocument> documents() {
    std::vector<YamlDocument> out;
    expect(next(), YAML_STREAM_START_EVENT);
    while (next().type == YAML_DOCUMENT_START_EVENT) {
      YamlDocument document;
      anchors_.clear();
      nodes_ = 0;
      next();
      document.start = position_of(event_.start_mark);
      document_ = &document;
      document.value = node("", 0);
      expect(next(), YAML_DOCUMENT_END_EVENT);
      // A document that is empty or only comments holds nothing to check, as kubectl sees it.
      if (!document.value.is_null()) out.push_back(std::move(document));
    }
    expect(event_, YAML_STREAM_END_EVENT);
    return out;
  }

 private:
  struct Anchor {
    Json value;
    std::size_t nodes;   // values it holds, each counted again wherever an alias repeats it
    std::size_t height;  // levels below its own
  };

  const yaml_event_t& next() {
    release();
    if (!yaml_parser_parse(&parser_, &event_)) syntax_error();
    has_event_ = true;
    return event_;
  }
  void release() {
    if (has_event_) yaml_event_delete(&event_);
    has_event_ = false;
  }
  void expect(const yaml_event_t& event, yaml_event_type_t type) {
    if (event.type != type) throw YamlError(position_of(event.start_mark), "unexpected YAML structure");
  }

  [[noreturn]] void syntax_error() {
    SourcePosition at = position_of(parser_.problem_mark);
    std::string message = parser_.problem ? parser_.problem : "invalid YAML";
    if (parser_.context) {
      message += fmt::format(" ({} at line {})", parser_.context, parser_.context_mark.line + 1);
    }
    throw YamlError(at, message);
  }

  // Counts `nodes` values whose deepest lies at `depth` against the limits.
  void count(SourcePosition at, std::size_t depth, std::size_t nodes = 1) {
    nodes_ += nodes;
    deepest_ = std::max(deepest_, depth);
    if (nodes_ > limits_.max_nodes) {
      throw YamlError(
          at, fmt::format("document has more than {} values (after expanding aliases)", limits_.max_nodes));
    }
    if (depth > limits_.max_depth) {
      throw YamlError(at, fmt::format("document nests deeper than {} levels", limits_.max_depth));
    }
  }

  // Reads the node whose first event is the current one; records positions under `pointer`.
  Json node(const std::string& pointer, std::size_t depth) {
    SourcePosition at = position_of(event_.start_mark);
    document_->positions.add(pointer, at);
    if (event_.type == YAML_ALIAS_EVENT) return alias(at, depth);
    const std::size_t nodes_before = nodes_;
    const std::size_t deepest_before = deepest_;
    deepest_ = depth;
    count(at, depth);
    Json value;
    std::string anchor;
    switch (event_.type) {
      case YAML_SCALAR_EVENT: {
        anchor = as_string(event_.data.scalar.anchor);
        std::string text(reinterpret_cast<const char*>(event_.data.scalar.value), event_.data.scalar.length);
        value = resolve_scalar(text, as_string(event_.data.scalar.tag),
                               event_.data.scalar.style == YAML_PLAIN_SCALAR_STYLE, at);
        break;
      }
      case YAML_SEQUENCE_START_EVENT: {
        anchor = as_string(event_.data.sequence_start.anchor);
        value = Json::array();
        while (next().type != YAML_SEQUENCE_END_EVENT) {
          value.push_back(node(fmt::format("{}/{}", pointer, value.size()), depth + 1));
        }
        break;
      }
      case YAML_MAPPING_START_EVENT:
        anchor = as_string(event_.data.mapping_start.anchor);
        value = mapping(pointer, depth);
        break;
      default:
        throw YamlError(at, "unexpected YAML structure");
    }
    if (!anchor.empty()) anchors_[anchor] = {value, nodes_ - nodes_before, deepest_ - depth};
    deepest_ = std::max(deepest_, deepest_before);
    return value;
  }

  // An alias stands for a copy of its anchor's value: it counts as that many values, as deep.
  Json alias(SourcePosition at, std::size_t depth) {
    auto found = anchors_.find(as_string(event_.data.alias.anchor));
    if (found == anchors_.end()) {
      throw YamlError(at, fmt::format("unknown anchor \"{}\"", as_string(event_.data.alias.anchor)));
    }
    count(at, depth + found->second.height, found->second.nodes);
    return found->second.value;
  }

  Json mapping(const std::string& pointer, std::size_t depth) {
    Json object = Json::object();
    Json merged = Json::object();  // from "<<" merge keys; explicit keys win
    while (next().type != YAML_MAPPING_END_EVENT) {
      SourcePosition key_at = position_of(event_.start_mark);
      if (event_.type != YAML_SCALAR_EVENT) {
        throw YamlError(key_at, "mapping keys must be strings, numbers or booleans");
      }
      std::string key(reinterpret_cast<const char*>(event_.data.scalar.value), event_.data.scalar.length);
      const bool merge = key == "<<" && event_.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      if (!merge && object.contains(key)) throw YamlError(key_at, fmt::format("duplicate key \"{}\"", key));
      std::string member_pointer = pointer + "/" + escape_json_pointer_token(key);
      next();
      Json value = node(merge ? pointer + "/<<" : member_pointer, depth + 1);
      if (merge) {
        merge_into(merged, value, key_at);
        continue;
      }
      // Errors about a scalar point at the value; about a collection, at its key.
      if (!value.is_primitive()) document_->positions.add(member_pointer, key_at);
      document_->positions.add_key(member_pointer, key_at);
      object[key] = std::move(value);
    }
    for (auto& [key, value] : merged.items()) {
      if (!object.contains(key)) object[key] = std::move(value);
    }
    return object;
  }

  static void merge_into(Json& merged, const Json& value, SourcePosition at) {
    auto take = [&](const Json& source) {
      if (!source.is_object()) throw YamlError(at, "a << merge key takes a mapping or a list of mappings");
      for (const auto& [key, member] : source.items()) {
        if (!merged.contains(key)) merged[key] = member;
      }
    };
    if (value.is_array()) {
      for (const auto& item : value) take(item);
    } else {
      take(value);
    }
  }

  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool has_event_ = false;
  const YamlLimits& limits_;
  YamlDocument* document_ = nullptr;
  std::unordered_map<std::string, Anchor> anchors_;
  std::size_t nodes_ = 0;
  std::size_t deepest_ = 0;
};

// The parser's messages name its state; say what the author most likely did.
std::string explain(std::string_view text, SourcePosition at, const std::string& message) {
  std::string_view line;
  std::size_t start = 0;
  for (std::size_t n = 1; n < at.line && start != std::string_view::npos; ++n) {
    start = text.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (at.line > 0 && start != std::string_view::npos)
    line = text.substr(start, text.find('\n', start) - start);
  if (line.substr(0, line.find_first_not_of(" \t")).find('\t') != std::string_view::npos) {
    return message + "; this line is indented with a tab, and YAML allows only spaces";
  }
  if (message.starts_with("mapping values are not allowed")) {
    return message +
           "; a key is indented differently from its siblings, or a value contains an unquoted \": \"";
  }
  return message;
}

}  // namespace

std::vector<YamlDocument> parse_yaml_stream(std::string_view text, const YamlLimits& limits) {
  try {
    return Parser(text, limits).documents();
  } catch (const YamlError& error) {
    throw YamlError(error.position(), explain(text, error.position(), error.what()));
  }
}

}  // namespace riasc
