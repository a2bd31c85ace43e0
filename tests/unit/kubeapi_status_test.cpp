#include "riasc/kubeapi/status.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace riasc::kubeapi {
namespace {

const GroupResource kWidgets{"example.com", "widgets"};
const GroupResource kNamespaces{"", "namespaces"};

TEST(StatusTest, GroupResourceAndKindNames) {
  EXPECT_EQ(kWidgets.to_string(), "widgets.example.com");
  EXPECT_EQ(kNamespaces.to_string(), "namespaces");
  EXPECT_EQ((GroupKind{"example.com", "Widget"}.to_string()), "Widget.example.com");
  EXPECT_EQ((GroupKind{"", "Namespace"}.to_string()), "Namespace");
}

// As kube-apiserver answered in the transcripts, without the empty group Go leaves out.
TEST(StatusTest, NotFound) {
  Json status = status_not_found(kWidgets, "nope");
  EXPECT_EQ(status.dump(), R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                           R"("message":"widgets.example.com \"nope\" not found","reason":"NotFound",)"
                           R"("details":{"name":"nope","group":"example.com","kind":"widgets"},"code":404})");
  EXPECT_EQ(status_code(status), 404);
  EXPECT_EQ(status_not_found(kNamespaces, "team").dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"namespaces \"team\" not found","reason":"NotFound",)"
            R"("details":{"name":"team","kind":"namespaces"},"code":404})");
}

TEST(StatusTest, PathNotFound) {
  EXPECT_EQ(status_path_not_found().dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"the server could not find the requested resource","reason":"NotFound",)"
            R"("details":{},"code":404})");
}

TEST(StatusTest, AlreadyExistsAndConflict) {
  EXPECT_EQ(status_already_exists(kWidgets, "w").dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"widgets.example.com \"w\" already exists","reason":"AlreadyExists",)"
            R"("details":{"name":"w","group":"example.com","kind":"widgets"},"code":409})");
  EXPECT_EQ(
      status_conflict(kWidgets, "w").dump(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"Operation cannot be fulfilled on widgets.example.com \"w\": the object has been modified; )"
      R"(please apply your changes to the latest version and try again","reason":"Conflict",)"
      R"("details":{"name":"w","group":"example.com","kind":"widgets"},"code":409})");
  EXPECT_EQ(
      status_conflict(kNamespaces, "team",
                      "Precondition failed: UID in precondition: a, UID in object meta: b")
          .at("message"),
      R"(Operation cannot be fulfilled on namespaces "team": Precondition failed: UID in precondition: a, )"
      R"(UID in object meta: b)");
}

TEST(StatusTest, InvalidFromFieldErrors) {
  FieldErrors errors = {
      {FieldError::Type::Invalid, FieldPath::parse_dotted("spec.size"), 7, "must be less than or equal to 5"},
      {FieldError::Type::Required, FieldPath::parse_dotted("spec.color"), nullptr, ""},
      {FieldError::Type::NotSupported, FieldPath::parse_dotted("spec.mode"), "turbo",
       R"(supported values: "slow", "fast")"},
  };
  EXPECT_EQ(
      status_invalid({"example.com", "Widget"}, "w", errors).dump(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"Widget.example.com \"w\" is invalid: [spec.size: Invalid value: 7: must be less than or )"
      R"(equal to 5, spec.color: Required value, spec.mode: Unsupported value: \"turbo\": supported values: )"
      R"(\"slow\", \"fast\"]","reason":"Invalid",)"
      R"("details":{"name":"w","group":"example.com","kind":"Widget","causes":[)"
      R"({"reason":"FieldValueInvalid","message":"Invalid value: 7: must be less than or equal to 5",)"
      R"("field":"spec.size"},)"
      R"({"reason":"FieldValueRequired","message":"Required value","field":"spec.color"},)"
      R"({"reason":"FieldValueNotSupported","message":"Unsupported value: \"turbo\": supported values: )"
      R"(\"slow\", \"fast\"","field":"spec.mode"}]},"code":422})");
}

TEST(StatusTest, InvalidWithOneOrRepeatedOrNoErrors) {
  FieldError size{FieldError::Type::Invalid, FieldPath::parse_dotted("spec.size"), "big", "must be a number"};
  EXPECT_EQ(status_invalid({"example.com", "Widget"}, "w", {size}).at("message"),
            R"(Widget.example.com "w" is invalid: spec.size: Invalid value: "big": must be a number)");
  // The message names an error once; the causes list each.
  Json repeated = status_invalid({"", "Namespace"}, "Bad", {size, size});
  EXPECT_EQ(repeated.at("message"),
            R"(Namespace "Bad" is invalid: spec.size: Invalid value: "big": must be a number)");
  EXPECT_EQ(repeated.at("details").at("causes").size(), 2U);
  EXPECT_EQ(
      repeated.at("details").dump(),
      R"({"name":"Bad","kind":"Namespace","causes":[)"
      R"({"reason":"FieldValueInvalid","message":"Invalid value: \"big\": must be a number","field":"spec.size"},)"
      R"({"reason":"FieldValueInvalid","message":"Invalid value: \"big\": must be a number","field":"spec.size"}]})");
  EXPECT_EQ(status_invalid({"example.com", "Widget"}, "w", {}).dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Widget.example.com \"w\" is invalid","reason":"Invalid",)"
            R"("details":{"name":"w","group":"example.com","kind":"Widget"},"code":422})");
  // An error on the object itself has no field.
  FieldError whole{FieldError::Type::Forbidden, FieldPath(), nullptr, "the object is read-only"};
  EXPECT_EQ(status_invalid({"example.com", "Widget"}, "w", {whole}).at("details").at("causes").dump(),
            R"([{"reason":"FieldValueForbidden","message":"Forbidden: the object is read-only"}])");
}

