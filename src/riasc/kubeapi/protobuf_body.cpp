#include "riasc/kubeapi/protobuf_body.hpp"

#include "riasc/core/base64.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace riasc::kubeapi {

namespace {

constexpr std::string_view kMagic{"k8s\0", 4};

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

[[noreturn]] void malformed(std::string_view what) {
  throw ProtobufError(fmt::format("malformed protobuf body: {}", what));
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0U) == 0xC0) {
      length = 2;
      code = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0) {
      length = 3;
      code = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0) {
      length = 4;
      code = c & 0x07U;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0U) != 0x80) return false;
      code = (code << 6U) | (next & 0x3FU);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((length == 2 && code < 0x80) || (length == 3 && code < 0x800) || (length == 4 && code < 0x10000) ||
        (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return false;
    }
    i += length;
  }
  return true;
}

// One field of a message as it is on the wire.
struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire_type = 0;
  std::uint64_t varint = 0;  // kVarint
  std::string_view bytes;    // kLengthDelimited
};

// Walks the fields of one message. `message` (and `member`, for a map entry: "ObjectMeta" and
// "labels") name it in errors.
class Reader {
 public:
  Reader(std::string_view data, std::string_view message, std::string_view member = {})
      : data_(data), message_(message), member_(member) {}

  bool next(Field& field) {
    if (pos_ >= data_.size()) return false;
    std::uint64_t tag = varint();
    field.number = static_cast<std::uint32_t>(tag >> 3U);
    field.wire_type = static_cast<std::uint32_t>(tag & 7U);
    if (field.number == 0 || (tag >> 3U) > 0x1FFFFFFF) fail("a field number out of range");
    switch (field.wire_type) {
      case kVarint:
        field.varint = varint();
        break;
      case kFixed64:
        skip(8);
        break;
      case kFixed32:
        skip(4);
        break;
      case kLengthDelimited: {
        std::uint64_t length = varint();
        if (length > data_.size() - pos_)
          fail(fmt::format("field {} runs past the end of the message", field.number));
        field.bytes = data_.substr(pos_, static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        break;
      }
      default:
        fail(fmt::format("field {} has wire type {}, which Kubernetes messages do not use", field.number,
                         field.wire_type));
    }
    return true;
  }

  // The next varint of a packed repeated field; false at the end.
  bool next_packed(std::uint64_t& value) {
    if (pos_ >= data_.size()) return false;
    value = varint();
    return true;
  }

  [[noreturn]] void fail(std::string_view what) const {
    if (member_.empty()) malformed(fmt::format("{}: {}", message_, what));
    malformed(fmt::format("{}.{}: {}", message_, member_, what));
  }

  void expect(const Field& field, std::uint32_t wire_type) const {
    if (field.wire_type != wire_type) {
      fail(fmt::format("field {} has wire type {}, expected {}", field.number, field.wire_type, wire_type));
    }
  }

  std::string string(const Field& field) const {
    expect(field, kLengthDelimited);
    if (!valid_utf8(field.bytes)) fail(fmt::format("field {} is not valid UTF-8", field.number));
    return std::string(field.bytes);
  }

  std::string_view bytes(const Field& field) const {
    expect(field, kLengthDelimited);
    return field.bytes;
  }

  std::int64_t int64(const Field& field) const {
    expect(field, kVarint);
    return static_cast<std::int64_t>(field.varint);
  }

  bool boolean(const Field& field) const {
    expect(field, kVarint);
    return field.varint != 0;
  }

 private:
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("a varint runs past the end of the message");
      auto byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7FU) << shift;
      if ((byte & 0x80U) == 0) return value;
    }
    fail("a varint is longer than 10 bytes");
  }

  void skip(std::size_t count) {
    if (count > data_.size() - pos_) fail("a fixed-size field runs past the end of the message");
    pos_ += count;
  }

  std::string_view data_;
  std::string_view message_;
  std::string_view member_;
  std::size_t pos_ = 0;
};

// --- message descriptions ------------------------------------------------------------------------
//
// One table per gogo-protobuf message of k8s.io/api and k8s.io/apimachinery (field numbers from
// their generated.proto), listing the fields the server understands in the order of the Go struct,
// which is the order a JSON client writes them. Fields not listed are skipped.

enum class Type : std::uint8_t {
  kString,
  kBytes,  // JSON: base64
  kInt32,
  kInt64,
  kBool,
  kMessage,      // a nested object described by `message`
  kInline,       // an embedded Go struct (`json:",inline"`): its fields go into the enclosing object
  kStringMap,    // map<string, string>
  kBytesMap,     // map<string, bytes>: values base64
  kQuantityMap,  // map<string, resource.Quantity>: values strings
  kTime,         // meta.v1.Time {1 seconds, 2 nanos}: RFC 3339 to the second
  kMicroTime,    // meta.v1.MicroTime: RFC 3339 with microseconds
  kQuantity,     // resource.Quantity {1 string}: a JSON string
  kIntOrString,  // intstr.IntOrString {1 type, 2 intVal, 3 strVal}: a JSON number or string
};

// Without flags a field is a non-pointer Go field tagged omitempty: "", 0, false and the zero time
// are left out (proto2 writes them, JSON clients do not).
enum FieldFlag : std::uint8_t {
  kRepeated = 1U,  // a list (elements are kept as they are, "" included)
  kKeep = 2U,      // a pointer field, or one without omitempty: zero values that arrive are kept
  kAlways = 4U,    // written by JSON clients even when unset (the zero value; null for a time or list)
};

struct MessageSpec;

struct FieldSpec {
  std::uint32_t number;
  std::string_view json;
  Type type;
  std::uint8_t flags;
  const MessageSpec* message;
};

struct MessageSpec {
  std::string_view name;
  std::span<const FieldSpec> fields;
};

