#pragma once

// YAML manifests to JSON values, keeping where each value came from so that an error about
// `spec.parameters.netem.loss_ratio` can name the file's line and column.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "riasc/core/field_error.hpp"
#include "riasc/core/json.hpp"

namespace riasc {

// 1-based line and column; line 0 means "unknown".
struct SourcePosition {
  std::size_t line = 0;
  std::size_t column = 0;
};

class SourceMap {
 public:
  void add(const std::string& json_pointer, SourcePosition position);
  void add_key(const std::string& json_pointer, SourcePosition position);
  // The position of `path`, or of its nearest ancestor that has one (a missing required field
  // is reported where its parent object is).
  [[nodiscard]] SourcePosition locate(const FieldPath& path) const;
  // Where the key of the object member `path` is written (an unknown field is reported at its
  // name, not its value); locate(path) when `path` is not a member.
  [[nodiscard]] SourcePosition locate_key(const FieldPath& path) const;

 private:
  std::unordered_map<std::string, SourcePosition> positions_;
  std::unordered_map<std::string, SourcePosition> key_positions_;
};

struct YamlDocument {
  Json value;
  SourceMap positions;
  SourcePosition start;  // where the document's content begins
};

class YamlError : public std::runtime_error {
 public:
  YamlError(SourcePosition position, const std::string& message)
      : std::runtime_error(message), position_(position) {}
  [[nodiscard]] SourcePosition position() const { return position_; }

 private:
  SourcePosition position_;
};

struct YamlLimits {
  std::size_t max_depth = 256;        // nesting of mappings and sequences
  std::size_t max_nodes = 1'000'000;  // after alias expansion ("billion laughs")
};

// Parses a stream of YAML documents (JSON is YAML too). Plain scalars resolve as kubectl resolves
// them (YAML 1.1: `yes`/`on` are booleans, `0x1F` is an integer); quoted scalars stay strings.
// Empty documents are skipped. Throws YamlError on syntax errors, duplicate keys, non-scalar keys,
// values JSON cannot hold (.nan, .inf) and inputs beyond `limits`.
std::vector<YamlDocument> parse_yaml_stream(std::string_view text, const YamlLimits& limits = {});

}  // namespace riasc
