#pragma once

// Which of a pod's interfaces a band shapes: the one its interfaceFilter matches first (by name),
// else the one of the default route. Shared by every backend; the agent's own devices (IFBs,
// TAPs) and lo are never candidates.

#include <optional>
#include <string>
#include <vector>

#include "riasc/net/rtnetlink.hpp"
#include "riasc/netem/plan.hpp"

namespace riasc::netem {

// `links` and `rtnl` are the pod namespace's. nullopt when nothing fits (or the filter does not
// compile, which validation rules out earlier).
std::optional<std::string> choose_interface(const Band& band, const std::vector<net::Link>& links,
                                            net::Rtnetlink& rtnl);

}  // namespace riasc::netem
