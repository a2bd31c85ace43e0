#include "riasc/core/field_selector.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

namespace riasc {

namespace {

// The length of the UTF-8 sequence that begins with `lead` (1 for ASCII and stray bytes).
std::size_t utf8_length(char lead) {
  const auto byte = static_cast<unsigned char>(lead);
  if ((byte & 0xE0U) == 0xC0U) return 2;
  if ((byte & 0xF0U) == 0xE0U) return 3;
  if ((byte & 0xF8U) == 0xF0U) return 4;
  return 1;
}

struct RawTerm {
  std::string_view text;
  std::size_t position;
};

// Splits at each ',' not preceded by a '\' that is itself unescaped; the escapes stay in.
std::vector<RawTerm> split_terms(std::string_view text) {
  std::vector<RawTerm> terms;
  if (text.empty()) return terms;
  std::size_t start = 0;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (text[i] == '\\') {
      escaped = true;
    } else if (text[i] == ',') {
      terms.push_back({text.substr(start, i - start), start});
      start = i + 1;
    }
  }
  terms.push_back({text.substr(start), start});
  return terms;
}

// The first `!=`, `==` or `=` (in that order of preference at each position) splits the term;
// the field itself has no escapes.
struct SplitTerm {
  std::string_view field;
  FieldSelector::Operator op;
  std::string_view value;
};

std::optional<SplitTerm> split_term(std::string_view term) {
  for (std::size_t i = 0; i < term.size(); ++i) {
    std::string_view rest = term.substr(i);
    if (rest.starts_with("!="))
      return SplitTerm{term.substr(0, i), FieldSelector::Operator::NotEquals, rest.substr(2)};
    if (rest.starts_with("=="))
      return SplitTerm{term.substr(0, i), FieldSelector::Operator::Equals, rest.substr(2)};
    if (rest.starts_with("="))
      return SplitTerm{term.substr(0, i), FieldSelector::Operator::Equals, rest.substr(1)};
  }
  return std::nullopt;
}

std::string unescape_value(std::string_view value, std::size_t position) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\\') {
      if (i + 1 == value.size()) {
        throw SelectorError("invalid field selector: invalid escape sequence: \\", position + i);
      }
      const char next = value[i + 1];
      if (next != '\\' && next != ',' && next != '=' && next != '!') {
        throw SelectorError(fmt::format("invalid field selector: invalid escape sequence: \\{}",
                                        value.substr(i + 1, utf8_length(next))),
                            position + i);
      }
      out += next;
      ++i;
    } else if (c == ',' || c == '=') {
      throw SelectorError(fmt::format("invalid field selector: unescaped character in value: '{}'", c),
                          position + i);
    } else {
      out += c;
    }
  }
  return out;
}

auto sort_key(const FieldSelector::Term& term) { return std::tie(term.field, term.op, term.value); }

}  // namespace

std::string FieldSelector::Term::to_string() const {
  return fmt::format("{}{}{}", field, op == Operator::Equals ? "=" : "!=", escape_value(value));
}

FieldSelector FieldSelector::parse(std::string_view text) {
  auto raw_terms = split_terms(text);
  // Kubernetes sorts the terms as text before parsing them, so of several bad terms it names the
  // first in that order; do the same.
  std::stable_sort(raw_terms.begin(), raw_terms.end(),
                   [](const RawTerm& a, const RawTerm& b) { return a.text < b.text; });
  FieldSelector selector;
  for (const auto& raw : raw_terms) {
    if (raw.text.empty()) continue;
    auto split = split_term(raw.text);
    if (!split) {
      throw SelectorError(fmt::format("invalid selector: '{}'; can't understand '{}'", text, raw.text),
                          raw.position);
    }
    const std::size_t value_position =
        raw.position + static_cast<std::size_t>(split->value.data() - raw.text.data());
    selector.terms_.push_back(
        {std::string(split->field), split->op, unescape_value(split->value, value_position)});
  }
  std::stable_sort(selector.terms_.begin(), selector.terms_.end(),
                   [](const Term& a, const Term& b) { return sort_key(a) < sort_key(b); });
  return selector;
}

bool FieldSelector::matches(const Json& object) const {
  return std::all_of(terms_.begin(), terms_.end(),
                     [&](const Term& term) { return term.matches(field_value(object, term.field)); });
}

bool FieldSelector::matches_fields(const std::function<std::string(std::string_view field)>& value_of) const {
  return std::all_of(terms_.begin(), terms_.end(),
                     [&](const Term& term) { return term.matches(value_of(term.field)); });
}

std::vector<std::string> FieldSelector::fields() const {
  std::vector<std::string> out;
  out.reserve(terms_.size());
  for (const auto& term : terms_) out.push_back(term.field);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::string> FieldSelector::exact_match(std::string_view field) const {
  for (const auto& term : terms_) {
    if (term.field == field && term.op == Operator::Equals) return term.value;
  }
  return std::nullopt;
}

std::string FieldSelector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < terms_.size(); ++i) {
    if (i > 0) out += ',';
    out += terms_[i].to_string();
  }
  return out;
}

std::string FieldSelector::field_value(const Json& object, std::string_view dotted_path) {
  const Json* current = &object;
  while (true) {
    if (!current->is_object()) return {};
    const auto dot = dotted_path.find('.');
    auto it = current->find(dotted_path.substr(0, dot));
    if (it == current->end()) return {};
    current = &*it;
    if (dot == std::string_view::npos) break;
    dotted_path.remove_prefix(dot + 1);
  }
  if (current->is_string()) return current->get<std::string>();
  if (current->is_boolean()) return current->get<bool>() ? "true" : "false";
  if (current->is_number()) return current->dump();
  return {};
}

std::string FieldSelector::escape_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace riasc
