#pragma once

// Where pods/log (`kubectl logs`) reads from: the node runtime (issue 6) writes one file per
// container run under the data folder, and the API server serves them, so logs need no
// connection from the server to the runtime:
//   <root>/<namespace>/<pod>/<container>.log           the current run
//   <root>/<namespace>/<pod>/<container>.previous.log  the run before the last restart

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "riasc/apiserver/object_service.hpp"
#include "riasc/kubeapi/resource_path.hpp"

namespace riasc::apiserver {

class PodLogs {
 public:
  explicit PodLogs(std::filesystem::path root) : root_(std::move(root)) {}

  [[nodiscard]] std::filesystem::path file(std::string_view namespace_name, std::string_view pod,
                                           std::string_view container, bool previous = false) const;

  // The log file the request names for `pod`, or the Status kube-apiserver answers: a container
  // the pod does not have, no container named in a pod with several, nothing logged yet.
  [[nodiscard]] Outcome<std::filesystem::path> locate(const Json& pod,
                                                      const kubeapi::LogParameters& query) const;

  // Where to start reading a file of `size` bytes so that at most `tail_lines` lines follow:
  // reads the file backwards from the end.
  static std::uint64_t tail_offset(const std::filesystem::path& file, std::uint64_t size,
                                   std::int64_t tail_lines);

 private:
  std::filesystem::path root_;
};

}  // namespace riasc::apiserver
