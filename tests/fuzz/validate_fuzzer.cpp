// Arbitrary bytes through everything `riasc validate` does: YAML → JSON with positions, CRD
// checking and registration, custom-object pruning, defaulting and validation, diagnostics.
#include <cstddef>
#include <cstdint>
#include <string>

#include "riasc/cli/manifest_validation.hpp"
#include "riasc/kinds/builtin_crds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const riasc::schema::CrdRegistry registry = riasc::kinds::builtin_registry();
  std::vector<riasc::cli::ManifestFile> files{
      {"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)}};
  auto report = riasc::cli::validate_manifests(files, registry);
  for (const auto& diagnostic : report.diagnostics) (void)diagnostic.to_string();
  return 0;
}
