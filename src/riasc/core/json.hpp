#pragma once

#include <nlohmann/json.hpp>

namespace riasc {

// Objects keep their members in document order, so what we print back (errors, kubectl output,
// generated docs) reads in the order the author wrote it.
using Json = nlohmann::ordered_json;

}  // namespace riasc