constexpr FieldSpec str(std::uint32_t number, std::string_view json, std::uint8_t flags = 0) {
  return {number, json, Type::kString, flags, nullptr};
}
constexpr FieldSpec i32(std::uint32_t number, std::string_view json, std::uint8_t flags = 0) {
  return {number, json, Type::kInt32, flags, nullptr};
}
constexpr FieldSpec i64(std::uint32_t number, std::string_view json, std::uint8_t flags = 0) {
  return {number, json, Type::kInt64, flags, nullptr};
}
constexpr FieldSpec boolean(std::uint32_t number, std::string_view json, std::uint8_t flags = 0) {
  return {number, json, Type::kBool, flags, nullptr};
}
constexpr FieldSpec msg(std::uint32_t number, std::string_view json, const MessageSpec& message,
                        std::uint8_t flags = 0) {
  return {number, json, Type::kMessage, flags, &message};
}
constexpr FieldSpec inlined(std::uint32_t number, const MessageSpec& message) {
  return {number, "", Type::kInline, 0, &message};
}
constexpr FieldSpec of(std::uint32_t number, std::string_view json, Type type, std::uint8_t flags = 0) {
  return {number, json, type, flags, nullptr};
}

// NOLINTBEGIN(cppcoreguidelines-macro-usage): one line per message keeps the tables readable.
#define RIASC_PROTO_MESSAGE(var, name, ...)          \
  constexpr FieldSpec var##Fields[] = {__VA_ARGS__}; \
  constexpr MessageSpec var{name, var##Fields};
// NOLINTEND(cppcoreguidelines-macro-usage)

// k8s.io/apimachinery meta/v1.
RIASC_PROTO_MESSAGE(kOwnerReference, "OwnerReference", str(5, "apiVersion"), str(1, "kind"), str(3, "name"),
                    str(4, "uid"), boolean(6, "controller", kKeep), boolean(7, "blockOwnerDeletion", kKeep))

// ObjectMeta without selfLink, deletionGracePeriodSeconds and managedFields, which a client has no
// business sending. A JSON client writes creationTimestamp: null; the server overwrites it at the
// top level, but keeps it inside a pod template, so there it is kept as null.
constexpr std::array<FieldSpec, 12> object_meta_fields(std::uint8_t created) {
  return {{str(1, "name"), str(2, "generateName"), str(3, "namespace"), str(5, "uid"),
           str(6, "resourceVersion"), i64(7, "generation"), of(8, "creationTimestamp", Type::kTime, created),
           of(9, "deletionTimestamp", Type::kTime), of(11, "labels", Type::kStringMap),
           of(12, "annotations", Type::kStringMap), msg(13, "ownerReferences", kOwnerReference, kRepeated),
           str(14, "finalizers", kRepeated)}};
}
constexpr auto kObjectMetaFields = object_meta_fields(0);
constexpr MessageSpec kObjectMeta{"ObjectMeta", kObjectMetaFields};
constexpr auto kTemplateMetaFields = object_meta_fields(kAlways);
constexpr MessageSpec kTemplateMeta{"ObjectMeta", kTemplateMetaFields};

RIASC_PROTO_MESSAGE(kLabelSelectorRequirement, "LabelSelectorRequirement", str(1, "key", kKeep),
                    str(2, "operator", kKeep), str(3, "values", kRepeated))
RIASC_PROTO_MESSAGE(kLabelSelector, "LabelSelector", of(1, "matchLabels", Type::kStringMap),
                    msg(2, "matchExpressions", kLabelSelectorRequirement, kRepeated))

// core/v1: the pieces of a PodSpec.
RIASC_PROTO_MESSAGE(kLocalObjectReference, "LocalObjectReference", str(1, "name"))
RIASC_PROTO_MESSAGE(kObjectReference, "ObjectReference", str(1, "kind"), str(2, "namespace"), str(3, "name"),
                    str(4, "uid"), str(5, "apiVersion"), str(6, "resourceVersion"), str(7, "fieldPath"))
RIASC_PROTO_MESSAGE(kKeyToPath, "KeyToPath", str(1, "key", kKeep), str(2, "path", kKeep),
                    i32(3, "mode", kKeep))
RIASC_PROTO_MESSAGE(kContainerPort, "ContainerPort", str(1, "name"), i32(2, "hostPort"),
                    i32(3, "containerPort", kKeep), str(4, "protocol"), str(5, "hostIP"))
RIASC_PROTO_MESSAGE(kObjectFieldSelector, "ObjectFieldSelector", str(1, "apiVersion"),
                    str(2, "fieldPath", kKeep))
RIASC_PROTO_MESSAGE(kResourceFieldSelector, "ResourceFieldSelector", str(1, "containerName"),
                    str(2, "resource", kKeep), of(3, "divisor", Type::kQuantity))
RIASC_PROTO_MESSAGE(kConfigMapKeySelector, "ConfigMapKeySelector", inlined(1, kLocalObjectReference),
                    str(2, "key", kKeep), boolean(3, "optional", kKeep))
RIASC_PROTO_MESSAGE(kSecretKeySelector, "SecretKeySelector", inlined(1, kLocalObjectReference),
                    str(2, "key", kKeep), boolean(3, "optional", kKeep))
RIASC_PROTO_MESSAGE(kEnvVarSource, "EnvVarSource", msg(1, "fieldRef", kObjectFieldSelector),
                    msg(2, "resourceFieldRef", kResourceFieldSelector),
                    msg(3, "configMapKeyRef", kConfigMapKeySelector),
                    msg(4, "secretKeyRef", kSecretKeySelector))
RIASC_PROTO_MESSAGE(kEnvVar, "EnvVar", str(1, "name", kKeep), str(2, "value"),
                    msg(3, "valueFrom", kEnvVarSource))
RIASC_PROTO_MESSAGE(kConfigMapEnvSource, "ConfigMapEnvSource", inlined(1, kLocalObjectReference),
                    boolean(2, "optional", kKeep))
RIASC_PROTO_MESSAGE(kSecretEnvSource, "SecretEnvSource", inlined(1, kLocalObjectReference),
                    boolean(2, "optional", kKeep))
RIASC_PROTO_MESSAGE(kEnvFromSource, "EnvFromSource", str(1, "prefix"),
                    msg(2, "configMapRef", kConfigMapEnvSource), msg(3, "secretRef", kSecretEnvSource))
RIASC_PROTO_MESSAGE(kResourceClaim, "ResourceClaim", str(1, "name", kKeep), str(2, "request"))
RIASC_PROTO_MESSAGE(kResourceRequirements, "ResourceRequirements", of(1, "limits", Type::kQuantityMap),
                    of(2, "requests", Type::kQuantityMap), msg(3, "claims", kResourceClaim, kRepeated))
RIASC_PROTO_MESSAGE(kVolumeMount, "VolumeMount", str(1, "name", kKeep), boolean(2, "readOnly"),
                    str(7, "recursiveReadOnly", kKeep), str(3, "mountPath", kKeep), str(4, "subPath"),
                    str(5, "mountPropagation", kKeep), str(6, "subPathExpr"))
RIASC_PROTO_MESSAGE(kVolumeDevice, "VolumeDevice", str(1, "name", kKeep), str(2, "devicePath", kKeep))
RIASC_PROTO_MESSAGE(kExecAction, "ExecAction", str(1, "command", kRepeated))
RIASC_PROTO_MESSAGE(kHTTPHeader, "HTTPHeader", str(1, "name", kKeep), str(2, "value", kKeep))
RIASC_PROTO_MESSAGE(kHTTPGetAction, "HTTPGetAction", str(1, "path"), of(2, "port", Type::kIntOrString, kKeep),
                    str(3, "host"), str(4, "scheme"), msg(5, "httpHeaders", kHTTPHeader, kRepeated))
RIASC_PROTO_MESSAGE(kTCPSocketAction, "TCPSocketAction", of(1, "port", Type::kIntOrString, kKeep),
                    str(2, "host"))
RIASC_PROTO_MESSAGE(kGRPCAction, "GRPCAction", i32(1, "port", kKeep), str(2, "service", kKeep))
RIASC_PROTO_MESSAGE(kSleepAction, "SleepAction", i64(1, "seconds", kKeep))
RIASC_PROTO_MESSAGE(kProbeHandler, "ProbeHandler", msg(1, "exec", kExecAction),
                    msg(2, "httpGet", kHTTPGetAction), msg(3, "tcpSocket", kTCPSocketAction),
                    msg(4, "grpc", kGRPCAction))
RIASC_PROTO_MESSAGE(kProbe, "Probe", inlined(1, kProbeHandler), i32(2, "initialDelaySeconds"),
                    i32(3, "timeoutSeconds"), i32(4, "periodSeconds"), i32(5, "successThreshold"),
                    i32(6, "failureThreshold"), i64(7, "terminationGracePeriodSeconds", kKeep))
RIASC_PROTO_MESSAGE(kLifecycleHandler, "LifecycleHandler", msg(1, "exec", kExecAction),
                    msg(2, "httpGet", kHTTPGetAction), msg(3, "tcpSocket", kTCPSocketAction),
                    msg(4, "sleep", kSleepAction))
RIASC_PROTO_MESSAGE(kLifecycle, "Lifecycle", msg(1, "postStart", kLifecycleHandler),
                    msg(2, "preStop", kLifecycleHandler), str(3, "stopSignal", kKeep))
RIASC_PROTO_MESSAGE(kCapabilities, "Capabilities", str(1, "add", kRepeated), str(2, "drop", kRepeated))
RIASC_PROTO_MESSAGE(kSELinuxOptions, "SELinuxOptions", str(1, "user"), str(2, "role"), str(3, "type"),
                    str(4, "level"))
RIASC_PROTO_MESSAGE(kSeccompProfile, "SeccompProfile", str(1, "type", kKeep),
                    str(2, "localhostProfile", kKeep))
RIASC_PROTO_MESSAGE(kSecurityContext, "SecurityContext", msg(1, "capabilities", kCapabilities),
                    boolean(2, "privileged", kKeep), msg(3, "seLinuxOptions", kSELinuxOptions),
                    i64(4, "runAsUser", kKeep), i64(8, "runAsGroup", kKeep),
                    boolean(5, "runAsNonRoot", kKeep), boolean(6, "readOnlyRootFilesystem", kKeep),
                    boolean(7, "allowPrivilegeEscalation", kKeep), str(9, "procMount", kKeep),
                    msg(11, "seccompProfile", kSeccompProfile))
RIASC_PROTO_MESSAGE(kContainer, "Container", str(1, "name", kKeep), str(2, "image"),
                    str(3, "command", kRepeated), str(4, "args", kRepeated), str(5, "workingDir"),
                    msg(6, "ports", kContainerPort, kRepeated), msg(19, "envFrom", kEnvFromSource, kRepeated),
                    msg(7, "env", kEnvVar, kRepeated), msg(8, "resources", kResourceRequirements),
                    str(24, "restartPolicy", kKeep), msg(9, "volumeMounts", kVolumeMount, kRepeated),
                    msg(21, "volumeDevices", kVolumeDevice, kRepeated), msg(10, "livenessProbe", kProbe),
                    msg(11, "readinessProbe", kProbe), msg(22, "startupProbe", kProbe),
                    msg(12, "lifecycle", kLifecycle), str(13, "terminationMessagePath"),
                    str(20, "terminationMessagePolicy"), str(14, "imagePullPolicy"),
                    msg(15, "securityContext", kSecurityContext), boolean(16, "stdin"),
                    boolean(17, "stdinOnce"), boolean(18, "tty"))
RIASC_PROTO_MESSAGE(kHostPathVolumeSource, "HostPathVolumeSource", str(1, "path", kKeep),
                    str(2, "type", kKeep))
RIASC_PROTO_MESSAGE(kEmptyDirVolumeSource, "EmptyDirVolumeSource", str(1, "medium"),
                    of(2, "sizeLimit", Type::kQuantity, kKeep))
RIASC_PROTO_MESSAGE(kSecretVolumeSource, "SecretVolumeSource", str(1, "secretName"),
                    msg(2, "items", kKeyToPath, kRepeated), i32(3, "defaultMode", kKeep),
                    boolean(4, "optional", kKeep))
RIASC_PROTO_MESSAGE(kPersistentVolumeClaimVolumeSource, "PersistentVolumeClaimVolumeSource",
                    str(1, "claimName", kKeep), boolean(2, "readOnly"))
RIASC_PROTO_MESSAGE(kConfigMapVolumeSource, "ConfigMapVolumeSource", inlined(1, kLocalObjectReference),
                    msg(2, "items", kKeyToPath, kRepeated), i32(3, "defaultMode", kKeep),
                    boolean(4, "optional", kKeep))
RIASC_PROTO_MESSAGE(kVolumeSource, "VolumeSource", msg(1, "hostPath", kHostPathVolumeSource),
                    msg(2, "emptyDir", kEmptyDirVolumeSource), msg(6, "secret", kSecretVolumeSource),
                    msg(10, "persistentVolumeClaim", kPersistentVolumeClaimVolumeSource),
                    msg(19, "configMap", kConfigMapVolumeSource))
RIASC_PROTO_MESSAGE(kVolume, "Volume", str(1, "name", kKeep), inlined(2, kVolumeSource))
RIASC_PROTO_MESSAGE(kSysctl, "Sysctl", str(1, "name", kKeep), str(2, "value", kKeep))
RIASC_PROTO_MESSAGE(kPodSecurityContext, "PodSecurityContext", msg(1, "seLinuxOptions", kSELinuxOptions),
                    i64(2, "runAsUser", kKeep), i64(6, "runAsGroup", kKeep),
                    boolean(3, "runAsNonRoot", kKeep), i64(4, "supplementalGroups", kRepeated),
                    i64(5, "fsGroup", kKeep), msg(7, "sysctls", kSysctl, kRepeated),
                    str(9, "fsGroupChangePolicy", kKeep), msg(10, "seccompProfile", kSeccompProfile))
RIASC_PROTO_MESSAGE(kNodeSelectorRequirement, "NodeSelectorRequirement", str(1, "key", kKeep),
                    str(2, "operator", kKeep), str(3, "values", kRepeated))
RIASC_PROTO_MESSAGE(kNodeSelectorTerm, "NodeSelectorTerm",
                    msg(1, "matchExpressions", kNodeSelectorRequirement, kRepeated),
                    msg(2, "matchFields", kNodeSelectorRequirement, kRepeated))
RIASC_PROTO_MESSAGE(kNodeSelector, "NodeSelector", msg(1, "nodeSelectorTerms", kNodeSelectorTerm, kRepeated))
RIASC_PROTO_MESSAGE(kPreferredSchedulingTerm, "PreferredSchedulingTerm", i32(1, "weight", kKeep),
                    msg(2, "preference", kNodeSelectorTerm, kAlways))
RIASC_PROTO_MESSAGE(kNodeAffinity, "NodeAffinity",
                    msg(1, "requiredDuringSchedulingIgnoredDuringExecution", kNodeSelector),
                    msg(2, "preferredDuringSchedulingIgnoredDuringExecution", kPreferredSchedulingTerm,
                        kRepeated))
RIASC_PROTO_MESSAGE(kPodAffinityTerm, "PodAffinityTerm", msg(1, "labelSelector", kLabelSelector),
                    str(2, "namespaces", kRepeated), str(3, "topologyKey", kKeep),
                    msg(4, "namespaceSelector", kLabelSelector), str(5, "matchLabelKeys", kRepeated),
                    str(6, "mismatchLabelKeys", kRepeated))
RIASC_PROTO_MESSAGE(kWeightedPodAffinityTerm, "WeightedPodAffinityTerm", i32(1, "weight", kKeep),
                    msg(2, "podAffinityTerm", kPodAffinityTerm, kAlways))
RIASC_PROTO_MESSAGE(kPodAffinity, "PodAffinity",
                    msg(1, "requiredDuringSchedulingIgnoredDuringExecution", kPodAffinityTerm, kRepeated),
                    msg(2, "preferredDuringSchedulingIgnoredDuringExecution", kWeightedPodAffinityTerm,
                        kRepeated))
RIASC_PROTO_MESSAGE(kAffinity, "Affinity", msg(1, "nodeAffinity", kNodeAffinity),
                    msg(2, "podAffinity", kPodAffinity), msg(3, "podAntiAffinity", kPodAffinity))
RIASC_PROTO_MESSAGE(kToleration, "Toleration", str(1, "key"), str(2, "operator"), str(3, "value"),
                    str(4, "effect"), i64(5, "tolerationSeconds", kKeep))
RIASC_PROTO_MESSAGE(kHostAlias, "HostAlias", str(1, "ip", kKeep), str(2, "hostnames", kRepeated))
RIASC_PROTO_MESSAGE(kPodDNSConfigOption, "PodDNSConfigOption", str(1, "name"), str(2, "value", kKeep))
RIASC_PROTO_MESSAGE(kPodDNSConfig, "PodDNSConfig", str(1, "nameservers", kRepeated),
                    str(2, "searches", kRepeated), msg(3, "options", kPodDNSConfigOption, kRepeated))
RIASC_PROTO_MESSAGE(kPodReadinessGate, "PodReadinessGate", str(1, "conditionType", kKeep))
RIASC_PROTO_MESSAGE(kTopologySpreadConstraint, "TopologySpreadConstraint", i32(1, "maxSkew", kKeep),
                    str(2, "topologyKey", kKeep), str(3, "whenUnsatisfiable", kKeep),
                    msg(4, "labelSelector", kLabelSelector), i32(5, "minDomains", kKeep),
                    str(6, "nodeAffinityPolicy", kKeep), str(7, "nodeTaintsPolicy", kKeep),
                    str(8, "matchLabelKeys", kRepeated))
RIASC_PROTO_MESSAGE(kPodOS, "PodOS", str(1, "name", kKeep))
RIASC_PROTO_MESSAGE(kPodSchedulingGate, "PodSchedulingGate", str(1, "name", kKeep))
RIASC_PROTO_MESSAGE(
    kPodSpec, "PodSpec", msg(1, "volumes", kVolume, kRepeated),
    msg(20, "initContainers", kContainer, kRepeated), msg(2, "containers", kContainer, kRepeated | kAlways),
    str(3, "restartPolicy"), i64(4, "terminationGracePeriodSeconds", kKeep),
    i64(5, "activeDeadlineSeconds", kKeep), str(6, "dnsPolicy"), of(7, "nodeSelector", Type::kStringMap),
    str(8, "serviceAccountName"), str(9, "serviceAccount"),
    boolean(21, "automountServiceAccountToken", kKeep), str(10, "nodeName"), boolean(11, "hostNetwork"),
    boolean(12, "hostPID"), boolean(13, "hostIPC"), boolean(27, "shareProcessNamespace", kKeep),
    msg(14, "securityContext", kPodSecurityContext),
    msg(15, "imagePullSecrets", kLocalObjectReference, kRepeated), str(16, "hostname"), str(17, "subdomain"),
    msg(18, "affinity", kAffinity), str(19, "schedulerName"), msg(22, "tolerations", kToleration, kRepeated),
    msg(23, "hostAliases", kHostAlias, kRepeated), str(24, "priorityClassName"), i32(25, "priority", kKeep),
    msg(26, "dnsConfig", kPodDNSConfig), msg(28, "readinessGates", kPodReadinessGate, kRepeated),
    str(29, "runtimeClassName", kKeep), boolean(30, "enableServiceLinks", kKeep),
    str(31, "preemptionPolicy", kKeep), of(32, "overhead", Type::kQuantityMap),
    msg(33, "topologySpreadConstraints", kTopologySpreadConstraint, kRepeated),
    boolean(35, "setHostnameAsFQDN", kKeep), msg(36, "os", kPodOS), boolean(37, "hostUsers", kKeep),
    msg(38, "schedulingGates", kPodSchedulingGate, kRepeated), msg(40, "resources", kResourceRequirements))
RIASC_PROTO_MESSAGE(kPodCondition, "PodCondition", str(1, "type", kKeep), str(2, "status", kKeep),
                    of(3, "lastProbeTime", Type::kTime, kAlways),
                    of(4, "lastTransitionTime", Type::kTime, kAlways), str(5, "reason"), str(6, "message"))
RIASC_PROTO_MESSAGE(kPodStatus, "PodStatus", str(1, "phase"), msg(2, "conditions", kPodCondition, kRepeated),
                    str(3, "message"), str(4, "reason"), str(11, "nominatedNodeName"), str(5, "hostIP"),
                    str(6, "podIP"), of(7, "startTime", Type::kTime, kKeep), str(9, "qosClass"))
RIASC_PROTO_MESSAGE(kPodTemplateSpec, "PodTemplateSpec", msg(1, "metadata", kTemplateMeta, kAlways),
                    msg(2, "spec", kPodSpec))

// core/v1 kinds.
RIASC_PROTO_MESSAGE(kNamespaceSpec, "NamespaceSpec", str(1, "finalizers", kRepeated))
RIASC_PROTO_MESSAGE(kNamespaceStatus, "NamespaceStatus", str(1, "phase"))
RIASC_PROTO_MESSAGE(kNamespace, "Namespace", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "spec", kNamespaceSpec), msg(3, "status", kNamespaceStatus))
RIASC_PROTO_MESSAGE(kConfigMap, "ConfigMap", msg(1, "metadata", kObjectMeta, kAlways),
                    boolean(4, "immutable", kKeep), of(2, "data", Type::kStringMap),
                    of(3, "binaryData", Type::kBytesMap))
