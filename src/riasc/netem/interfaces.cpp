#include "riasc/netem/interfaces.hpp"

#include <re2/re2.h>

#include <algorithm>

namespace riasc::netem {

std::optional<std::string> choose_interface(const Band& band, const std::vector<net::Link>& links,
                                            net::Rtnetlink& rtnl) {
  std::vector<std::string> names;
  for (const net::Link& link : links) {
    if (link.name == "lo" || link.kind == "ifb" || link.kind == "tun") continue;
    names.push_back(link.name);
  }
  std::sort(names.begin(), names.end());
  if (band.interface_filter) {
    RE2 filter(*band.interface_filter, RE2::Quiet);
    if (!filter.ok()) return std::nullopt;
    for (const std::string& name : names) {
      if (RE2::FullMatch(name, filter)) return name;
    }
    return std::nullopt;
  }
  auto index = rtnl.default_route_interface();
  if (!index) return std::nullopt;
  for (const net::Link& link : links) {
    if (link.index == *index) return link.name;
  }
  return std::nullopt;
}

}  // namespace riasc::netem
