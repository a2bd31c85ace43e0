#pragma once

// Field selectors with Kubernetes semantics (k8s.io/apimachinery fields.ParseSelector): the
// `?fieldSelector=` of list and watch requests, `kubectl --field-selector`.
//
// Syntax: terms `field=value`, `field==value` or `field!=value`, separated by ','. Nothing is
// trimmed (`a = b` is the field "a " and the value " b", as in Kubernetes). In values, `\,`,
// `\=` and `\\` stand for ',', '=' and '\'; `\!` for '!' is accepted too (Kubernetes rejects it;
// '!' needs no escaping). An unescaped ',' splits terms, an unescaped '=' in a value is an error.
// Empty terms are skipped; "" matches everything. The field name is not checked here: which
// fields a resource supports is the server's decision (Kubernetes: `field label not supported:
// spec.foo`); fields() lists them.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/core/label_selector.hpp"  // SelectorError

namespace riasc {

class FieldSelector {
 public:
  enum class Operator { Equals, NotEquals };

  struct Term {
    std::string field;  // dotted path: metadata.name, spec.nodeName, status.phase, …
    Operator op = Operator::Equals;
    std::string value;  // unescaped

    [[nodiscard]] bool matches(std::string_view actual) const {
      return (actual == value) == (op == Operator::Equals);
    }
    // `field=value` / `field!=value`, the value escaped.
    [[nodiscard]] std::string to_string() const;
    bool operator==(const Term&) const = default;
  };

  // Matches everything.
  FieldSelector() = default;

  // Throws SelectorError:
  //   invalid selector: 'a'; can't understand 'a'                       (a term without operator)
  //   invalid field selector: invalid escape sequence: \x               (an unknown escape)
  //   invalid field selector: unescaped character in value: '='        (Kubernetes prints 61)
  static FieldSelector parse(std::string_view text);

  // Whether every term holds for `object`, reading each field with field_value().
  [[nodiscard]] bool matches(const Json& object) const;
  // Whether every term holds, with the value of each field from `value_of` (for resources whose
  // selectable fields are computed, e.g. spec.hostNetwork that Kubernetes reads as "false" when
  // absent).
  [[nodiscard]] bool matches_fields(const std::function<std::string(std::string_view field)>& value_of) const;

  // The distinct field names, sorted: what the server checks against a resource's supported fields.
  [[nodiscard]] std::vector<std::string> fields() const;
  // The value a `field=value` (or `==`) term requires, if there is one (Kubernetes'
  // RequiresExactMatch): lets the server narrow `metadata.name=x` or `metadata.namespace=y`.
  [[nodiscard]] std::optional<std::string> exact_match(std::string_view field) const;

  // Canonical form: terms sorted (field, then `=` before `!=`, then value), `=` for equality,
  // values escaped; parse(to_string()) == *this. "" when empty.
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] bool empty() const { return terms_.empty(); }
  [[nodiscard]] const std::vector<Term>& terms() const { return terms_; }

  bool operator==(const FieldSelector&) const = default;

  // The string a field compares as: the member at the dotted path (`spec.nodeName`); strings as
  // they are, booleans "true"/"false", numbers as JSON; missing, null, objects and arrays as "".
  static std::string field_value(const Json& object, std::string_view dotted_path);
  // Escapes '\', ',' and '=' (Kubernetes' fields.EscapeValue).
  static std::string escape_value(std::string_view value);

 private:
  std::vector<Term> terms_;
};

}  // namespace riasc