RIASC_PROTO_MESSAGE(kSecret, "Secret", msg(1, "metadata", kObjectMeta, kAlways),
                    boolean(5, "immutable", kKeep), of(2, "data", Type::kBytesMap),
                    of(4, "stringData", Type::kStringMap), str(3, "type"))
RIASC_PROTO_MESSAGE(kServiceAccount, "ServiceAccount", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "secrets", kObjectReference, kRepeated),
                    msg(3, "imagePullSecrets", kLocalObjectReference, kRepeated),
                    boolean(4, "automountServiceAccountToken", kKeep))
RIASC_PROTO_MESSAGE(kPod, "Pod", msg(1, "metadata", kObjectMeta, kAlways), msg(2, "spec", kPodSpec),
                    msg(3, "status", kPodStatus))
RIASC_PROTO_MESSAGE(kEventSource, "EventSource", str(1, "component"), str(2, "host"))
RIASC_PROTO_MESSAGE(kEventSeries, "EventSeries", i32(1, "count"),
                    of(2, "lastObservedTime", Type::kMicroTime, kAlways))
RIASC_PROTO_MESSAGE(kEvent, "Event", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "involvedObject", kObjectReference, kAlways), str(3, "reason"), str(4, "message"),
                    msg(5, "source", kEventSource), of(6, "firstTimestamp", Type::kTime, kAlways),
                    of(7, "lastTimestamp", Type::kTime, kAlways), i32(8, "count"), str(9, "type"),
                    of(10, "eventTime", Type::kMicroTime, kAlways), msg(11, "series", kEventSeries),
                    str(12, "action"), msg(13, "related", kObjectReference),
                    str(14, "reportingComponent", kAlways), str(15, "reportingInstance", kAlways))

