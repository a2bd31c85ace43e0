#include "riasc/core/label_selector.hpp"

#include "riasc/core/go_quote.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>

namespace riasc {

namespace {

// ---------------------------------------------------------------------------------------------
// Validation (the rules and messages of k8s.io/apimachinery/pkg/util/validation)

constexpr std::size_t kQualifiedNameMaxLength = 63;
constexpr std::size_t kLabelValueMaxLength = 63;
constexpr std::size_t kDns1123SubdomainMaxLength = 253;

constexpr std::string_view kQualifiedNameMessage =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr std::string_view kLabelValueMessage =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
constexpr std::string_view kDns1123SubdomainMessage =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

std::string max_length_message(std::size_t length) {
  return fmt::format("must be no more than {} characters", length);
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_name_part(std::string_view text) {
  if (text.empty() || !is_alnum(text.front()) || !is_alnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool is_dns1123_subdomain(std::string_view text) {
  while (true) {
    auto dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// Go's strconv.ParseInt(text, 10, 64): an optional sign, then decimal digits, in range.
std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) digits.remove_prefix(1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (text.front() == '+') text.remove_prefix(1);  // from_chars takes '-' but not '+'
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Requirements

using Operator = LabelSelector::Operator;
using Requirement = LabelSelector::Requirement;

std::vector<std::string> sorted_unique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::string key_problem(std::string_view key) {
  auto errors = qualified_name_errors(key);
  if (errors.empty()) return {};
  return fmt::format("invalid label key {}: {}", go_quote(key), join(errors, "; "));
}

struct Problem {
  std::string message;
  std::optional<std::string> value;  // the value at fault, if one is
};

// What Kubernetes' labels.NewRequirement rejects, in its order: the key, the number (and for
// gt/lt the form) of the values, then each value. `values` are sorted and unique.
std::optional<Problem> requirement_problem(std::string_view key, Operator op,
                                           const std::vector<std::string>& values) {
  if (auto problem = key_problem(key); !problem.empty()) return Problem{problem, std::nullopt};
  switch (op) {
    case Operator::In:
    case Operator::NotIn:
      if (values.empty())
        return Problem{"for 'in', 'notin' operators, values set can't be empty", std::nullopt};
      break;
    case Operator::Equals:
    case Operator::NotEquals:
      if (values.size() != 1)
        return Problem{"exact-match compatibility requires one single value", std::nullopt};
      break;
    case Operator::Exists:
    case Operator::DoesNotExist:
      if (!values.empty())
        return Problem{"values set must be empty for exists and does not exist", std::nullopt};
      break;
    case Operator::GreaterThan:
    case Operator::LessThan:
      if (values.size() != 1) {
        return Problem{"for 'Gt', 'Lt' operators, exactly one value is required", std::nullopt};
      }
      if (!parse_int64(values.front())) {
        return Problem{"for 'Gt', 'Lt' operators, the value must be an integer", values.front()};
      }
      break;
  }
  for (const auto& value : values) {
    auto errors = label_value_errors(value);
    if (!errors.empty()) {
      return Problem{fmt::format("invalid label value: {}: at key: {}: {}", go_quote(value), go_quote(key),
                                 join(errors, "; ")),
                     value};
    }
  }
  return std::nullopt;
}

void sort_by_key(std::vector<Requirement>& requirements) {
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
}

// A label's value as the selector compares it: strings as they are, null as "", anything else as
// its JSON text. nullopt when the label is absent.
std::optional<std::string> label_value(const Json& labels, const std::string& key) {
  if (!labels.is_object()) return std::nullopt;
  auto it = labels.find(key);
  if (it == labels.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_null()) return std::string();
  return it->dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// The query-string syntax (labels.Parse)

enum class Token {
  End,
  Identifier,
  OpenParen,     // (
  CloseParen,    // )
  Comma,         // ,
  Not,           // !
  Equals,        // =
  DoubleEquals,  // ==
  NotEquals,     // !=
  Greater,       // >
  Less,          // <
  In,            // in
  NotIn,         // notin
};

struct Lexeme {
  Token token;
  std::string_view text;
  std::size_t position;
};

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_special(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

// Splits the text into tokens as Kubernetes' lexer does: identifiers run until whitespace or one
// of =!(),<>; "in" and "notin" are keywords; `==` and `!=` are one token. Unlike Kubernetes, a NUL
// byte is an ordinary character (Go's lexer takes it for the end of the string).
std::vector<Lexeme> lex(std::string_view text) {
  std::vector<Lexeme> out;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && is_whitespace(text[i])) ++i;
    if (i == text.size()) {
      out.push_back({Token::End, {}, i});
      return out;
    }
    const std::size_t start = i;
    const char c = text[i];
    if (is_special(c)) {
      const char next = i + 1 < text.size() ? text[i + 1] : '\0';
      Token token = Token::End;
      std::size_t length = 1;
      if (c == '=' && next == '=') {
        token = Token::DoubleEquals;
        length = 2;
      } else if (c == '!' && next == '=') {
        token = Token::NotEquals;
        length = 2;
      } else {
        switch (c) {
          case '=':
            token = Token::Equals;
            break;
          case '!':
            token = Token::Not;
            break;
          case '(':
            token = Token::OpenParen;
            break;
          case ')':
            token = Token::CloseParen;
            break;
          case ',':
            token = Token::Comma;
            break;
          case '>':
            token = Token::Greater;
            break;
          default:
            token = Token::Less;
            break;
        }
      }
      i += length;
      out.push_back({token, text.substr(start, length), start});
      continue;
    }
    while (i < text.size() && !is_whitespace(text[i]) && !is_special(text[i])) ++i;
    std::string_view word = text.substr(start, i - start);
    Token token = word == "in" ? Token::In : word == "notin" ? Token::NotIn : Token::Identifier;
    out.push_back({token, word, start});
  }
}

struct Value {
  std::string text;
  std::size_t position;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexemes_(lex(text)) {}

  std::vector<Requirement> parse() {
    std::vector<Requirement> requirements;
    while (true) {
      const Lexeme& first = peek();
      if (first.token == Token::End) return requirements;
      if (value_token(first) != Token::Identifier && first.token != Token::Not) {
        fail(fmt::format("found '{}', expected: !, identifier, or 'end of string'", first.text), first);
      }
      requirements.push_back(parse_requirement());
      const Lexeme& after = next();
      if (after.token == Token::End) return requirements;
      if (after.token != Token::Comma) {
        fail(fmt::format("found '{}', expected: ',' or 'end of string'", after.text), after);
      }
      const Lexeme& following = peek();
      if (value_token(following) != Token::Identifier && following.token != Token::Not) {
        fail(fmt::format("found '{}', expected: identifier after ','", following.text), following);
      }
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& message, const Lexeme& at) {
    throw SelectorError(message, at.position);
  }
  [[noreturn]] static void fail_requirement(const std::string& message, std::size_t position) {
    throw SelectorError("unable to parse requirement: " + message, position);
  }

  // Where a value may stand, the keywords are identifiers: `in in (in, notin)` is valid.
  static Token value_token(const Lexeme& lexeme) {
    return lexeme.token == Token::In || lexeme.token == Token::NotIn ? Token::Identifier : lexeme.token;
  }

  const Lexeme& peek() const { return lexemes_[position_]; }
  const Lexeme& next() {
    const Lexeme& lexeme = lexemes_[position_];
    if (lexeme.token != Token::End) ++position_;
    return lexeme;
  }

  Requirement parse_requirement() {
    std::optional<Operator> op;
    const Lexeme* key = &next();
    if (key->token == Token::Not) {
      op = Operator::DoesNotExist;
      key = &next();
    }
    if (value_token(*key) != Token::Identifier) {
      fail_requirement(fmt::format("found '{}', expected: identifier", key->text), key->position);
    }
    if (auto problem = key_problem(key->text); !problem.empty()) fail_requirement(problem, key->position);
    if (!op && (peek().token == Token::End || peek().token == Token::Comma)) op = Operator::Exists;
    if (op) return make(std::string(key->text), *op, {}, key->position);

    const Lexeme& op_lexeme = next();
    std::vector<Value> values;
    switch (op_lexeme.token) {
      case Token::In:
        op = Operator::In;
        values = parse_set();
        break;
      case Token::NotIn:
        op = Operator::NotIn;
        values = parse_set();
        break;
      case Token::Equals:
      case Token::DoubleEquals:
        op = Operator::Equals;
        values = parse_exact_value();
        break;
      case Token::NotEquals:
        op = Operator::NotEquals;
        values = parse_exact_value();
        break;
      case Token::Greater:
        op = Operator::GreaterThan;
        values = parse_exact_value();
        break;
      case Token::Less:
        op = Operator::LessThan;
        values = parse_exact_value();
        break;
      default:
        fail_requirement(fmt::format("found '{}', expected: in, notin, =, ==, !=, gt, lt", op_lexeme.text),
                         op_lexeme.position);
    }
    return make(std::string(key->text), *op, values, values.front().position);
  }

  // `(a, b)`. "()" is the set {""}; a leading, trailing or doubled comma adds "".
  std::vector<Value> parse_set() {
    const Lexeme& open = next();
    if (open.token != Token::OpenParen) {
      fail_requirement(fmt::format("found '{}' expected: '('", open.text), open.position);
    }
    const Lexeme& first = peek();
    if (first.token == Token::CloseParen) {
      next();
      return {{std::string(), first.position}};
    }
    if (value_token(first) != Token::Identifier && first.token != Token::Comma) {
      fail_requirement(fmt::format("found '{}', expected: ',', ')' or identifier", first.text),
                       first.position);
    }
    std::vector<Value> values;
    while (true) {
      const Lexeme& item = next();
      if (value_token(item) == Token::Identifier) {
        values.push_back({std::string(item.text), item.position});
        const Lexeme& after = peek();
        if (after.token == Token::CloseParen) break;
        if (after.token != Token::Comma) {
          fail_requirement(fmt::format("found '{}', expected: ',' or ')'", after.text), after.position);
        }
      } else if (item.token == Token::Comma) {
        // A comma first, last or doubled stands for the empty value.
        if (values.empty()) values.push_back({std::string(), item.position});
        const Lexeme& after = peek();
        if (after.token == Token::CloseParen) {
          values.push_back({std::string(), item.position});
          break;
        }
        if (after.token == Token::Comma) {
          next();
          values.push_back({std::string(), after.position});
        }
      } else {
        fail_requirement(fmt::format("found '{}', expected: ',', or identifier", item.text), item.position);
      }
    }
    next();  // the ')'
    return values;
  }

  // The value after =, ==, !=, >, <; nothing before ',' or the end is "".
  std::vector<Value> parse_exact_value() {
    const Lexeme& value = peek();
    if (value.token == Token::End || value.token == Token::Comma) return {{std::string(), value.position}};
    next();
    if (value_token(value) != Token::Identifier) {
      fail_requirement(fmt::format("found '{}', expected: identifier", value.text), value.position);
    }
    return {{std::string(value.text), value.position}};
  }

  // Validates as labels.NewRequirement. A problem with one value is reported at that value's
  // token, other problems at `position`.
  static Requirement make(std::string key, Operator op, const std::vector<Value>& values,
                          std::size_t position) {
    std::vector<std::string> texts;
    texts.reserve(values.size());
    for (const auto& value : values) texts.push_back(value.text);
    texts = sorted_unique(std::move(texts));
    if (auto problem = requirement_problem(key, op, texts)) {
      if (problem->value) {
        auto it = std::find_if(values.begin(), values.end(),
                               [&](const Value& value) { return value.text == *problem->value; });
        if (it != values.end()) position = it->position;
      }
      fail_requirement(problem->message, position);
    }
    return {std::move(key), op, std::move(texts)};
  }

  std::vector<Lexeme> lexemes_;
  std::size_t position_ = 0;
};

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector

void add_error(FieldErrors& errors, FieldError::Type type, FieldPath path, Json value, std::string detail) {
  errors.push_back({type, std::move(path), std::move(value), std::move(detail)});
}

// The member `name` of `object`; null when absent.
const Json& member(const Json& object, std::string_view name) {
  static const Json null_value;
  auto it = object.find(name);
  return it == object.end() ? null_value : *it;
}

void check_key(const std::string& key, const FieldPath& path, FieldErrors& errors) {
  for (auto& message : qualified_name_errors(key))
    add_error(errors, FieldError::Type::Invalid, path, key, message);
}

void check_value(const std::string& value, const FieldPath& path, FieldErrors& errors) {
  for (auto& message : label_value_errors(value)) {
    add_error(errors, FieldError::Type::Invalid, path, value, message);
  }
}

void read_match_labels(const Json& labels, const FieldPath& path, std::vector<Requirement>& out,
                       FieldErrors& errors) {
  if (labels.is_null()) return;
  if (!labels.is_object()) {
    add_error(errors, FieldError::Type::Invalid, path, labels, "must be of type object");
    return;
  }
  for (const auto& [key, value] : labels.items()) {
    const FieldPath entry = path.key(key);
    check_key(key, entry, errors);
    if (!value.is_string()) {
      add_error(errors, FieldError::Type::Invalid, entry, value, "must be of type string");
      continue;
    }
    check_value(value.get<std::string>(), entry, errors);
    out.push_back({key, Operator::Equals, {value.get<std::string>()}});
  }
}

std::optional<Requirement> read_expression(const Json& expression, const FieldPath& path,
                                           FieldErrors& errors) {
  if (!expression.is_object()) {
    add_error(errors, FieldError::Type::Invalid, path, expression, "must be of type object");
    return std::nullopt;
  }
  const std::size_t before = errors.size();
  Requirement requirement;

  const Json& key = member(expression, "key");
  if (key.is_null()) {
    add_error(errors, FieldError::Type::Required, path.child("key"), nullptr, "");
  } else if (!key.is_string()) {
    add_error(errors, FieldError::Type::Invalid, path.child("key"), key, "must be of type string");
  } else {
    requirement.key = key.get<std::string>();
    check_key(requirement.key, path.child("key"), errors);
  }

  const Json& op = member(expression, "operator");
  std::optional<Operator> parsed_op;
  if (op.is_null()) {
    add_error(errors, FieldError::Type::Required, path.child("operator"), nullptr, "");
  } else if (!op.is_string()) {
    add_error(errors, FieldError::Type::Invalid, path.child("operator"), op, "must be of type string");
  } else if (op == "In") {
    parsed_op = Operator::In;
  } else if (op == "NotIn") {
    parsed_op = Operator::NotIn;
  } else if (op == "Exists") {
    parsed_op = Operator::Exists;
  } else if (op == "DoesNotExist") {
    parsed_op = Operator::DoesNotExist;
  } else {
    add_error(errors, FieldError::Type::NotSupported, path.child("operator"), op,
              R"(supported values: "In", "NotIn", "Exists", "DoesNotExist")");
  }

  const Json& values = member(expression, "values");
  const FieldPath values_path = path.child("values");
  std::vector<std::string> texts;
  if (!values.is_null() && !values.is_array()) {
    add_error(errors, FieldError::Type::Invalid, values_path, values, "must be of type array");
  } else if (values.is_array()) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      const Json& value = values[i];
      if (!value.is_string()) {
        add_error(errors, FieldError::Type::Invalid, values_path.index(i), value, "must be of type string");
        continue;
      }
      check_value(value.get<std::string>(), values_path.index(i), errors);
      texts.push_back(value.get<std::string>());
    }
  }
  const bool has_values = values.is_array() && !values.empty();
  if ((parsed_op == Operator::In || parsed_op == Operator::NotIn) && !has_values &&
      (values.is_null() || values.is_array())) {
    add_error(errors, FieldError::Type::Required, values_path, nullptr,
              "must be specified when `operator` is 'In' or 'NotIn'");
  }
  if ((parsed_op == Operator::Exists || parsed_op == Operator::DoesNotExist) && has_values) {
    add_error(errors, FieldError::Type::Forbidden, values_path, nullptr,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
  }

  if (errors.size() != before || !parsed_op) return std::nullopt;
  requirement.op = *parsed_op;
  requirement.values = sorted_unique(std::move(texts));
  return requirement;
}

void read_match_expressions(const Json& expressions, const FieldPath& path, std::vector<Requirement>& out,
                            FieldErrors& errors) {
  if (expressions.is_null()) return;
  if (!expressions.is_array()) {
    add_error(errors, FieldError::Type::Invalid, path, expressions, "must be of type array");
    return;
  }
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    if (auto requirement = read_expression(expressions[i], path.index(i), errors)) {
      out.push_back(std::move(*requirement));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Validation

std::vector<std::string> dns1123_subdomain_errors(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kDns1123SubdomainMaxLength)
    errors.push_back(max_length_message(kDns1123SubdomainMaxLength));
  if (!is_dns1123_subdomain(value)) errors.emplace_back(kDns1123SubdomainMessage);
  return errors;
}

std::vector<std::string> qualified_name_errors(std::string_view key) {
  std::vector<std::string> errors;
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      errors.push_back(fmt::format(
          "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
          kQualifiedNameMessage));
      return errors;
    }
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      errors.emplace_back("prefix part must be non-empty");
    } else {
      for (const auto& message : dns1123_subdomain_errors(prefix)) errors.push_back("prefix part " + message);
    }
  }
  if (name.empty()) {
    errors.emplace_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    errors.push_back("name part " + max_length_message(kQualifiedNameMaxLength));
  }
  if (!is_qualified_name_part(name)) errors.push_back(fmt::format("name part {}", kQualifiedNameMessage));
  return errors;
}

std::vector<std::string> label_value_errors(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > kLabelValueMaxLength) errors.push_back(max_length_message(kLabelValueMaxLength));
  if (!value.empty() && !is_qualified_name_part(value)) errors.emplace_back(kLabelValueMessage);
  return errors;
}

// ---------------------------------------------------------------------------------------------
// LabelSelector

std::string_view to_string(LabelSelector::Operator op) {
  switch (op) {
    case Operator::Equals:
      return "=";
    case Operator::NotEquals:
      return "!=";
    case Operator::In:
      return "in";
    case Operator::NotIn:
      return "notin";
    case Operator::Exists:
      return "exists";
    case Operator::DoesNotExist:
      return "!";
    case Operator::GreaterThan:
      return "gt";
    case Operator::LessThan:
      return "lt";
  }
  return "";
}

bool LabelSelector::Requirement::matches(const Json& labels) const {
  const auto value = label_value(labels, key);
  const auto listed = [&] { return value && std::binary_search(values.begin(), values.end(), *value); };
  switch (op) {
    case Operator::Equals:
    case Operator::In:
      return listed();
    case Operator::NotEquals:
    case Operator::NotIn:
      return !listed();
    case Operator::Exists:
      return value.has_value();
    case Operator::DoesNotExist:
      return !value.has_value();
    case Operator::GreaterThan:
    case Operator::LessThan: {
      if (!value || values.size() != 1) return false;
      const auto actual = parse_int64(*value);
      const auto bound = parse_int64(values.front());
      if (!actual || !bound) return false;
      return op == Operator::GreaterThan ? *actual > *bound : *actual < *bound;
    }
  }
  return false;
}

std::string LabelSelector::Requirement::to_string() const {
  switch (op) {
    case Operator::Exists:
      return key;
    case Operator::DoesNotExist:
      return "!" + key;
    case Operator::In:
      return fmt::format("{} in ({})", key, join(values, ","));
    case Operator::NotIn:
      return fmt::format("{} notin ({})", key, join(values, ","));
    case Operator::Equals:
      return fmt::format("{}={}", key, join(values, ","));
    case Operator::NotEquals:
      return fmt::format("{}!={}", key, join(values, ","));
    case Operator::GreaterThan:
      return fmt::format("{}>{}", key, join(values, ","));
    case Operator::LessThan:
      return fmt::format("{}<{}", key, join(values, ","));
  }
  return key;
}

LabelSelector LabelSelector::nothing() {
  LabelSelector selector;
  selector.nothing_ = true;
  return selector;
}

LabelSelector LabelSelector::parse(std::string_view text) {
  LabelSelector selector;
  selector.requirements_ = Parser(text).parse();
  sort_by_key(selector.requirements_);
  return selector;
}

LabelSelector LabelSelector::from_json(const Json& selector, const FieldPath& at, FieldErrors& errors) {
  if (selector.is_null()) return nothing();
  if (!selector.is_object()) {
    add_error(errors, FieldError::Type::Invalid, at, selector, "must be of type object");
    return nothing();
  }
  const std::size_t before = errors.size();
  LabelSelector out;
  read_match_labels(member(selector, "matchLabels"), at.child("matchLabels"), out.requirements_, errors);
  read_match_expressions(member(selector, "matchExpressions"), at.child("matchExpressions"),
                         out.requirements_, errors);
  if (errors.size() != before) return nothing();
  sort_by_key(out.requirements_);
  return out;
}

LabelSelector& LabelSelector::add(std::string key, Operator op, std::vector<std::string> values) {
  values = sorted_unique(std::move(values));
  if (auto problem = requirement_problem(key, op, values)) throw SelectorError(problem->message);
  if (nothing_) return *this;
  requirements_.push_back({std::move(key), op, std::move(values)});
  sort_by_key(requirements_);
  return *this;
}

bool LabelSelector::matches(const Json& labels) const {
  if (nothing_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& requirement) { return requirement.matches(labels); });
}

bool LabelSelector::matches_object(const Json& object) const {
  static const Json no_labels;
  if (!object.is_object()) return matches(no_labels);
  const Json& metadata = member(object, "metadata");
  if (!metadata.is_object()) return matches(no_labels);
  return matches(member(metadata, "labels"));
}

std::string LabelSelector::to_string() const {
  if (nothing_) throw std::logic_error("a label selector that matches nothing has no string form");
  std::vector<std::string> parts;
  parts.reserve(requirements_.size());
  for (const auto& requirement : requirements_) parts.push_back(requirement.to_string());
  return join(parts, ",");
}

}  // namespace riasc
