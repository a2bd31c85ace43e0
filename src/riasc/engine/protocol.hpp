#pragma once

// What the agent and the engine say to each other over their socket pair (SOCK_SEQPACKET): one
// JSON object per message, with file descriptors (a TAP, a packet socket) passed alongside as
// SCM_RIGHTS. Requests and their answers (docs/userspace-engine.md has the list):
//   {"op":"attach","id":ID,"options":{...},"seed":N[,"trace":PATH]} + [tap, sender] → {"ok":true}
//   {"op":"change","id":ID,"options":{...}[,"at":MONOTONIC_NS]}                       → {"ok":true}
//   {"op":"detach","id":ID}                                                          → {"ok":true}
//   {"op":"stats"} → {"ok":true,"attachments":{ID:{counters}},"engine":{...}}
// A request that cannot be done is answered {"error":"..."}; the engine goes on.

#include <optional>
#include <span>
#include <vector>

#include "riasc/core/json.hpp"
#include "riasc/core/unique_fd.hpp"
#include "riasc/shaper/shaper.hpp"

namespace riasc::engine {

struct Message {
  Json body;
  std::vector<UniqueFd> fds;
};

// Throws std::system_error; a message larger than 1 MiB is a programming error (std::length_error).
void send_message(int socket, const Json& body, std::span<const int> fds = {});
// nullopt when the other end has closed. Throws std::system_error, std::invalid_argument for a
// message that is not a JSON object.
std::optional<Message> receive_message(int socket);

// The options as JSON: NetemOptions' fields by name, with their units (latency_ns, ...); a trace
// is {"delay_ns": [[offset_ns, delay_ns], ...], "rate_bytes_per_second": [[offset_ns, bytes/s],
// ...], "period_ns": N}.
Json to_json(const shaper::ShaperOptions& options);
// Throws std::invalid_argument naming the field. The shaper checks the values themselves.
shaper::ShaperOptions shaper_options_from_json(const Json& json);

}  // namespace riasc::engine