// apps/v1 Deployment.
RIASC_PROTO_MESSAGE(kRollingUpdateDeployment, "RollingUpdateDeployment",
                    of(1, "maxUnavailable", Type::kIntOrString, kKeep),
                    of(2, "maxSurge", Type::kIntOrString, kKeep))
RIASC_PROTO_MESSAGE(kDeploymentStrategy, "DeploymentStrategy", str(1, "type"),
                    msg(2, "rollingUpdate", kRollingUpdateDeployment))
RIASC_PROTO_MESSAGE(kDeploymentSpec, "DeploymentSpec", i32(1, "replicas", kKeep),
                    msg(2, "selector", kLabelSelector), msg(3, "template", kPodTemplateSpec, kAlways),
                    msg(4, "strategy", kDeploymentStrategy), i32(5, "minReadySeconds"),
                    i32(6, "revisionHistoryLimit", kKeep), boolean(7, "paused"),
                    i32(9, "progressDeadlineSeconds", kKeep))
RIASC_PROTO_MESSAGE(kDeploymentCondition, "DeploymentCondition", str(1, "type", kKeep),
                    str(2, "status", kKeep), of(6, "lastUpdateTime", Type::kTime, kAlways),
                    of(7, "lastTransitionTime", Type::kTime, kAlways), str(4, "reason"), str(5, "message"))