TEST(StatusTest, BadRequestAndStrictDecoding) {
  EXPECT_EQ(status_bad_request(R"(unrecognized includeObject value: "x")").dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"unrecognized includeObject value: \"x\"","reason":"BadRequest","code":400})");
  EXPECT_EQ(status_strict_decoding_error("Widget", "v1", {"spec.foo", "spec.bar"}).at("message"),
            R"(Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field )"
            R"("spec.foo", unknown field "spec.bar")");
}

TEST(StatusTest, MethodNotAllowedAndMediaTypes) {
  EXPECT_EQ(
      status_method_not_allowed({"authorization.k8s.io", "selfsubjectaccessreviews"}, "list").dump(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"list is not supported on resources of kind \"selfsubjectaccessreviews.authorization.k8s.io\"",)"
      R"("reason":"MethodNotAllowed",)"
      R"("details":{"group":"authorization.k8s.io","kind":"selfsubjectaccessreviews"},"code":405})");
  // The answer to a strategic merge patch on a custom resource (transcript #50).
  EXPECT_EQ(status_unsupported_media_type(std::vector<std::string>{"application/json-patch+json",
                                                                   "application/merge-patch+json",
                                                                   "application/apply-patch+yaml"})
                .dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"the body of the request was in an unknown format - accepted media types include: )"
            R"(application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",)"
            R"("reason":"UnsupportedMediaType","code":415})");
  EXPECT_EQ(status_unsupported_media_type(std::string_view("no protobuf for apps/v1 Deployment")).at("code"),
            415);
  EXPECT_EQ(
      status_request_entity_too_large("limit is 3145728").dump(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"Request entity too large: limit is 3145728","reason":"RequestEntityTooLarge","code":413})");
}

TEST(StatusTest, ExpiredAndGone) {
  EXPECT_EQ(status_too_old_resource_version(5, 10).dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"x("message":"too old resource version: 5 (10)","reason":"Expired","code":410})x");
  EXPECT_EQ(status_expired("The resourceVersion for the provided watch is too old.").at("reason"), "Expired");
  EXPECT_THAT(status_continue_expired().at("message").get<std::string>(),
              ::testing::StartsWith(
                  "The provided continue parameter is too old to display a consistent list result."));
  EXPECT_EQ(status_code(status_continue_expired()), 410);
  EXPECT_EQ(status_gone("gone").dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"gone","reason":"Gone","code":410})");
}

TEST(StatusTest, Forbidden) {
  AccessAttributes list{"alice", "list", "", "pods", "", "default", "", ""};
  EXPECT_EQ(forbidden_reason(list),
            R"(User "alice" cannot list resource "pods" in API group "" in the namespace "default")");
  EXPECT_EQ(
      status_forbidden(list).dump(),
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
      R"("message":"pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the )"
      R"(namespace \"default\"","reason":"Forbidden","details":{"kind":"pods"},"code":403})");

  AccessAttributes status_update{"system:serviceaccount:lab:op",
                                 "update",
                                 "k8s-netem.riasc.eu",
                                 "trafficprofiles",
                                 "status",
                                 "",
                                 "tp",
                                 ""};
  EXPECT_EQ(
      status_forbidden(status_update).at("message"),
      R"(trafficprofiles.k8s-netem.riasc.eu "tp" is forbidden: User "system:serviceaccount:lab:op" cannot )"
      R"(update resource "trafficprofiles/status" in API group "k8s-netem.riasc.eu" at the cluster scope)");

  AccessAttributes metrics{"bob", "get", "", "", "", "", "", "/metrics"};
  EXPECT_EQ(status_forbidden(metrics).dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"forbidden: User \"bob\" cannot get path \"/metrics\"","reason":"Forbidden",)"
            R"("details":{},"code":403})");
}

TEST(StatusTest, UnauthorizedInternalErrorAndSuccess) {
  EXPECT_EQ(status_unauthorized().dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Unauthorized","reason":"Unauthorized","code":401})");
  EXPECT_EQ(status_internal_error("disk I/O error").dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
            R"("message":"Internal error occurred: disk I/O error","reason":"InternalError",)"
            R"("details":{"causes":[{"message":"disk I/O error"}]},"code":500})");
  Json success = status_success(kWidgets, "wa", "e4920b15");
  EXPECT_EQ(success.dump(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",)"
            R"("details":{"name":"wa","group":"example.com","kind":"widgets","uid":"e4920b15"}})");
  EXPECT_EQ(status_code(success), 0);
}

TEST(StatusTest, NamesAreQuotedLikeGo) {
  EXPECT_EQ(status_not_found(kWidgets, "a\"b\\c\n").at("message"),
            R"(widgets.example.com "a\"b\\c\n" not found)");
}

}  // namespace
}  // namespace riasc::kubeapi
