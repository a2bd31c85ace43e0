#include "riasc/netem/backend_choice.hpp"

#include <fmt/format.h>

#include "riasc/netem/backend_router.hpp"
#include "riasc/netem/kernel_backend.hpp"

namespace riasc::netem {

namespace {

// The node's backend, with the other one at hand for the pods whose profiles ask for it.
ChosenBackend routed(bool kernel, const UserspaceBackendOptions& userspace, std::string why) {
  std::unique_ptr<Backend> node;
  BackendRouter::Factory other;
  if (kernel) {
    UserspaceBackend::remove_orphans();  // as the userspace backend does when it is made, if ever
    node = std::make_unique<KernelBackend>();
    other = [userspace] { return std::make_unique<UserspaceBackend>(userspace); };
  } else {
    node = std::make_unique<UserspaceBackend>(userspace);
    other = [] { return std::make_unique<KernelBackend>(); };
  }
  auto remove_leftovers = [](const std::string& backend, const std::string& netns_path) {
    if (backend == "kernel") {
      KernelBackend::remove_leftovers(netns_path);
    } else {
      UserspaceBackend::remove_leftovers(netns_path);
    }
  };
  return {std::make_unique<BackendRouter>(std::move(node), std::move(other), remove_leftovers),
          std::move(why)};
}

}  // namespace

ChosenBackend make_backend(BackendChoice choice, const UserspaceBackendOptions& userspace) {
  switch (choice) {
    case BackendChoice::Kernel:
      return routed(true, userspace, "chosen by flag");
    case BackendChoice::Userspace:
      return routed(false, userspace, "chosen by flag");
    case BackendChoice::Auto:
      break;
  }
  const std::string missing = missing_kernel_netem_module();
  if (missing.empty()) return routed(true, userspace, "the kernel has netem");
  return routed(false, userspace, fmt::format("the kernel lacks {}", missing));
}

}  // namespace riasc::netem