RIASC_PROTO_MESSAGE(kDeploymentStatus, "DeploymentStatus", i64(1, "observedGeneration"), i32(2, "replicas"),
                    i32(3, "updatedReplicas"), i32(7, "readyReplicas"), i32(4, "availableReplicas"),
                    i32(5, "unavailableReplicas"), msg(6, "conditions", kDeploymentCondition, kRepeated),
                    i32(8, "collisionCount", kKeep))
RIASC_PROTO_MESSAGE(kDeployment, "Deployment", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "spec", kDeploymentSpec), msg(3, "status", kDeploymentStatus))

// rbac.authorization.k8s.io/v1.
RIASC_PROTO_MESSAGE(kPolicyRule, "PolicyRule", str(1, "verbs", kRepeated | kAlways),
                    str(2, "apiGroups", kRepeated), str(3, "resources", kRepeated),
                    str(4, "resourceNames", kRepeated), str(5, "nonResourceURLs", kRepeated))
RIASC_PROTO_MESSAGE(kAggregationRule, "AggregationRule",
                    msg(1, "clusterRoleSelectors", kLabelSelector, kRepeated))
RIASC_PROTO_MESSAGE(kSubject, "Subject", str(1, "kind", kKeep), str(2, "apiGroup"), str(3, "name", kKeep),
                    str(4, "namespace"))
