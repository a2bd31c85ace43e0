#pragma once

// The one error type of the kernel primitives (rtnetlink and nftables): what was being done to
// which object, the errno, the kernel's own words (netlink extended ack) when it gave any, and,
// when the kernel lacks the qdisc, classifier, action or link kind asked for, the module that
// would provide it, so that callers can report "load sch_netem" or fall back to another backend.

#include <stdexcept>
#include <string>

namespace riasc::net {

class NetlinkError : public std::runtime_error {
 public:
  // what(): "<operation>: <strerror(error_code)>" plus " (kernel: <extack>)" when extack is set,
  // e.g. `adding qdisc netem 5250: on eth0 (parent 5249:2): No such file or directory (kernel:
  // Specified qdisc kind is unknown.)`. nftables errors carry nft's message instead of strerror.
  NetlinkError(std::string operation, int error_code, std::string extack, std::string missing_module = {});
  // For errors whose text is not strerror (nft's diagnostics).
  static NetlinkError with_message(std::string operation, int error_code, const std::string& message);

  [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
  [[nodiscard]] int error_code() const noexcept { return error_code_; }  // errno (positive)
  [[nodiscard]] const std::string& extack() const noexcept { return extack_; }
  // "sch_netem", "sch_prio", "cls_fw", "cls_matchall", "act_mirred", "sch_ingress", "ifb", ...
  // when the kernel answered ENOENT/EOPNOTSUPP because it does not know the kind; else "".
  [[nodiscard]] const std::string& missing_module() const noexcept { return missing_module_; }

 private:
  NetlinkError(std::string what, std::string operation, int error_code, std::string extack,
               std::string missing_module);

  std::string operation_;
  int error_code_;
  std::string extack_;
  std::string missing_module_;
};

}  // namespace riasc::net
