#pragma once

// The JSONPath dialect of Kubernetes (k8s.io/client-go/util/jsonpath), as far as CRD
// additionalPrinterColumns and kubectl's field paths use it:
//
//   .a.b  .a[0]  .a[-1]  .a[*].b  .a.*  ['app.kubernetes.io/name']  .labels.app\.kubernetes\.io/name
//   [?(@.type=="Ready")]  [?(@.type!='Ready')]  [?(@.port>=80)]  [?(@.ready)]  (exists)
//
// A leading `$` is allowed, and `.` alone is the whole object. Everything else Kubernetes' parser
// knows (recursive descent `..`, slices `[1:3]`, unions `[0,1]`, `{range}` templates) is rejected
// by parse() with a message naming the construct, so CRD validation can tell the author.
//
// Evaluation is lenient the way kube-apiserver's table convertor is (AllowMissingKeys): a missing
// member, an index out of range, a step that does not fit the value's type (a field of a string,
// an index into an object) produce no match rather than an error. Where Kubernetes would fail the
// whole path (an out-of-range index, a filter comparing a string with a number) we drop only the
// offending match; the first match, which is all a printer column shows, is the same in practice.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc {

class JsonPathError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
struct JsonPathProgram;
}

class JsonPath {
 public:
  // Throws JsonPathError, e.g. `unsupported JSONPath ".a..b" at 2: recursive descent (..) is not
  // supported`.
  static JsonPath parse(std::string_view text);

  // Every value the path selects, in document order. Empty when nothing matches.
  [[nodiscard]] std::vector<Json> evaluate(const Json& object) const;
  // As evaluate(), as pointers into `object` (valid while `object` lives and is not modified).
  [[nodiscard]] std::vector<const Json*> find(const Json& object) const;

  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  JsonPath(std::string text, std::shared_ptr<const detail::JsonPathProgram> program);
  std::string text_;
  std::shared_ptr<const detail::JsonPathProgram> program_;
};

// JsonPath::parse(path).evaluate(object).
std::vector<Json> evaluate(const Json& object, std::string_view path);

// What is wrong with `path`, or nullopt when parse() accepts it. For CRD validation.
std::optional<std::string> json_path_error(std::string_view path);

}  // namespace riasc
