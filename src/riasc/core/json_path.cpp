#include "riasc/core/json_path.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <utility>

namespace riasc {

namespace detail {

struct Filter;

struct Step {
  enum class Kind { Field, Index, Wildcard, Filter };
  Kind kind = Kind::Field;
  std::string field;
  std::int64_t index = 0;
  std::shared_ptr<const Filter> filter;
};

struct Operand {
  bool is_path = false;
  std::vector<Step> path;  // from the element being filtered (`@`; Kubernetes treats `$` alike)
  Json literal;
};

enum class Op { Exists, Eq, Ne, Lt, Gt, Le, Ge };

struct Filter {
  Operand left;
  Op op = Op::Exists;
  Operand right;
};

struct JsonPathProgram {
  std::vector<Step> steps;
};

}  // namespace detail

namespace {

using detail::Filter;
using detail::Op;
using detail::Operand;
using detail::Step;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_operator_char(char c) { return c == '=' || c == '!' || c == '<' || c == '>'; }

// Kubernetes' parser ends a field name at these (jsonpath/parser.go isTerminator); inside a
// filter the comparison operators and parentheses end it too.
bool ends_field(char c, bool in_filter) {
  if (is_space(c)) return true;
  switch (c) {
    case '.':
    case ',':
    case '[':
    case ']':
    case '$':
    case '@':
    case '{':
    case '}':
      return true;
    default:
      return in_filter && (is_operator_char(c) || c == '(' || c == ')');
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::vector<Step> parse() {
    if (text_.empty()) fail(0, "the path is empty; use '.' for the whole object");
    std::size_t pos = 0;
    if (text_[0] == '$') {
      pos = 1;
    } else if (text_[0] == '{') {
      fail(0, "templates ({...}) are not supported: give the path alone, e.g. .spec.replicas");
    } else if (text_[0] != '.' && text_[0] != '[') {
      fail(0, "a path starts with '.', '[' or '$', e.g. .spec.replicas");
    }
    if (text_ == "." || text_ == "$" || text_ == "$.") return {};
    std::vector<Step> steps = parse_steps(pos, text_.size(), false);
    return steps;
  }

 private:
  [[noreturn]] void fail(std::size_t pos, std::string_view what) const {
    throw JsonPathError(fmt::format("invalid JSONPath \"{}\" at position {}: {}", text_, pos, what));
  }

  // Steps from `pos` up to `end`. Inside a filter operand, stops (without error) at what may
  // follow an operand; the caller checks that nothing is left.
  std::vector<Step> parse_steps(std::size_t& pos, std::size_t end, bool in_filter) {
    std::vector<Step> steps;
    while (pos < end) {
      char c = text_[pos];
      if (c == '.') {
        if (pos + 1 >= end) fail(pos, "a path must not end with '.'");
        char next = text_[pos + 1];
        if (next == '.') fail(pos, "recursive descent (..) is not supported");
        if (next == '*') {
          steps.push_back(Step{Step::Kind::Wildcard, {}, 0, nullptr});
          pos += 2;
          continue;
        }
        if (next == '[') {
          ++pos;
          continue;
        }
        ++pos;
        steps.push_back(Step{Step::Kind::Field, parse_field_name(pos, end, in_filter), 0, nullptr});
        continue;
      }
      if (c == '[') {
        steps.push_back(parse_bracket(pos, end));
        continue;
      }
      if (in_filter && (is_space(c) || is_operator_char(c))) break;
      switch (c) {
        case ',':
          fail(pos, "unions (,) are not supported");
        case '{':
        case '}':
          fail(pos, "templates ({...}) are not supported: give the path alone, e.g. .spec.replicas");
        case ']':
          fail(pos, "']' without '['");
        default:
          fail(pos, fmt::format("unexpected '{}'", c));
      }
    }
    return steps;
  }

  std::string parse_field_name(std::size_t& pos, std::size_t end, bool in_filter) {
    std::string name;
    std::size_t start = pos;
    while (pos < end && !ends_field(text_[pos], in_filter)) {
      if (text_[pos] == '\\') {
        if (pos + 1 >= end) fail(pos, "'\\' at the end of the path escapes nothing");
        ++pos;
      }
      name += text_[pos];
      ++pos;
    }
    if (name.empty()) fail(start, "expected a field name after '.'");
    return name;
  }

  // A quoted string starting at pos (the quote), with backslash escapes; pos ends after it.
  std::string parse_quoted(std::size_t& pos, std::size_t end) {
    char quote = text_[pos];
    std::size_t start = pos;
    ++pos;
    std::string out;
    while (pos < end && text_[pos] != quote) {
      if (text_[pos] == '\\' && pos + 1 < end) ++pos;
      out += text_[pos];
      ++pos;
    }
    if (pos >= end) fail(start, fmt::format("unterminated string: missing closing {}", quote));
    ++pos;
    return out;
  }

  void expect_close(std::size_t& pos, std::size_t end) {
    if (pos >= end) fail(pos, "unterminated '[': missing ']'");
    if (text_[pos] == ',') fail(pos, "unions (,) are not supported");
    if (text_[pos] == ':') fail(pos, "slices ([a:b]) are not supported");
    if (text_[pos] != ']') fail(pos, "expected ']'");
    ++pos;
  }

  Step parse_bracket(std::size_t& pos, std::size_t end) {
    std::size_t open = pos;
    ++pos;
    if (pos >= end) fail(open, "unterminated '[': missing ']'");
    char c = text_[pos];
    if (c == '*') {
      ++pos;
      expect_close(pos, end);
      return Step{Step::Kind::Wildcard, {}, 0, nullptr};
    }
    if (c == '\'' || c == '"') {
      std::string key = parse_quoted(pos, end);
      expect_close(pos, end);
      return Step{Step::Kind::Field, std::move(key), 0, nullptr};
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::int64_t index = 0;
      auto [ptr, ec] = std::from_chars(text_.data() + pos, text_.data() + end, index);
      if (ec != std::errc()) fail(pos, "expected an array index");
      pos = static_cast<std::size_t>(ptr - text_.data());
      expect_close(pos, end);
      return Step{Step::Kind::Index, {}, index, nullptr};
    }
    if (c == ':') fail(pos, "slices ([a:b]) are not supported");
    if (c == ']') fail(open, "empty brackets: expected an index, '*', a quoted key or ?(filter)");
    if (c == '?') {
      if (pos + 1 >= end || text_[pos + 1] != '(') fail(pos, "a filter is written [?(...)]");
      std::size_t inner_begin = pos + 2;
      std::size_t close = find_filter_end(inner_begin, end, open);
      auto filter = std::make_shared<Filter>(parse_filter(inner_begin, close));
      pos = close + 2;  // past ")]"
      return Step{Step::Kind::Filter, {}, 0, std::move(filter)};
    }
    fail(pos, "expected an index, '*', a quoted key or ?(filter) inside [...]");
  }

  // Position of the ')' that closes the filter opened at `open`, which must be followed by ']'.
  std::size_t find_filter_end(std::size_t pos, std::size_t end, std::size_t open) const {
    int depth = 0;
    char quote = 0;
    for (; pos < end; ++pos) {
      char c = text_[pos];
      if (quote != 0) {
        if (c == '\\') {
          ++pos;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth == 0) {
          if (pos + 1 >= end || text_[pos + 1] != ']') fail(pos, "a filter is written [?(...)]");
          return pos;
        }
        --depth;
      }
    }
    fail(open, "unterminated filter: missing ')]'");
  }

  static std::size_t skip_spaces(std::string_view text, std::size_t pos, std::size_t end) {
    while (pos < end && is_space(text[pos])) ++pos;
    return pos;
  }

  // Tracks quoted strings while scanning: true when `c` (at `pos`) belongs to a quote or opens
  // one; a backslash inside quotes skips the next character.
  [[nodiscard]] static bool quoted(char c, char& quote, std::size_t& pos) {
    if (quote != 0) {
      if (c == '\\') {
        ++pos;
      } else if (c == quote) {
        quote = 0;
      }
      return true;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      return true;
    }
    return false;
  }

  Filter parse_filter(std::size_t begin, std::size_t end) {
    // The first operator outside quotes splits the filter, as Kubernetes' regular expression
    // ^([^!<>=]+)([!<>=]+)(.+?)$ does.
    std::size_t op_begin = end;
    char quote = 0;
    for (std::size_t pos = begin; pos < end; ++pos) {
      char c = text_[pos];
      if (quoted(c, quote, pos)) {
        continue;
      }
      if (c == '[') {
        // Skip over a nested [...] (indexes and nested filters) so its operators stay inside.
        int depth = 1;
        char inner_quote = 0;
        for (++pos; pos < end && depth > 0; ++pos) {
          char d = text_[pos];
          if (quoted(d, inner_quote, pos)) {
            continue;
          }
          if (d == '[') {
            ++depth;
          } else if (d == ']') {
            --depth;
          }
        }
        --pos;
      } else if (is_operator_char(c)) {
        op_begin = pos;
        break;
      }
    }
    Filter filter;
    if (op_begin == end) {
      filter.left = parse_operand(begin, end);
      if (!filter.left.is_path) fail(begin, "a filter without comparison tests a path: [?(@.field)]");
      filter.op = Op::Exists;
      return filter;
    }
    std::size_t op_end = op_begin;
    while (op_end < end && is_operator_char(text_[op_end])) ++op_end;
    std::string_view op = text_.substr(op_begin, op_end - op_begin);
    if (op == "==") {
      filter.op = Op::Eq;
    } else if (op == "!=") {
      filter.op = Op::Ne;
    } else if (op == "<") {
      filter.op = Op::Lt;
    } else if (op == ">") {
      filter.op = Op::Gt;
    } else if (op == "<=") {
      filter.op = Op::Le;
    } else if (op == ">=") {
      filter.op = Op::Ge;
    } else {
      fail(op_begin, fmt::format("unsupported filter operator '{}'; use ==, !=, <, <=, > or >=", op));
    }
    filter.left = parse_operand(begin, op_begin);
    filter.right = parse_operand(op_end, end);
    return filter;
  }

  Operand parse_operand(std::size_t begin, std::size_t end) {
    std::size_t pos = skip_spaces(text_, begin, end);
    while (end > pos && is_space(text_[end - 1])) --end;
    if (pos >= end) fail(begin, "missing operand in filter");
    Operand operand;
    char c = text_[pos];
    if (c == '@' || c == '$') {
      ++pos;
      operand.is_path = true;
      operand.path = parse_steps(pos, end, true);
      if (pos != end) fail(pos, fmt::format("unexpected '{}' in filter", text_[pos]));
      return operand;
    }
    if (c == '\'' || c == '"') {
      operand.literal = parse_quoted(pos, end);
      if (pos != end) fail(pos, "unexpected text after the string in filter");
      return operand;
    }
    std::string_view word = text_.substr(pos, end - pos);
    if (word == "true" || word == "false") {
      operand.literal = word == "true";
      return operand;
    }
    std::int64_t integer = 0;
    auto [int_end, int_ec] = std::from_chars(word.data(), word.data() + word.size(), integer);
    if (int_ec == std::errc() && int_end == word.data() + word.size()) {
      operand.literal = integer;
      return operand;
    }
    double number = 0;
    auto [num_end, num_ec] = std::from_chars(word.data(), word.data() + word.size(), number);
    if (num_ec == std::errc() && num_end == word.data() + word.size()) {
      operand.literal = number;
      return operand;
    }
    fail(pos, "a filter operand is @.path, a quoted string, a number, true or false");
  }

  std::string_view text_;
};

std::vector<const Json*> run(const std::vector<Step>& steps, const Json& start);

// -1, 0 or 1; nullopt when the values cannot be compared (different kinds, containers, null).
std::optional<int> compare(const Json& a, const Json& b) {
  auto sign = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (a.is_number() && b.is_number()) {
    if (a.is_number_integer() && b.is_number_integer()) {
      bool a_neg = !a.is_number_unsigned() && a.get<std::int64_t>() < 0;
      bool b_neg = !b.is_number_unsigned() && b.get<std::int64_t>() < 0;
      if (a_neg != b_neg) return a_neg ? -1 : 1;
      if (a_neg) return sign(a.get<std::int64_t>(), b.get<std::int64_t>());
      return sign(a.get<std::uint64_t>(), b.get<std::uint64_t>());
    }
    return sign(a.get<double>(), b.get<double>());
  }
  if (a.is_string() && b.is_string())
    return sign(a.get_ref<const std::string&>(), b.get_ref<const std::string&>());
  if (a.is_boolean() && b.is_boolean()) return sign(a.get<bool>(), b.get<bool>());
  return std::nullopt;
}

// The single value of an operand for one element, or nullptr (no value, or more than one).
const Json* operand_value(const Operand& operand, const Json& element) {
  if (!operand.is_path) return &operand.literal;
  auto values = run(operand.path, element);
  return values.size() == 1 ? values.front() : nullptr;
}

bool passes(const Filter& filter, const Json& element) {
  if (filter.op == Op::Exists) return !run(filter.left.path, element).empty();
  const Json* left = operand_value(filter.left, element);
  const Json* right = operand_value(filter.right, element);
  if (left == nullptr || right == nullptr) return false;
  auto order = compare(*left, *right);
  if (!order) return false;
  if (left->is_boolean() && filter.op != Op::Eq && filter.op != Op::Ne) return false;
  switch (filter.op) {
    case Op::Eq:
      return *order == 0;
    case Op::Ne:
      return *order != 0;
    case Op::Lt:
      return *order < 0;
    case Op::Gt:
      return *order > 0;
    case Op::Le:
      return *order <= 0;
    case Op::Ge:
      return *order >= 0;
    case Op::Exists:
      break;
  }
  return false;
}

void apply(const Step& step, const Json& value, std::vector<const Json*>& out) {
  switch (step.kind) {
    case Step::Kind::Field:
      if (value.is_object()) {
        if (auto it = value.find(step.field); it != value.end()) out.push_back(&*it);
      }
      return;
    case Step::Kind::Index: {
      if (!value.is_array()) return;
      auto size = static_cast<std::int64_t>(value.size());
      std::int64_t index = step.index < 0 ? step.index + size : step.index;
      if (index >= 0 && index < size) out.push_back(&value[static_cast<std::size_t>(index)]);
      return;
    }
    case Step::Kind::Wildcard:
      if (value.is_array() || value.is_object()) {
        for (const auto& element : value) out.push_back(&element);
      }
      return;
    case Step::Kind::Filter:
      if (!value.is_array()) return;
      for (const auto& element : value) {
        if (passes(*step.filter, element)) out.push_back(&element);
      }
      return;
  }
}

std::vector<const Json*> run(const std::vector<Step>& steps, const Json& start) {
  std::vector<const Json*> current{&start};
  for (const auto& step : steps) {
    std::vector<const Json*> next;
    for (const Json* value : current) apply(step, *value, next);
    current = std::move(next);
    if (current.empty()) break;
  }
  return current;
}

}  // namespace

JsonPath::JsonPath(std::string text, std::shared_ptr<const detail::JsonPathProgram> program)
    : text_(std::move(text)), program_(std::move(program)) {}

JsonPath JsonPath::parse(std::string_view text) {
  auto program = std::make_shared<detail::JsonPathProgram>();
  program->steps = Parser(text).parse();
  return JsonPath(std::string(text), std::move(program));
}

std::vector<const Json*> JsonPath::find(const Json& object) const { return run(program_->steps, object); }

std::vector<Json> JsonPath::evaluate(const Json& object) const {
  std::vector<Json> out;
  for (const Json* value : find(object)) out.push_back(*value);
  return out;
}

std::vector<Json> evaluate(const Json& object, std::string_view path) {
  return JsonPath::parse(path).evaluate(object);
}

std::optional<std::string> json_path_error(std::string_view path) {
  try {
    JsonPath::parse(path);
  } catch (const JsonPathError& error) {
    return error.what();
  }
  return std::nullopt;
}

}  // namespace riasc
