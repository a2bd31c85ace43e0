#include "riasc/client/errors.hpp"

#include <fmt/format.h>

#include <charconv>

namespace riasc::client {

namespace {

// The reason kube-apiserver gives with a code, for bodies that are not Status objects.
std::string reason_for(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

std::vector<StatusCause> causes_of(const Json& status) {
  std::vector<StatusCause> causes;
  if (!status.contains("details") || !status["details"].is_object()) return causes;
  const Json& details = status["details"];
  if (!details.contains("causes") || !details["causes"].is_array()) return causes;
  for (const auto& cause : details["causes"]) {
    causes.push_back(
        {string_member(cause, "reason"), string_member(cause, "field"), string_member(cause, "message")});
  }
  return causes;
}

std::chrono::seconds retry_after_of(const Json& status, std::string_view header) {
  long long seconds = 0;
  if (std::from_chars(header.data(), header.data() + header.size(), seconds).ec == std::errc() && seconds > 0)
    return std::chrono::seconds(seconds);
  if (status.contains("details") && status["details"].is_object()) {
    const Json& value = status["details"].value("retryAfterSeconds", Json());
    if (value.is_number_integer() && value.get<long long>() > 0)
      return std::chrono::seconds(value.get<long long>());
  }
  return std::chrono::seconds(1);
}

// Inherited constructors do not include one from the base, so the subclass is built anew.
template <class Error>
[[noreturn]] void raise(const ApiError& base) {
  throw Error(base.code(), base.reason(), base.what(), base.causes(), base.status());
}

[[noreturn]] void throw_for(int code, const Json& status, std::string_view retry_after) {
  std::string reason = string_member(status, "reason");
  if (reason.empty()) reason = reason_for(code);
  std::string message = string_member(status, "message");
  if (message.empty()) message = fmt::format("the server answered {} {}", code, reason);
  ApiError error(code, reason, message, causes_of(status), status);
  switch (code) {
    case 400:
      raise<BadRequest>(error);
    case 401:
      raise<Unauthorized>(error);
    case 403:
      raise<Forbidden>(error);
    case 404:
      raise<NotFound>(error);
    case 409:
      if (reason == "AlreadyExists") raise<AlreadyExists>(error);
      raise<Conflict>(error);
    case 410:
      raise<Gone>(error);
    case 422:
      raise<Invalid>(error);
    case 429:
      throw TooManyRequests(error, retry_after_of(status, retry_after));
    default:
      if (code >= 500) raise<ServerError>(error);
      throw error;
  }
}

}  // namespace

ApiError::ApiError(int code, std::string reason, const std::string& message, std::vector<StatusCause> causes,
                   Json status)
    : std::runtime_error(message),
      code_(code),
      reason_(std::move(reason)),
      causes_(std::move(causes)),
      status_(std::move(status)) {}

void throw_api_error(int http_status, std::string_view body, std::string_view retry_after) {
  Json status = Json::parse(body, nullptr, false);
  if (status.is_discarded() || !status.is_object() || string_member(status, "kind") != "Status") {
    // Not a Status: keep the start of the body, which is all a person can go on.
    constexpr std::size_t kShown = 200;
    Json text = Json::object();
    if (!body.empty())
      text["message"] = fmt::format("the server answered {}: {}", http_status, body.substr(0, kShown));
    throw_for(http_status, text, retry_after);
  }
  throw_for(http_status, status, retry_after);
}

void throw_status(const Json& status) {
  if (!status.is_object()) throw_for(500, Json::object(), {});
  const Json code = status.value("code", Json());
  throw_for(code.is_number_integer() ? code.get<int>() : 500, status, {});
}

}  // namespace riasc::client
