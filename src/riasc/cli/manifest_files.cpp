#include "riasc/cli/manifest_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace riasc::cli {

namespace {

namespace fs = std::filesystem;

bool is_manifest(const fs::path& path) {
  auto extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

void read_file(const fs::path& path, ReadResult& result) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.errors.push_back(fmt::format("{}: cannot read: {}", path.string(),
                                        std::error_code(errno, std::generic_category()).message()));
    return;
  }
  std::ostringstream content;
  content << in.rdbuf();
  result.files.push_back({path.string(), content.str()});
}

}  // namespace

ReadResult read_manifest_paths(const std::vector<std::string>& paths) {
  ReadResult result;
  for (const auto& name : paths) {
    if (name == "-") {
      std::string content{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
      result.files.push_back({"<stdin>", std::move(content)});
      continue;
    }
    std::error_code error;
    fs::path path(name);
    auto status = fs::status(path, error);
    if (error) {
      result.errors.push_back(fmt::format("{}: cannot read: {}", name, error.message()));
      continue;
    }
    if (!fs::is_directory(status)) {
      read_file(path, result);
      continue;
    }
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(path, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file() && is_manifest(it->path())) found.push_back(it->path());
    }
    if (error) result.errors.push_back(fmt::format("{}: cannot list: {}", name, error.message()));
    std::ranges::sort(found);
    for (const auto& file : found) read_file(file, result);
  }
  return result;
}

}  // namespace riasc::cli