RIASC_PROTO_MESSAGE(kRoleRef, "RoleRef", str(1, "apiGroup", kKeep), str(2, "kind", kKeep),
                    str(3, "name", kKeep))
RIASC_PROTO_MESSAGE(kRole, "Role", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "rules", kPolicyRule, kRepeated | kAlways))
RIASC_PROTO_MESSAGE(kClusterRole, "ClusterRole", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "rules", kPolicyRule, kRepeated | kAlways),
                    msg(3, "aggregationRule", kAggregationRule))
RIASC_PROTO_MESSAGE(kRoleBinding, "RoleBinding", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "subjects", kSubject, kRepeated), msg(3, "roleRef", kRoleRef, kAlways))
RIASC_PROTO_MESSAGE(kClusterRoleBinding, "ClusterRoleBinding", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "subjects", kSubject, kRepeated), msg(3, "roleRef", kRoleRef, kAlways))

// coordination.k8s.io/v1 Lease.
RIASC_PROTO_MESSAGE(kLeaseSpec, "LeaseSpec", str(1, "holderIdentity", kKeep),
                    i32(2, "leaseDurationSeconds", kKeep), of(3, "acquireTime", Type::kMicroTime, kKeep),
                    of(4, "renewTime", Type::kMicroTime, kKeep), i32(5, "leaseTransitions", kKeep),
                    str(6, "strategy", kKeep), str(7, "preferredHolder", kKeep))
RIASC_PROTO_MESSAGE(kLease, "Lease", msg(1, "metadata", kObjectMeta, kAlways), msg(2, "spec", kLeaseSpec))

// authorization.k8s.io/v1 SelfSubjectAccessReview. ResourceAttributes 8 fieldSelector and
// 9 labelSelector (kubectl does not send them) are skipped.
RIASC_PROTO_MESSAGE(kResourceAttributes, "ResourceAttributes", str(1, "namespace"), str(2, "verb"),
                    str(3, "group"), str(4, "version"), str(5, "resource"), str(6, "subresource"),
                    str(7, "name"))
RIASC_PROTO_MESSAGE(kNonResourceAttributes, "NonResourceAttributes", str(1, "path"), str(2, "verb"))
RIASC_PROTO_MESSAGE(kSelfSubjectAccessReviewSpec, "SelfSubjectAccessReviewSpec",
                    msg(1, "resourceAttributes", kResourceAttributes),
                    msg(2, "nonResourceAttributes", kNonResourceAttributes))
RIASC_PROTO_MESSAGE(kSubjectAccessReviewStatus, "SubjectAccessReviewStatus", boolean(1, "allowed", kAlways),
                    boolean(4, "denied"), str(2, "reason"), str(3, "evaluationError"))
RIASC_PROTO_MESSAGE(kSelfSubjectAccessReview, "SelfSubjectAccessReview",
                    msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "spec", kSelfSubjectAccessReviewSpec, kAlways),
                    msg(3, "status", kSubjectAccessReviewStatus, kAlways))
// authorization.k8s.io/v1 SelfSubjectRulesReview (kubectl auth can-i --list); kubectl sends no status.
RIASC_PROTO_MESSAGE(kSelfSubjectRulesReviewSpec, "SelfSubjectRulesReviewSpec", str(1, "namespace"))
RIASC_PROTO_MESSAGE(kSelfSubjectRulesReview, "SelfSubjectRulesReview",
                    msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "spec", kSelfSubjectRulesReviewSpec, kAlways))

// authentication.k8s.io/v1 TokenRequest (`kubectl create token`).
RIASC_PROTO_MESSAGE(kBoundObjectReference, "BoundObjectReference", str(1, "kind"), str(2, "apiVersion"),
                    str(3, "name"), str(4, "uid"))
RIASC_PROTO_MESSAGE(kTokenRequestSpec, "TokenRequestSpec", str(1, "audiences", kRepeated | kAlways),
                    i64(4, "expirationSeconds", kKeep),
                    msg(3, "boundObjectRef", kBoundObjectReference, kKeep))
RIASC_PROTO_MESSAGE(kTokenRequest, "TokenRequest", msg(1, "metadata", kObjectMeta, kAlways),
                    msg(2, "spec", kTokenRequestSpec, kAlways))
// authentication.k8s.io/v1 SelfSubjectReview (`kubectl auth whoami`): the server fills status.
RIASC_PROTO_MESSAGE(kSelfSubjectReview, "SelfSubjectReview", msg(1, "metadata", kObjectMeta, kAlways))

