#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "riasc/cli/commands.hpp"
#include "riasc/cli/manifest_files.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/kinds/builtin_crds.hpp"
#include "riasc/schema/crd_reference.hpp"

namespace riasc::cli {

namespace {

namespace fs = std::filesystem;

void list_crds() {
  std::cout << fmt::format("{:<36} {:<16} {:<11} {}\n", "NAME", "KIND", "SCOPE", "SHORTNAMES");
  for (const auto& crd : kinds::builtin_crds()) {
    std::string short_names;
    for (const auto& name : crd.source()["spec"]["names"].value("shortNames", Json::array())) {
      short_names += (short_names.empty() ? "" : ",") + name.get<std::string>();
    }
    std::cout << fmt::format("{:<36} {:<16} {:<11} {}\n", crd.name(), crd.kind(),
                             crd.namespaced() ? "Namespaced" : "Cluster", short_names);
  }
}

void print_crds(const std::vector<std::string>& names) {
  bool first = true;
  for (const auto& file : embedded_crd_files()) {
    std::string name(file.name.substr(0, file.name.rfind(".yaml")));
    if (!names.empty() && std::ranges::find(names, name) == names.end()) continue;
    if (!first) std::cout << "---\n";
    std::cout << file.content;
    first = false;
  }
  for (const auto& name : names) {
    bool known =
        std::ranges::any_of(kinds::builtin_crds(), [&](const auto& crd) { return crd.name() == name; });
    if (!known) {
      std::cerr << fmt::format("riasc crds print: no built-in CRD named {}; see `riasc crds list`\n", name);
      exit_with(1);
    }
  }
}

struct DocsOptions {
  std::string output;
  std::string examples = "examples";
  bool check = false;
};

// Examples are the manifests in the examples folder whose apiVersion group and kind match.
std::vector<schema::ReferenceExample> examples_for(const schema::CustomResourceDefinition& crd,
                                                   const std::vector<ManifestFile>& files) {
  std::vector<schema::ReferenceExample> out;
  for (const auto& file : files) {
    std::vector<YamlDocument> documents;
    try {
      documents = parse_yaml_stream(file.content);
    } catch (const YamlError&) {
      continue;  // `riasc validate` reports it
    }
    bool matches = std::ranges::any_of(documents, [&](const YamlDocument& d) {
      return d.value.is_object() && string_member(d.value, "kind") == crd.kind() &&
             schema::split_api_version(string_member(d.value, "apiVersion")).first == crd.group();
    });
    if (matches) out.push_back({file.name, file.content});
  }
  return out;
}

int write_docs(const DocsOptions& options) {
  ReadResult examples = read_manifest_paths({options.examples});
  for (const auto& error : examples.errors) std::cerr << error << '\n';
  int stale = 0;
  for (std::size_t i = 0; i < kinds::builtin_crds().size(); ++i) {
    const auto& crd = kinds::builtin_crds()[i];
    std::string source = "api/crds/" + std::string(embedded_crd_files()[i].name);
    std::string page = schema::render_crd_reference(crd.source(), source, examples_for(crd, examples.files));
    std::string lower = crd.kind();
    std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
    fs::path target = fs::path(options.output) / (lower + ".md");
    if (options.check) {
      std::ifstream in(target);
      std::stringstream current;
      current << in.rdbuf();
      if (!in || current.str() != page) {
        std::cout << fmt::format("{}: out of date with {}\n", target.string(), source);
        ++stale;
      }
      continue;
    }
    fs::create_directories(target.parent_path());
    std::ofstream(target) << page;
    std::cerr << fmt::format("wrote {}\n", target.string());
  }
  if (stale > 0) {
    std::cout << fmt::format("{} page(s) stale: run `build/riasc crds docs {}` and commit the result\n",
                             stale, options.output);
    return 1;
  }
  return 0;
}

}  // namespace

void add_crds_command(CLI::App& app) {
  auto* crds = app.add_subcommand("crds", "The RIasC CustomResourceDefinitions built into this binary");
  crds->require_subcommand(1);

  crds->add_subcommand("list", "List the built-in CRDs")->callback(list_crds);

  auto names = std::make_shared<std::vector<std::string>>();
  auto* print = crds->add_subcommand(
      "print",
      "Print CRDs as YAML, e.g. to install them on a cluster: riasc crds print | kubectl apply -f -");
  print->add_option("names", *names, "CRD names (default: all), e.g. trafficprofiles.k8s-netem.riasc.eu");
  print->callback([names] { print_crds(*names); });

  auto docs_options = std::make_shared<DocsOptions>();
  auto* docs =
      crds->add_subcommand("docs", "Write one Markdown reference page per CRD, generated from the CRD");
  docs->add_option("output", docs_options->output, "Folder for the pages, e.g. docs/crds")->required();
  docs->add_option("--examples", docs_options->examples, "Folder of example manifests to include")
      ->capture_default_str();
  docs->add_flag("--check", docs_options->check,
                 "Write nothing; exit 1 if any page differs from what would be generated");
  docs->callback([docs_options] {
    if (int code = write_docs(*docs_options); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli
