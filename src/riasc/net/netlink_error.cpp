#include "riasc/net/netlink_error.hpp"

#include <cstring>
#include <utility>

namespace riasc::net {

namespace {

std::string describe(const std::string& operation, int error_code, const std::string& extack) {
  std::string text = operation + ": " + std::strerror(error_code);
  if (!extack.empty()) text += " (kernel: " + extack + ")";
  return text;
}

}  // namespace

NetlinkError::NetlinkError(std::string operation, int error_code, std::string extack,
                           std::string missing_module)
    // copies, not moves: the order in which arguments are evaluated is unspecified
    : NetlinkError(describe(operation, error_code, extack), operation, error_code, extack,
                   std::move(missing_module)) {}

NetlinkError::NetlinkError(std::string what, std::string operation, int error_code, std::string extack,
                           std::string missing_module)
    : std::runtime_error(std::move(what)),
      operation_(std::move(operation)),
      error_code_(error_code),
      extack_(std::move(extack)),
      missing_module_(std::move(missing_module)) {}

NetlinkError NetlinkError::with_message(std::string operation, int error_code, const std::string& message) {
  std::string what = operation + ": " + message;
  return NetlinkError(std::move(what), std::move(operation), error_code, {}, {});
}

}  // namespace riasc::net
