#pragma once

// Kubernetes Status errors as C++ exceptions, one class per reason a caller branches on, all
// derived from ApiError, so `catch (const client::NotFound&)` reads like client-go's
// `apierrors.IsNotFound(err)`. Transport failures are ConnectionError, not an ApiError: the
// server never answered, so there is no Status.

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "riasc/core/json.hpp"

namespace riasc::client {

// One entry of status.details.causes: for 422 Invalid, a field and what is wrong with it.
struct StatusCause {
  std::string reason;  // FieldValueInvalid, FieldValueRequired, ...
  std::string field;   // spec.size
  std::string message;
};

class ApiError : public std::runtime_error {
 public:
  // `status` is the Status object the server sent (null when the body was not one).
  ApiError(int code, std::string reason, const std::string& message, std::vector<StatusCause> causes = {},
           Json status = nullptr);

  [[nodiscard]] int code() const { return code_; }
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] const std::vector<StatusCause>& causes() const { return causes_; }
  [[nodiscard]] const Json& status() const { return status_; }

 private:
  int code_;
  std::string reason_;
  std::vector<StatusCause> causes_;
  Json status_;
};

class BadRequest : public ApiError {  // 400
 public:
  using ApiError::ApiError;
};
class Unauthorized : public ApiError {  // 401
 public:
  using ApiError::ApiError;
};
class Forbidden : public ApiError {  // 403
 public:
  using ApiError::ApiError;
};
class NotFound : public ApiError {  // 404
 public:
  using ApiError::ApiError;
};
class AlreadyExists : public ApiError {  // 409 AlreadyExists
 public:
  using ApiError::ApiError;
};
class Conflict : public ApiError {  // 409 otherwise: a stale resourceVersion, a failed precondition
 public:
  using ApiError::ApiError;
};
class Gone : public ApiError {  // 410 Gone / Expired: relist
 public:
  using ApiError::ApiError;
};
class Invalid : public ApiError {  // 422, with one cause per field
 public:
  using ApiError::ApiError;
};
class TooManyRequests : public ApiError {  // 429
 public:
  TooManyRequests(ApiError error, std::chrono::seconds retry_after)
      : ApiError(std::move(error)), retry_after_(retry_after) {}
  // From the Retry-After header, else status.details.retryAfterSeconds, else 1 s.
  [[nodiscard]] std::chrono::seconds retry_after() const { return retry_after_; }

 private:
  std::chrono::seconds retry_after_;
};
class ServerError : public ApiError {  // 5xx
 public:
  using ApiError::ApiError;
};

// The server could not be reached or the connection broke: nothing is known about the request.
class ConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws the ApiError subclass for an HTTP error response (`body` a Status object or anything
// else, e.g. a proxy's HTML page). `retry_after` is the Retry-After header, if any.
[[noreturn]] void throw_api_error(int http_status, std::string_view body, std::string_view retry_after = {});

// Throws the ApiError subclass for a Status object, e.g. a watch's ERROR event.
[[noreturn]] void throw_status(const Json& status);

}  // namespace riasc::client
