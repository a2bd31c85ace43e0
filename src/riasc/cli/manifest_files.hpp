#pragma once

// Reading the manifests a user names on the command line.

#include <string>
#include <vector>

namespace riasc::cli {

struct ManifestFile {
  std::string name;  // as shown in messages: the path, or <stdin>
  std::string content;
};

struct ReadResult {
  std::vector<ManifestFile> files;
  std::vector<std::string> errors;  // "path: why", one per path that could not be read
};

// Files are read as named; directories are walked recursively for *.yaml, *.yml and *.json in
// sorted order; "-" reads standard input.
ReadResult read_manifest_paths(const std::vector<std::string>& paths);

}  // namespace riasc::cli
