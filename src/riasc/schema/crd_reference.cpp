#include "riasc/schema/crd_reference.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace riasc::schema {

namespace {

// Table cells are one line and may not contain a bare '|'.
std::string cell(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n') {
      out += ' ';
    } else if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string code(const std::string& text) { return "`" + text + "`"; }

bool flag(const Json& node, const char* key) { return node.value(key, false) == true; }

std::string type_of(const Json& node) {
  if (flag(node, "x-kubernetes-int-or-string")) return "integer or string";
  std::string type = string_member(node, "type");
  if (type.empty()) {
    if (node.contains("pattern") && (node.contains("minimum") || node.contains("maximum"))) {
      return "number or string";
    }
    return "any";
  }
  if (type == "array") return "[]" + (node.contains("items") ? type_of(node["items"]) : std::string("any"));
  if (type == "object" && node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
    return "map[string]" + type_of(node["additionalProperties"]);
  }
  return type;
}

std::string number(const Json& value) { return value.dump(); }

std::string count_of(const Json& value, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", value.dump(), value == 1 ? one : many);
}

std::string constraints_of(const Json& node, bool required) {
  std::vector<std::string> parts;
  if (required) parts.emplace_back("**required**");
  if (auto it = node.find("enum"); it != node.end() && it->is_array()) {
    std::string values;
    for (const auto& v : *it)
      values += (values.empty() ? "" : ", ") + code(v.is_string() ? v.get<std::string>() : v.dump());
    parts.push_back("one of " + values);
  }
  const bool has_min = node.contains("minimum");
  const bool has_max = node.contains("maximum");
  if (has_min || has_max) {
    std::string range;
    if (has_min) range += number(node["minimum"]) + (flag(node, "exclusiveMinimum") ? " < " : " ≤ ");
    range += "x";
    if (has_max) range += (flag(node, "exclusiveMaximum") ? " < " : " ≤ ") + number(node["maximum"]);
    parts.push_back(range);
  }
  if (node.contains("multipleOf")) parts.push_back("multiple of " + number(node["multipleOf"]));
  if (node.contains("pattern")) parts.push_back("matches " + code(node["pattern"].get<std::string>()));
  if (node.contains("format")) parts.push_back("format " + code(node["format"].get<std::string>()));
  if (node.contains("minLength"))
    parts.push_back("at least " + count_of(node["minLength"], "character", "characters"));
  if (node.contains("maxLength"))
    parts.push_back("at most " + count_of(node["maxLength"], "character", "characters"));
  if (node.contains("minItems")) parts.push_back("at least " + count_of(node["minItems"], "item", "items"));
  if (node.contains("maxItems")) parts.push_back("at most " + count_of(node["maxItems"], "item", "items"));
  if (node.contains("minProperties"))
    parts.push_back("at least " + count_of(node["minProperties"], "entry", "entries"));
  if (node.contains("maxProperties"))
    parts.push_back("at most " + count_of(node["maxProperties"], "entry", "entries"));
  std::string list_type = string_member(node, "x-kubernetes-list-type");
  if (list_type == "set") parts.emplace_back("unique items");
  if (list_type == "map") {
    std::string keys;
    for (const auto& k : node.value("x-kubernetes-list-map-keys", Json::array())) {
      keys += (keys.empty() ? "" : ", ") + code(k.get<std::string>());
    }
    parts.push_back("items unique by " + keys);
  }
  if (flag(node, "nullable")) parts.emplace_back("may be null");
  if (flag(node, "x-kubernetes-preserve-unknown-fields") && string_member(node, "type") == "object") {
    parts.emplace_back("free-form: any fields");
  }
  if (flag(node, "x-kubernetes-embedded-resource")) parts.emplace_back("a Kubernetes object");
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

void field_rows(const Json& node, const std::string& path, std::string& out) {
  auto properties = node.find("properties");
  if (properties != node.end() && properties->is_object()) {
    const Json required = node.value("required", Json::array());
    for (const auto& [name, child] : properties->items()) {
      if (path.empty() && (name == "apiVersion" || name == "kind" || name == "metadata")) continue;
      std::string child_path = path.empty() ? name : path + "." + name;
      std::string default_text;
      if (auto d = child.find("default"); d != child.end()) default_text = code(d->dump());
      out += fmt::format(
          "| {} | {} | {} | {} | {} |\n", code(child_path), cell(type_of(child)), cell(default_text),
          cell(constraints_of(child, std::find(required.begin(), required.end(), name) != required.end())),
          cell(string_member(child, "description")));
      field_rows(child, child_path, out);
    }
  }
  if (auto items = node.find("items"); items != node.end() && items->is_object()) {
    field_rows(*items, path + "[*]", out);
  }
  if (auto values = node.find("additionalProperties"); values != node.end() && values->is_object()) {
    field_rows(*values, path + ".<name>", out);
  }
}

}  // namespace

std::string render_crd_reference(const Json& crd, const std::string& source,
                                 const std::vector<ReferenceExample>& examples) {
  const Json& spec = crd["spec"];
  const Json& names = spec["names"];
  std::string out = fmt::format(
      "<!-- Generated by `riasc crds docs` from {}. Do not edit: change the CRD and regenerate. -->\n\n",
      source);
  out += fmt::format("# {}\n\n", names["kind"].get<std::string>());
  std::string short_names;
  for (const auto& n : names.value("shortNames", Json::array())) {
    short_names += (short_names.empty() ? "" : ", ") + code(n.get<std::string>());
  }
  std::string categories;
  for (const auto& c : names.value("categories", Json::array())) {
    categories += (categories.empty() ? "" : ", ") + code(c.get<std::string>());
  }
  for (const auto& version : spec["versions"]) {
    const Json& schema = version["schema"]["openAPIV3Schema"];
    out += "| | |\n|---|---|\n";
    out += fmt::format("| API version | {} |\n",
                       code(spec["group"].get<std::string>() + "/" + version["name"].get<std::string>()));
    out += fmt::format("| Scope | {} |\n", spec["scope"].get<std::string>() == "Cluster"
                                               ? "cluster-wide (no namespace)"
                                               : "namespaced");
    out += fmt::format("| Resource | {} (singular {}{}) |\n", code(names["plural"].get<std::string>()),
                       code(string_member(names, "singular")),
                       short_names.empty() ? "" : ", short names " + short_names);
    if (!categories.empty())
      out += fmt::format("| Categories | {} (`kubectl get {}` lists it) |\n", categories,
                         names["categories"][0].get<std::string>());
    bool status = version.contains("subresources") && version["subresources"].contains("status");
    out += fmt::format("| Status subresource | {} |\n\n", status ? "yes" : "no");
    if (schema.contains("description")) out += schema["description"].get<std::string>() + "\n\n";

    out += "## Fields\n\n";
    out += "| Field | Type | Default | Constraints | Description |\n|---|---|---|---|---|\n";
    field_rows(schema, "", out);

    if (auto columns = version.find("additionalPrinterColumns"); columns != version.end()) {
      out +=
          "\n## Columns of `kubectl get`\n\n| Column | Type | JSON path | Description |\n|---|---|---|---|\n";
      for (const auto& column : *columns) {
        out += fmt::format("| {} | {} | {} | {} |\n", string_member(column, "name"),
                           string_member(column, "type"), code(string_member(column, "jsonPath")),
                           cell(string_member(column, "description")));
      }
    }
  }
  if (!examples.empty()) {
    out += "\n## Examples\n";
    for (const auto& example : examples) {
      out += fmt::format("\n### {}\n\n```yaml\n{}{}```\n", example.file, example.content,
                         example.content.ends_with('\n') ? "" : "\n");
    }
  }
  return out;
}

}  // namespace riasc::schema
