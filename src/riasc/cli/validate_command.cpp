#include <fmt/format.h>

#include <iostream>

#include "riasc/cli/commands.hpp"
#include "riasc/cli/manifest_validation.hpp"
#include "riasc/kinds/builtin_crds.hpp"

namespace riasc::cli {

namespace {

struct ValidateOptions {
  std::vector<std::string> paths;
  bool quiet = false;
};

int run_validate(const ValidateOptions& options) {
  ReadResult input = read_manifest_paths(options.paths);
  for (const auto& error : input.errors) std::cout << error << '\n';
  ValidationReport report = validate_manifests(input.files, kinds::builtin_registry());
  for (const auto& diagnostic : report.diagnostics) {
    if (options.quiet && diagnostic.severity == Diagnostic::Severity::Warning) continue;
    std::cout << diagnostic.to_string() << '\n';
  }
  const std::size_t errors = report.count(Diagnostic::Severity::Error) + input.errors.size();
  const std::size_t warnings = report.count(Diagnostic::Severity::Warning);
  if (!options.quiet) {
    std::cerr << fmt::format("checked {} of {} documents in {} files: {} error{}, {} warning{}\n",
                             report.checked, report.documents, input.files.size(), errors,
                             errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    for (const auto& kind : report.unchecked_kinds) {
      std::cerr << fmt::format("not checked (no schema known for this kind): {}\n", kind);
    }
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto options = std::make_shared<ValidateOptions>();
  auto* command = app.add_subcommand(
      "validate",
      "Check manifests against the RIasC CRDs (and any CRDs among them) before they reach a cluster.\n"
      "Prints one line per problem, file:line:column: field.path: message, and exits 1 if any.");
  command
      ->add_option("paths", options->paths,
                   "Files, directories (searched for *.yaml, *.yml, *.json) or - for standard input")
      ->required();
  command->add_flag("-q,--quiet", options->quiet, "Print errors only: no warnings, no summary");
  command->footer(
      "Examples:\n"
      "  riasc validate examples/\n"
      "  riasc validate my-crd.yaml my-objects.yaml\n"
      "  kubectl get tp -o yaml | riasc validate -");
  command->callback([options] {
    if (int code = run_validate(*options); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli
