#include "riasc/netem/backend_choice.hpp"

#include <fmt/format.h>

#include "riasc/netem/kernel_backend.hpp"

namespace riasc::netem {

std::optional<BackendChoice> parse_backend_choice(std::string_view text) {
  if (text == "auto") return BackendChoice::Auto;
  if (text == "kernel") return BackendChoice::Kernel;
  if (text == "userspace") return BackendChoice::Userspace;
  return std::nullopt;
}

ChosenBackend make_backend(BackendChoice choice, const UserspaceBackendOptions& userspace) {
  switch (choice) {
    case BackendChoice::Kernel:
      return {std::make_unique<KernelBackend>(), "chosen by flag"};
    case BackendChoice::Userspace:
      return {std::make_unique<UserspaceBackend>(userspace), "chosen by flag"};
    case BackendChoice::Auto:
      break;
  }
  const std::string missing = missing_kernel_netem_module();
  if (missing.empty()) return {std::make_unique<KernelBackend>(), "the kernel has netem"};
  return {std::make_unique<UserspaceBackend>(userspace), fmt::format("the kernel lacks {}", missing)};
}

}  // namespace riasc::netem
