#pragma once

// Kubernetes protobuf bodies (Content-Type: application/vnd.kubernetes.protobuf).
//
// kubectl >= 1.32 sends typed-client requests as protobuf and has no JSON fallback: a 415 is fatal
// (shared/reference/kube-api-surface.md §6.3). Measured with kubectl 1.32.4: `create namespace`,
// `create configmap|secret|serviceaccount|deployment|role|clusterrole|rolebinding|
// clusterrolebinding`, `auth can-i`, `auth whoami`, `create token` and `debug --copy-to` (a Pod). These
// bodies are decoded here into the JSON object the same command sends with kubectl <= 1.31, so the rest of
// the server sees only JSON. Builder- and dynamic-client commands (apply, create -f, run, get, patch, delete,
// wait) always send JSON.
//
// Responses do not need protobuf: those requests Accept
// "application/vnd.kubernetes.protobuf,application/json" and kubectl takes a JSON answer. The one
// protobuf response kubectl does need is GET /openapi/v2 (`kubectl apply` validation), which
// encode_openapi_v2_stub() produces.
//
// The wire format is read by hand (varints, length-delimited fields, fixed32/64 skipped) instead
// of with libprotobuf: each message is a declarative table (field number -> JSON name and kind,
// numbers from k8s.io/api's generated.proto) walked by one decoder, and generated code for
// k8s.io/api's gogo-protobuf definitions would be a heavy build dependency.

#include <stdexcept>
#include <string>
#include <string_view>

#include "riasc/core/json.hpp"

namespace riasc::kubeapi {

inline constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";
// The Content-Type of the /openapi/v2 answer. The dotted form: Go clients reject the "@" form the
// request's Accept header uses (application/com.github.proto-openapi.spec.v2@v1.0+protobuf).
inline constexpr std::string_view kOpenApiV2ProtobufMediaType =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

// The body is not a well-formed Kubernetes protobuf envelope or message (answer 400 BadRequest).
class ProtobufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A well-formed envelope holding a kind this server does not decode (answer 415
// UnsupportedMediaType; what() names the kind, lists the decoded ones and says to send JSON).
class UnsupportedProtobufKind : public ProtobufError {
 public:
  UnsupportedProtobufKind(std::string api_version, std::string kind);
  [[nodiscard]] const std::string& api_version() const { return api_version_; }
  [[nodiscard]] const std::string& kind() const { return kind_; }

 private:
  std::string api_version_;
  std::string kind_;
};

// runtime.Unknown, the message after the 4-byte magic "k8s\0".
struct ProtobufEnvelope {
  std::string api_version;  // typeMeta.apiVersion, e.g. "v1", "authorization.k8s.io/v1"
  std::string kind;         // typeMeta.kind
  std::string raw;          // the object's own message
  std::string content_encoding;
  std::string content_type;
};

// Whether `body` starts with the magic "k8s\0".
bool has_protobuf_magic(std::string_view body);

// Throws ProtobufError when the magic is missing or the envelope is malformed.
ProtobufEnvelope decode_protobuf_envelope(std::string_view body);

// The body as the JSON object a JSON client would have sent, for
//   v1 Namespace, ConfigMap, Secret, ServiceAccount, Pod, Event
//   apps/v1 Deployment
//   rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding
//   coordination.k8s.io/v1 Lease
//   authorization.k8s.io/v1 SelfSubjectAccessReview
// with metadata {name, generateName, namespace, uid, resourceVersion, generation,
// creationTimestamp, deletionTimestamp, labels, annotations, ownerReferences, finalizers}, and for
// pods and pod templates the commonly used PodSpec fields (containers and initContainers with
// ports, env, envFrom, resources, volumeMounts, probes, lifecycle, securityContext; volumes of
// hostPath, emptyDir, secret, configMap and persistentVolumeClaim; tolerations, affinity,
// nodeSelector, ...). Empty strings, zero numbers and false are left out where the Go field is
// omitempty (proto2 writes them, JSON clients omit them) and kept where it is a pointer; []byte
// becomes base64, Time and MicroTime RFC 3339, Quantity and IntOrString their JSON forms. Fields
// not described (managedFields, status details, rarely used volume types, ...) are skipped.
// Throws UnsupportedProtobufKind for other kinds and ProtobufError for malformed data (including
// strings that are not UTF-8, and a contentEncoding such as gzip).
Json decode_protobuf_body(std::string_view body);

// A gnostic openapi_v2.Document {swagger: "2.0", info: {title, version}, paths: {}}: the smallest
// /openapi/v2 answer kubectl accepts. With no definitions kubectl skips client-side validation
// and relies on the server's. ("fakeapi", "v1.32.0") gives the 31 bytes measured in the reference.
std::string encode_openapi_v2_stub(std::string_view title, std::string_view version);

}  // namespace riasc::kubeapi
