// `riasc traces PROFILE`: a TrafficProfile's per-packet traces on this node, as one CSV. The
// userspace engine writes one file per band (DIR/PROFILE/NAMESPACE_POD_DIRECTION.csv); this puts
// them together with the pod and direction in front of each row, for a spreadsheet or pandas.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "riasc/cli/commands.hpp"

namespace riasc::cli {
namespace {

namespace fs = std::filesystem;

struct TracesFlags {
  std::string profile;
  std::string data_dir = ".riasc";
  std::string trace_dir;  // default DATA_DIR/traces
  std::string output;     // default standard output
};

// "quickstart_controller_egress" → namespace, pod, direction. Namespaces and pod names have no '_'.
struct BandFile {
  fs::path path;
  std::string namespace_name, pod, direction;
};

std::optional<BandFile> band_file(const fs::path& path) {
  if (path.extension() != ".csv") return std::nullopt;
  const std::string stem = path.stem().string();
  const auto first = stem.find('_');
  const auto last = stem.rfind('_');
  if (first == std::string::npos || last == first) return std::nullopt;
  return BandFile{path, stem.substr(0, first), stem.substr(first + 1, last - first - 1),
                  stem.substr(last + 1)};
}

int run_traces(const TracesFlags& flags) {
  const fs::path root =
      flags.trace_dir.empty() ? fs::path(flags.data_dir) / "traces" : fs::path(flags.trace_dir);
  const fs::path directory = root / flags.profile;
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    fmt::print(
        stderr,
        "riasc traces: no traces of TrafficProfile {} in {}: the userspace backend writes them (riasc up "
        "into DATA_DIR/traces, riasc agent with --trace-dir) once a selected pod sends; kernel netem "
        "writes none\n",
        flags.profile, root.string());
    return 1;
  }
  std::vector<BandFile> files;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    if (auto file = band_file(entry.path())) files.push_back(std::move(*file));
  }
  std::sort(files.begin(), files.end(), [](const BandFile& a, const BandFile& b) { return a.path < b.path; });

  std::ofstream file;
  if (!flags.output.empty()) {
    file.open(flags.output, std::ios::binary);
    if (!file) {
      fmt::print(stderr, "riasc traces: cannot write {}\n", flags.output);
      return 1;
    }
  }
  std::ostream& out = flags.output.empty() ? std::cout : file;
  std::string header;
  std::size_t rows = 0;
  for (const BandFile& band : files) {
    std::ifstream in(band.path, std::ios::binary);
    std::string line;
    if (!std::getline(in, line)) continue;
    if (header.empty()) {
      header = line;
      out << "namespace,pod,direction," << header << '\n';
    } else if (line != header) {
      fmt::print(stderr,
                 "riasc traces: {} has the columns \"{}\", not \"{}\" (written by another version?)\n",
                 band.path.string(), line, header);
      return 1;
    }
    const std::string prefix = fmt::format("{},{},{},", band.namespace_name, band.pod, band.direction);
    while (std::getline(in, line)) {
      // The engine may be writing the last line right now: only whole lines count.
      if (in.eof()) break;
      out << prefix << line << '\n';
      ++rows;
    }
  }
  out.flush();
  fmt::print(stderr, "riasc traces: {} packet(s) of TrafficProfile {} from {} band(s) in {}\n", rows,
             flags.profile, files.size(), directory.string());
  return out ? 0 : 1;
}

}  // namespace

void add_traces_command(CLI::App& app) {
  auto flags = std::make_shared<TracesFlags>();
  auto* command = app.add_subcommand(
      "traces",
      "A TrafficProfile's per-packet traces on this node as one CSV: namespace, pod, direction, then the "
      "engine's columns (docs/userspace-engine.md)");
  command->add_option("profile", flags->profile, "The TrafficProfile's name")->required();
  command->add_option("--data-dir", flags->data_dir, "riasc up's data directory (traces in DATA_DIR/traces)")
      ->capture_default_str();
  command->add_option("--trace-dir", flags->trace_dir, "A node agent's --trace-dir instead");
  command->add_option("-o,--output", flags->output, "Write to FILE instead of standard output");
  command->callback([flags] {
    if (int code = run_traces(*flags); code != 0) exit_with(code);
  });
}

}  // namespace riasc::cli
