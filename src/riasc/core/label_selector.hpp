#pragma once

// Label selectors with Kubernetes semantics: the query-string syntax of `?labelSelector=` and
// `kubectl -l` (k8s.io/apimachinery labels.Parse), and the metav1.LabelSelector object of
// manifests (`matchLabels` + `matchExpressions`). All requirements must hold (AND).
//
// Decisions:
// - A null (absent) metav1.LabelSelector matches nothing, as Kubernetes'
//   LabelSelectorAsSelector(nil); `{}` matches everything. Callers whose API gives an absent
//   selector another meaning (a NetworkPolicy-like peer with only a namespaceSelector) check for
//   the member themselves.
// - A selector that matches nothing has no string form: to_string() throws std::logic_error
//   instead of returning "" (which would select everything when sent as ?labelSelector=).
// - Parse errors read like Kubernetes' (`unable to parse requirement: found '(', expected:
//   identifier`; key and value problems as `invalid label key "-x": name part must ...`).

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc {

// A label or field selector that cannot be parsed. what() is the message for the user;
// position() is the byte offset in the selector text of the token or term at fault (npos when
// the selector was not built from text).
class SelectorError : public std::invalid_argument {
 public:
  static constexpr std::size_t npos = std::string::npos;

  explicit SelectorError(const std::string& message, std::size_t position = npos)
      : std::invalid_argument(message), position_(position) {}

  [[nodiscard]] std::size_t position() const noexcept { return position_; }

 private:
  std::size_t position_;
};

// The problems Kubernetes reports for a label key (validation.IsQualifiedName): an optional
// DNS-subdomain prefix (≤ 253 characters) and '/', then a name of 1–63 characters of
// [A-Za-z0-9-_.] that begins and ends alphanumeric. Empty when the key is valid.
std::vector<std::string> qualified_name_errors(std::string_view key);
// The problems Kubernetes reports for a label value (validation.IsValidLabelValue): empty, or
// ≤ 63 characters of [A-Za-z0-9-_.] beginning and ending alphanumeric.
std::vector<std::string> label_value_errors(std::string_view value);
// The problems Kubernetes reports for a lowercase RFC 1123 subdomain (≤ 253 characters).
std::vector<std::string> dns1123_subdomain_errors(std::string_view value);

class LabelSelector {
 public:
  enum class Operator {
    Equals,        // `a=b`, `a==b`, matchLabels
    NotEquals,     // `a!=b`: absent, or another value
    In,            // `a in (x,y)`, matchExpressions In
    NotIn,         // `a notin (x,y)`: absent, or none of the values
    Exists,        // `a`
    DoesNotExist,  // `!a`
    GreaterThan,   // `a>3`: present, and an integer greater than the value
    LessThan,      // `a<3`: present, and an integer less than the value
  };

  struct Requirement {
    std::string key;
    Operator op = Operator::Exists;
    std::vector<std::string> values;  // sorted, without duplicates

    // `labels` is a JSON object of label key → value; anything else counts as no labels.
    [[nodiscard]] bool matches(const Json& labels) const;
    // `key in (a,b)`, `!key`, `key=value` …
    [[nodiscard]] std::string to_string() const;
    bool operator==(const Requirement&) const = default;
  };

  // Matches everything (no requirements).
  LabelSelector() = default;
  static LabelSelector everything() { return {}; }
  static LabelSelector nothing();

  // The query-string syntax: requirements separated by ',', whitespace around tokens ignored,
  // "" matches everything. Throws SelectorError.
  static LabelSelector parse(std::string_view text);

  // A metav1.LabelSelector. Problems are appended to `errors` with paths under `at`; when there
  // are any, the result matches nothing (fail closed). null matches nothing (see above).
  static LabelSelector from_json(const Json& selector, const FieldPath& at, FieldErrors& errors);

  // Adds a requirement, validated as Kubernetes' labels.NewRequirement does (values are sorted
  // and deduplicated). Throws SelectorError. Adding to a selector that matches nothing keeps it so.
  LabelSelector& add(std::string key, Operator op, std::vector<std::string> values = {});

  // Whether every requirement holds for `labels` (a JSON object of string → string; null or a
  // missing object means no labels). A non-string label value compares as its JSON text.
  [[nodiscard]] bool matches(const Json& labels) const;
  // matches() on object.metadata.labels.
  [[nodiscard]] bool matches_object(const Json& object) const;

  // Canonical form: requirements sorted by key (stable), values sorted, `=` for equality,
  // so parse(to_string()) == *this. "" for everything. Throws std::logic_error for nothing().
  [[nodiscard]] std::string to_string() const;

  // No requirements: matches everything. False for nothing().
  [[nodiscard]] bool empty() const { return !nothing_ && requirements_.empty(); }
  [[nodiscard]] bool matches_nothing() const { return nothing_; }
  // Sorted by key; requirements on the same key keep the order they were given in.
  [[nodiscard]] const std::vector<Requirement>& requirements() const { return requirements_; }

  bool operator==(const LabelSelector&) const = default;

 private:
  std::vector<Requirement> requirements_;
  bool nothing_ = false;
};

// The operator as Kubernetes' selection.Operator spells it: "=", "!=", "in", "notin", "exists",
// "!", "gt", "lt".
std::string_view to_string(LabelSelector::Operator op);

}  // namespace riasc