#undef RIASC_PROTO_MESSAGE

struct KindSpec {
  std::string_view api_version;
  std::string_view kind;
  const MessageSpec* message;
};

// Grouped by apiVersion: UnsupportedProtobufKind lists them in this order.
constexpr KindSpec kKinds[] = {
    {"v1", "Namespace", &kNamespace},
    {"v1", "ConfigMap", &kConfigMap},
    {"v1", "Secret", &kSecret},
    {"v1", "ServiceAccount", &kServiceAccount},
    {"v1", "Pod", &kPod},
    {"v1", "Event", &kEvent},
    {"apps/v1", "Deployment", &kDeployment},
    {"rbac.authorization.k8s.io/v1", "Role", &kRole},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", &kClusterRole},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", &kRoleBinding},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &kClusterRoleBinding},
    {"coordination.k8s.io/v1", "Lease", &kLease},
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview", &kSelfSubjectAccessReview},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview", &kSelfSubjectRulesReview},
    {"authentication.k8s.io/v1", "TokenRequest", &kTokenRequest},
    {"authentication.k8s.io/v1", "SelfSubjectReview", &kSelfSubjectReview},
};

// --- decoding ------------------------------------------------------------------------------------

Json decode_message(std::string_view bytes, const MessageSpec& spec);

// Days since 1970-01-01 as a civil date (H. Hinnant's days_from_civil, inverted).
void civil_from_days(std::int64_t days, std::int64_t& year, unsigned& month, unsigned& day) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

// meta.v1.Time or MicroTime as RFC 3339 in UTC, null for the zero time (Go marshals it so).
Json time_value(std::string_view bytes, bool micro) {
  Reader reader(bytes, micro ? "MicroTime" : "Time");
  std::int64_t seconds = 0, nanos = 0;
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) seconds = reader.int64(field);
    if (field.number == 2) nanos = static_cast<std::int32_t>(static_cast<std::uint32_t>(reader.int64(field)));
  }
  if (seconds == 0 && nanos == 0) return nullptr;
  // 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the range of the protobuf Timestamp.
  if (seconds < -62135596800 || seconds > 253402300799) reader.fail("seconds out of range");
  if (nanos < 0 || nanos > 999999999) reader.fail("nanos out of range");
  std::int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  civil_from_days(days, year, month, day);
  std::string text = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", year, month, day, rest / 3600,
                                 rest / 60 % 60, rest % 60);
  if (micro) text += fmt::format(".{:06d}", nanos / 1000);
  text += 'Z';
  return text;
}

// resource.Quantity {1 string}: the canonical text; "0" for the zero Quantity, as Go writes it.
std::string quantity_value(std::string_view bytes) {
  Reader reader(bytes, "Quantity");
  std::string text;
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) text = reader.string(field);
  }
  return text.empty() ? "0" : text;
}

// intstr.IntOrString {1 type (0 int, 1 string), 2 intVal, 3 strVal}.
Json int_or_string_value(std::string_view bytes) {
  Reader reader(bytes, "IntOrString");
  std::int64_t type = 0;
  std::int32_t number = 0;
  std::string text;
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) type = reader.int64(field);
    if (field.number == 2)
      number = static_cast<std::int32_t>(static_cast<std::uint32_t>(reader.int64(field)));
    if (field.number == 3) text = reader.string(field);
  }
  if (type == 0) return number;
  if (type == 1) return text;
  reader.fail(fmt::format("type {} is neither 0 (int) nor 1 (string)", type));
}

// A map entry {1 key, 2 value} into `map`.
void map_entry(const Reader& outer, const Field& field, const FieldSpec& spec, std::string_view message,
               Json& map) {
  Reader reader(outer.bytes(field), message, spec.json);
  std::string key;
  Json value = spec.type == Type::kQuantityMap ? Json("0") : Json("");
  Field entry;
  while (reader.next(entry)) {
    if (entry.number == 1) {
      key = reader.string(entry);
    } else if (entry.number == 2) {
      if (spec.type == Type::kStringMap) value = reader.string(entry);
      if (spec.type == Type::kBytesMap) value = base64_encode(reader.bytes(entry));
      if (spec.type == Type::kQuantityMap) value = quantity_value(reader.bytes(entry));
    }
  }
  map[key] = std::move(value);
}

Json varint_value(Type type, std::uint64_t raw) {
  if (type == Type::kInt32) return static_cast<std::int32_t>(static_cast<std::uint32_t>(raw));
  if (type == Type::kInt64) return static_cast<std::int64_t>(raw);
  return raw != 0;
}

// A value into its slot: appended to a list, or replacing the last one (proto2: the last wins),
// where a zero value clears an omitempty field.
void store(std::optional<Json>& slot, const FieldSpec& spec, Json value, bool zero) {
  if ((spec.flags & kRepeated) != 0) {
    if (!slot) slot = Json::array();
    slot->push_back(std::move(value));
  } else if (zero && (spec.flags & (kKeep | kAlways)) == 0) {
    slot.reset();
  } else {
    slot = std::move(value);
  }
}

