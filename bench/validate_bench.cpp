// How fast manifests are read and checked: the work the API server will do on every write of a
// RIasC object, and `riasc validate` per document.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "riasc/cli/manifest_validation.hpp"
#include "riasc/core/yaml_document.hpp"
#include "riasc/kinds/builtin_crds.hpp"

namespace {

std::string read(const std::string& relative) {
  std::ifstream in(std::string(RIASC_SOURCE_DIR) + "/" + relative);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

const std::string& profile_text() {
  static const std::string text = read("examples/trafficprofile-builtin.yaml");
  return text;
}

// YAML text → JSON with the position of every value.
void ParseTrafficProfileYaml(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(riasc::parse_yaml_stream(profile_text()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(profile_text().size()));
}
BENCHMARK(ParseTrafficProfileYaml);

// Prune, default and validate one parsed TrafficProfile against its CRD (an API-server write).
void CheckTrafficProfile(benchmark::State& state) {
  const auto& crds = riasc::kinds::builtin_crds();
  const auto object = riasc::parse_yaml_stream(profile_text()).front().value;
  const riasc::schema::CustomResourceDefinition* crd = nullptr;
  for (const auto& c : crds) {
    if (c.kind() == "TrafficProfile") crd = &c;
  }
  for (auto _ : state) benchmark::DoNotOptimize(riasc::schema::check_custom_object(*crd, object));
}
BENCHMARK(CheckTrafficProfile);

// Parse and check the five built-in CRDs (done once per process start).
void LoadBuiltinCrds(benchmark::State& state) {
  for (auto _ : state) {
    for (const auto& file : riasc::embedded_crd_files()) {
      for (const auto& document : riasc::parse_yaml_stream(file.content)) {
        benchmark::DoNotOptimize(riasc::schema::CustomResourceDefinition::from_json(document.value));
      }
    }
  }
}
BENCHMARK(LoadBuiltinCrds)->Unit(benchmark::kMillisecond);

// `riasc validate examples/` without the file reading: every example, end to end.
void ValidateExamples(benchmark::State& state) {
  std::vector<riasc::cli::ManifestFile> files;
  for (const char* name :
       {"trafficprofile-builtin.yaml", "trafficprofile-flexe.yaml", "trafficprofile-delay-jitter.yaml",
        "schedulerconfig-mesh.yaml", "timesyncconfig-gps-grandmaster.yaml", "project-lab-restricted.yaml",
        "chroma4q-three-phase.yaml"}) {
    files.push_back({name, read(std::string("examples/") + name)});
  }
  const auto registry = riasc::kinds::builtin_registry();
  for (auto _ : state) benchmark::DoNotOptimize(riasc::cli::validate_manifests(files, registry));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(files.size()));
}
BENCHMARK(ValidateExamples);

}  // namespace

BENCHMARK_MAIN();
