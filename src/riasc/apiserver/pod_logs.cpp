#include "riasc/apiserver/pod_logs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "riasc/core/go_quote.hpp"
#include "riasc/kubeapi/status.hpp"

namespace riasc::apiserver {

std::filesystem::path PodLogs::file(std::string_view namespace_name, std::string_view pod,
                                    std::string_view container, bool previous) const {
  return root_ / namespace_name / pod / fmt::format("{}{}.log", container, previous ? ".previous" : "");
}

Outcome<std::filesystem::path> PodLogs::locate(const Json& pod, const kubeapi::LogParameters& query) const {
  const std::string name = string_member(pod["metadata"], "name");
  std::vector<std::string> containers;
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& container : pod["spec"].value(list, Json::array())) {
      if (container.is_object()) containers.push_back(string_member(container, "name"));
    }
  }
  std::string container = query.container;
  if (container.empty()) {
    const auto regular = pod["spec"].value("containers", Json::array());
    if (regular.size() != 1) {
      std::string choices;
      for (const auto& c : regular) choices += (choices.empty() ? "" : " ") + string_member(c, "name");
      return ApiError{kubeapi::status_bad_request(
          fmt::format("a container name must be specified for pod {}, choose one of: [{}]", name, choices))};
    }
    container = string_member(regular[0], "name");
  }
  if (std::find(containers.begin(), containers.end(), container) == containers.end()) {
    return ApiError{
        kubeapi::status_bad_request(fmt::format("container {} is not valid for pod {}", container, name))};
  }
  auto path = file(string_member(pod["metadata"], "namespace"), name, container, query.previous);
  if (!std::filesystem::exists(path)) {
    if (query.previous) {
      return ApiError{kubeapi::status_bad_request(fmt::format(
          "previous terminated container {} in pod {} not found", go_quote(container), go_quote(name)))};
    }
    return ApiError{kubeapi::status_bad_request(
        fmt::format("container {} in pod {} is waiting to start", go_quote(container), go_quote(name)))};
  }
  return path;
}

std::uint64_t PodLogs::tail_offset(const std::filesystem::path& file, std::uint64_t size,
                                   std::int64_t tail_lines) {
  if (tail_lines < 0) return 0;
  if (tail_lines == 0) return size;
  std::ifstream in(file, std::ios::binary);
  constexpr std::uint64_t kBlock = 64 * 1024;
  std::vector<char> block(kBlock);
  std::int64_t newlines = 0;
  std::uint64_t end = size;
  // A final newline ends the last line rather than starting an empty one.
  bool skip_final = true;
  while (end > 0) {
    const std::uint64_t begin = end > kBlock ? end - kBlock : 0;
    in.seekg(static_cast<std::streamoff>(begin));
    in.read(block.data(), static_cast<std::streamsize>(end - begin));
    for (std::uint64_t i = end - begin; i-- > 0;) {
      if (block[i] != '\n') {
        skip_final = false;
        continue;
      }
      if (skip_final) {
        skip_final = false;
        continue;
      }
      if (++newlines == tail_lines) return begin + i + 1;
    }
    end = begin;
  }
  return 0;
}

}  // namespace riasc::apiserver