void decode_field(const Reader& reader, const Field& field, const FieldSpec& spec, const MessageSpec& message,
                  std::optional<Json>& slot) {
  switch (spec.type) {
    case Type::kString: {
      std::string text = reader.string(field);
      bool zero = text.empty();
      store(slot, spec, std::move(text), zero);
      return;
    }
    case Type::kBytes: {
      std::string_view bytes = reader.bytes(field);
      store(slot, spec, base64_encode(bytes), bytes.empty());
      return;
    }
    case Type::kInt32:
    case Type::kInt64:
    case Type::kBool:
      if ((spec.flags & kRepeated) != 0 && field.wire_type == kLengthDelimited) {  // packed
        Reader packed(field.bytes, message.name, spec.json);
        std::uint64_t raw = 0;
        while (packed.next_packed(raw)) store(slot, spec, varint_value(spec.type, raw), false);
        return;
      }
      reader.expect(field, kVarint);
      store(slot, spec, varint_value(spec.type, field.varint), field.varint == 0);
      return;
    case Type::kMessage:
      store(slot, spec, decode_message(reader.bytes(field), *spec.message), false);
      return;
    case Type::kInline:
      slot = decode_message(reader.bytes(field), *spec.message);
      return;
    case Type::kStringMap:
    case Type::kBytesMap:
    case Type::kQuantityMap:
      if (!slot) slot = Json::object();
      map_entry(reader, field, spec, message.name, *slot);
      return;
    case Type::kTime:
    case Type::kMicroTime: {
      Json time = time_value(reader.bytes(field), spec.type == Type::kMicroTime);
      bool zero = time.is_null();
      store(slot, spec, std::move(time), zero);
      return;
    }
    case Type::kQuantity:
      store(slot, spec, quantity_value(reader.bytes(field)), false);
      return;
    case Type::kIntOrString:
      store(slot, spec, int_or_string_value(reader.bytes(field)), false);
      return;
  }
}

// What a JSON client writes for an unset kAlways field.
Json unset_value(const FieldSpec& spec) {
  if ((spec.flags & kRepeated) != 0) return nullptr;  // a nil slice
  switch (spec.type) {
    case Type::kString:
    case Type::kBytes:
      return "";
    case Type::kInt32:
    case Type::kInt64:
    case Type::kIntOrString:
      return 0;
    case Type::kBool:
      return false;
    case Type::kMessage:
    case Type::kInline:
      return decode_message({}, *spec.message);
    case Type::kStringMap:
    case Type::kBytesMap:
    case Type::kQuantityMap:
      return Json::object();
    case Type::kTime:
    case Type::kMicroTime:
      return nullptr;
    case Type::kQuantity:
      return "0";
  }
  return nullptr;
}

Json decode_message(std::string_view bytes, const MessageSpec& spec) {
  std::vector<std::optional<Json>> slots(spec.fields.size());
  Reader reader(bytes, spec.name);
  Field field;
  while (reader.next(field)) {
    for (std::size_t i = 0; i < spec.fields.size(); ++i) {
      if (spec.fields[i].number == field.number) {
        decode_field(reader, field, spec.fields[i], spec, slots[i]);
        break;
      }
    }
  }
  Json out = Json::object();
  for (std::size_t i = 0; i < spec.fields.size(); ++i) {
    const FieldSpec& field_spec = spec.fields[i];
    std::optional<Json>& slot = slots[i];
    if (!slot && (field_spec.flags & kAlways) != 0) slot = unset_value(field_spec);
    if (!slot) continue;
    if (field_spec.type == Type::kInline) {
      for (auto& item : slot->items()) out[item.key()] = std::move(item.value());
    } else {
      out[std::string(field_spec.json)] = std::move(*slot);
    }
  }
  return out;
}

std::string decoded_kinds() {
  std::string out;
  std::string_view group;
  for (const KindSpec& kind : kKinds) {
    if (kind.api_version != group) {
      if (!out.empty()) out += "; ";
      out += fmt::format("{} {}", kind.api_version, kind.kind);
      group = kind.api_version;
    } else {
      out += fmt::format(", {}", kind.kind);
    }
  }
  return out;
}

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7FU) | 0x80U);
    value >>= 7U;
  }
  out += static_cast<char>(value);
}

void put_bytes(std::string& out, std::uint32_t number, std::string_view bytes) {
  put_varint(out, (static_cast<std::uint64_t>(number) << 3U) | kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

}  // namespace

UnsupportedProtobufKind::UnsupportedProtobufKind(std::string api_version, std::string kind)
    : ProtobufError(
          fmt::format("the server does not decode protobuf bodies of {} {} (it decodes {}); send this "
                      "request as JSON",
                      api_version, kind, decoded_kinds())),
      api_version_(std::move(api_version)),
      kind_(std::move(kind)) {}

bool has_protobuf_magic(std::string_view body) { return body.starts_with(kMagic); }

ProtobufEnvelope decode_protobuf_envelope(std::string_view body) {
  if (!has_protobuf_magic(body)) malformed("it does not start with the magic bytes \"k8s\\0\"");
  ProtobufEnvelope envelope;
  Reader reader(body.substr(kMagic.size()), "runtime.Unknown");
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 1: {
        Reader type_reader(reader.bytes(field), "runtime.TypeMeta");
        Field type_field;
        while (type_reader.next(type_field)) {
          if (type_field.number == 1) envelope.api_version = type_reader.string(type_field);
          if (type_field.number == 2) envelope.kind = type_reader.string(type_field);
        }
        break;
      }
      case 2:
        envelope.raw = std::string(reader.bytes(field));
        break;
      case 3:
        envelope.content_encoding = reader.string(field);
        break;
      case 4:
        envelope.content_type = reader.string(field);
        break;
      default:
        break;
    }
  }
  if (envelope.kind.empty()) malformed("runtime.Unknown has no typeMeta.kind");
  return envelope;
}

Json decode_protobuf_body(std::string_view body) {
  ProtobufEnvelope envelope = decode_protobuf_envelope(body);
  if (!envelope.content_encoding.empty()) {
    malformed(fmt::format("contentEncoding \"{}\" is not supported", envelope.content_encoding));
  }
  for (const KindSpec& kind : kKinds) {
    if (kind.api_version != envelope.api_version || kind.kind != envelope.kind) continue;
    Json out = {{"kind", envelope.kind}, {"apiVersion", envelope.api_version}};
    Json object = decode_message(envelope.raw, *kind.message);
    for (auto& item : object.items()) out[item.key()] = std::move(item.value());
    return out;
  }
  throw UnsupportedProtobufKind(envelope.api_version, envelope.kind);
}

std::string encode_openapi_v2_stub(std::string_view title, std::string_view version) {
  std::string info;
  put_bytes(info, 1, title);
  put_bytes(info, 2, version);
  std::string document;
  put_bytes(document, 1, "2.0");  // swagger
  put_bytes(document, 2, info);
  put_bytes(document, 8, "");  // paths
  return document;
}

}  // namespace riasc::kubeapi
