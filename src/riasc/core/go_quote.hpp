#pragma once

#include <string>
#include <string_view>

namespace riasc {

// Go's %q for the ASCII range: what Kubernetes' messages use to quote names, keys and values
// (`namespaces "lab" not found`), so ours read the same.
std::string go_quote(std::string_view text);

}  // namespace riasc
