#pragma once

// Which data plane a node agent uses: `auto` takes the kernel backend where the kernel has
// sch_netem, sch_prio, cls_fw and ifb, and the userspace backend elsewhere; `kernel` and
// `userspace` force one. That is the node's; a profile may still ask for the other one for its
// pods (BackendRouter), which is then made when first needed.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "riasc/netem/backend.hpp"
#include "riasc/netem/userspace_backend.hpp"

namespace riasc::netem {

struct ChosenBackend {
  std::unique_ptr<Backend> backend;
  std::string why;  // for the log: "the kernel lacks sch_netem", "--backend userspace", ...
};

ChosenBackend make_backend(BackendChoice choice, const UserspaceBackendOptions& userspace);

}  // namespace riasc::netem
