#include "riasc/schema/object_meta.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include "riasc/core/label_selector.hpp"

namespace riasc::schema {

namespace {

const RE2& dns_label_re() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return re;
}
constexpr std::size_t kLabelMax = 63;
constexpr std::size_t kAnnotationsMaxBytes = 256 * 1024;

std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& problem : problems) out += (out.empty() ? "" : "; ") + problem;
  return out;
}

// Label and annotation keys and label values follow the rules core/label_selector implements.
std::string check_qualified_name(std::string_view key) { return joined(qualified_name_errors(key)); }
std::string check_label_value(std::string_view value) { return joined(label_value_errors(value)); }

void check_string_map(const Json& metadata, const char* field, const FieldPath& path, bool labels,
                      FieldErrors& errors) {
  auto it = metadata.find(field);
  if (it == metadata.end() || it->is_null()) return;
  FieldPath at = path.child(field);
  if (!it->is_object()) {
    errors.push_back({FieldError::Type::Invalid, at, *it, "must be a map of strings to strings"});
    return;
  }
  std::size_t total = 0;
  for (const auto& [key, value] : it->items()) {
    if (auto why = check_qualified_name(key); !why.empty()) {
      errors.push_back({FieldError::Type::Invalid, at, key, why});
    }
    if (!value.is_string()) {
      errors.push_back(
          {FieldError::Type::Invalid, at.key(key), value, "must be a string (quote numbers and booleans)"});
      continue;
    }
    const auto& text = value.get_ref<const std::string&>();
    total += key.size() + text.size();
    if (labels) {
      if (auto why = check_label_value(text); !why.empty()) {
        errors.push_back({FieldError::Type::Invalid, at.key(key), value, why});
      }
    }
  }
  if (!labels && total > kAnnotationsMaxBytes) {
    errors.push_back({FieldError::Type::TooLong, at, nullptr,
                      fmt::format("may not be more than {} bytes", kAnnotationsMaxBytes)});
  }
}

}  // namespace

std::string check_dns_label(std::string_view value) {
  if (value.size() > kLabelMax) return fmt::format("must be no more than {} characters", kLabelMax);
  if (!RE2::FullMatch(value, dns_label_re())) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
           "and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')";
  }
  return "";
}

std::string check_dns_subdomain(std::string_view value) { return joined(dns1123_subdomain_errors(value)); }

std::string check_path_segment_name(std::string_view value) {
  if (value == "." || value == "..") return fmt::format("may not be '{}'", value);
  for (const char* part : {"/", "%"}) {
    if (value.find(part) != std::string_view::npos) return fmt::format("may not contain '{}'", part);
  }
  return {};
}

FieldErrors validate_object_meta(const Json& metadata, const FieldPath& path, bool path_segment_names) {
  FieldErrors errors;
  if (!metadata.is_object()) {
    errors.push_back({FieldError::Type::Invalid, path, metadata, "must be an object"});
    return errors;
  }
  auto name = metadata.find("name");
  auto generate_name = metadata.find("generateName");
  if (name == metadata.end() || name->is_null() || *name == "") {
    if (generate_name == metadata.end() || !generate_name->is_string()) {
      errors.push_back(
          {FieldError::Type::Required, path.child("name"), nullptr, "name or generateName is required"});
    }
  } else if (!name->is_string()) {
    errors.push_back({FieldError::Type::Invalid, path.child("name"), *name, "must be a string"});
  } else if (auto why = path_segment_names ? check_path_segment_name(name->get<std::string>())
                                           : check_dns_subdomain(name->get<std::string>());
             !why.empty()) {
    errors.push_back({FieldError::Type::Invalid, path.child("name"), *name, why});
  }
  if (auto ns = metadata.find("namespace"); ns != metadata.end() && !ns->is_null()) {
    if (!ns->is_string()) {
      errors.push_back({FieldError::Type::Invalid, path.child("namespace"), *ns, "must be a string"});
    } else if (auto why = check_dns_label(ns->get<std::string>()); !why.empty()) {
      errors.push_back({FieldError::Type::Invalid, path.child("namespace"), *ns, why});
    }
  }
  check_string_map(metadata, "labels", path, true, errors);
  check_string_map(metadata, "annotations", path, false, errors);
  return errors;
}

}  // namespace riasc::schema
