#include "riasc/kubeapi/protobuf_body.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

namespace riasc::kubeapi {
namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4U];
    out += kDigits[b & 15U];
  }
  return out;
}

// Bodies captured from kubectl 1.32.4 (shared/reference/kubectl-transcripts/kubectl-1.32-recommended.txt,
// requests #51 and #53).
constexpr std::string_view kCreateNamespaceFoo =
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a0032003800420012001a020a001a00"
    "2200";
constexpr std::string_view kCanICreateWidgets =
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163636573735265"
    "7669"
    "657712490a100a0012001a0022002a00320038004200122b0a290a03666f6f12066372656174651a0b6578616d706c652e636f6d"
    "2200"
    "2a077769646765747332003a001a08080012001a0020001a002200";

// The protobuf wire format, written by hand for test vectors.
struct Proto {
  std::string bytes;

  Proto& varint_raw(std::uint64_t value) {
    while (value >= 0x80) {
      bytes += static_cast<char>((value & 0x7FU) | 0x80U);
      value >>= 7U;
    }
    bytes += static_cast<char>(value);
    return *this;
  }
  Proto& tag(std::uint32_t field, std::uint32_t wire_type) {
    return varint_raw((std::uint64_t{field} << 3U) | wire_type);
  }
  Proto& varint(std::uint32_t field, std::uint64_t value) { return tag(field, 0).varint_raw(value); }
  Proto& bytes_field(std::uint32_t field, std::string_view value) {
    tag(field, 2).varint_raw(value.size());
    bytes += value;
    return *this;
  }
  Proto& message(std::uint32_t field, const Proto& value) { return bytes_field(field, value.bytes); }
  Proto& fixed32(std::uint32_t field) {
    tag(field, 5);
    bytes += std::string(4, '\x01');
    return *this;
  }
  Proto& fixed64(std::uint32_t field) {
    tag(field, 1);
    bytes += std::string(8, '\x02');
    return *this;
  }
};

Proto entry(std::string_view key, std::string_view value) {
  return Proto().bytes_field(1, key).bytes_field(2, value);
}

std::string envelope(std::string_view api_version, std::string_view kind, const Proto& raw,
                     std::string_view content_encoding = "") {
  Proto unknown;
  unknown.message(1, Proto().bytes_field(1, api_version).bytes_field(2, kind));
  unknown.message(2, raw);
  unknown.bytes_field(3, content_encoding).bytes_field(4, "");
  return std::string("k8s\0", 4) + unknown.bytes;
}

std::string error_of(std::string_view body) {
  try {
    decode_protobuf_body(body);
  } catch (const ProtobufError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ProtobufBodyTest, KubectlCreateNamespace) {
  std::string body = from_hex(kCreateNamespaceFoo);
  EXPECT_TRUE(has_protobuf_magic(body));
  ProtobufEnvelope envelope = decode_protobuf_envelope(body);
  EXPECT_EQ(envelope.api_version, "v1");
  EXPECT_EQ(envelope.kind, "Namespace");
  EXPECT_EQ(envelope.raw.size(), 27U);
  EXPECT_EQ(envelope.content_encoding, "");
  EXPECT_EQ(envelope.content_type, "");
  EXPECT_EQ(decode_protobuf_body(body).dump(),
            R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"foo"},"spec":{},"status":{}})");
}

TEST(ProtobufBodyTest, KubectlAuthCanI) {
  EXPECT_EQ(decode_protobuf_body(from_hex(kCanICreateWidgets)).dump(),
            R"({"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{},)"
            R"("spec":{"resourceAttributes":{"namespace":"foo","verb":"create","group":"example.com",)"
            R"("resource":"widgets"}},"status":{"allowed":false}})");
}

TEST(ProtobufBodyTest, NamespaceWithFullMetadata) {
  Proto meta;
  meta.bytes_field(1, "team")
      .bytes_field(2, "team-")
      .bytes_field(4, "/api/v1/namespaces/team")  // selfLink: skipped
      .bytes_field(5, "0b0c")
      .bytes_field(6, "42")
      .varint(7, 3)
      .message(8, Proto().varint(1, 1795607245).varint(2, 5))
      .message(11, entry("app.kubernetes.io/name", "lab"))
      .message(11, entry("tier", ""))
      .message(12, entry("note", "ünïcode"))
      .message(13, Proto()
                       .bytes_field(1, "Project")
                       .bytes_field(3, "lab")
                       .bytes_field(4, "u-1")
                       .bytes_field(5, "riasc.eu/v1")
                       .varint(6, 1)
                       .varint(7, 0))
      .bytes_field(14, "riasc.eu/project")
      .message(17, Proto().bytes_field(1, "kubectl"))  // managedFields: skipped
      .fixed32(99)
      .fixed64(100);
  Proto raw;
  raw.message(1, meta)
      .message(2, Proto().bytes_field(1, "kubernetes").bytes_field(1, "riasc.eu/cleanup"))
      .message(3, Proto().bytes_field(1, "Active").message(2, Proto().bytes_field(1, "x")));
  EXPECT_EQ(
      decode_protobuf_body(envelope("v1", "Namespace", raw)).dump(),
      R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"team","generateName":"team-",)"
      R"("uid":"0b0c","resourceVersion":"42","generation":3,"creationTimestamp":"2026-11-25T11:47:25Z",)"
      R"("labels":{"app.kubernetes.io/name":"lab","tier":""},"annotations":{"note":"ünïcode"},)"
      R"("ownerReferences":[{"apiVersion":"riasc.eu/v1","kind":"Project","name":"lab","uid":"u-1",)"
      R"("controller":true,"blockOwnerDeletion":false}],"finalizers":["riasc.eu/project"]},)"
      R"("spec":{"finalizers":["kubernetes","riasc.eu/cleanup"]},"status":{"phase":"Active"}})");
}

TEST(ProtobufBodyTest, ConfigMap) {
  Proto raw;
  raw.message(1, Proto().bytes_field(1, "settings").bytes_field(3, "lab"))
      .message(2, entry("mode", "fast"))
      .message(2, entry("empty", ""))
      .message(3, entry("blob", std::string_view("\x00\x01\xff", 3)))
      .message(3, entry("hi", "hi"))
      .varint(4, 1);
  EXPECT_EQ(
      decode_protobuf_body(envelope("v1", "ConfigMap", raw)).dump(),
      R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"settings","namespace":"lab"},)"
      R"("immutable":true,"data":{"mode":"fast","empty":""},"binaryData":{"blob":"AAH/","hi":"aGk="}})");
}

TEST(ProtobufBodyTest, AccessReviewOfANonResourcePath) {
  Proto raw;
  raw.message(1, Proto())
      .message(2, Proto().message(2, Proto().bytes_field(1, "/healthz").bytes_field(2, "get")))
      .message(3, Proto().varint(1, 1).bytes_field(2, "RBAC: allowed").bytes_field(3, "").varint(4, 0));
  EXPECT_EQ(decode_protobuf_body(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw)).dump(),
            R"({"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{},)"
            R"("spec":{"nonResourceAttributes":{"path":"/healthz","verb":"get"}},)"
            R"("status":{"allowed":true,"reason":"RBAC: allowed"}})");
}

TEST(ProtobufBodyTest, OtherKindsAreNamed) {
  std::string body = envelope("apps/v1", "Deployment", Proto().message(1, Proto().bytes_field(1, "web")));
  try {
    decode_protobuf_body(body);
    FAIL() << "expected UnsupportedProtobufKind";
  } catch (const UnsupportedProtobufKind& error) {
    EXPECT_EQ(error.api_version(), "apps/v1");
    EXPECT_EQ(error.kind(), "Deployment");
    EXPECT_STREQ(
        error.what(),
        "the server decodes protobuf bodies only for v1 Namespace, v1 ConfigMap and "
        "authorization.k8s.io/v1 SelfSubjectAccessReview, not apps/v1 Deployment; send this request as JSON");
  }
  // The group matters, not just the kind.
  EXPECT_THROW(decode_protobuf_body(envelope("example.com/v1", "Namespace", Proto())),
               UnsupportedProtobufKind);
  // The envelope alone still decodes.
  EXPECT_EQ(decode_protobuf_envelope(body).kind, "Deployment");
}

TEST(ProtobufBodyTest, MalformedBodies) {
  EXPECT_FALSE(has_protobuf_magic(R"({"kind":"Namespace"})"));
  EXPECT_FALSE(has_protobuf_magic(std::string("k8s", 3)));
  EXPECT_EQ(error_of(R"({"kind":"Namespace"})"),
            R"(malformed protobuf body: it does not start with the magic bytes "k8s\0")");

  std::string complete = from_hex(kCreateNamespaceFoo);
  EXPECT_EQ(error_of(complete.substr(0, 25)),
            "malformed protobuf body: runtime.Unknown: field 2 runs past the end of the message");
  EXPECT_EQ(error_of(complete.substr(0, 6)),
            "malformed protobuf body: runtime.Unknown: field 1 runs past the end of the message");
  EXPECT_EQ(error_of(std::string("k8s\0", 4) + "\x0a"),
            "malformed protobuf body: runtime.Unknown: a varint runs past the end of the message");
  EXPECT_EQ(error_of(std::string("k8s\0", 4) + std::string(11, '\xff')),
            "malformed protobuf body: runtime.Unknown: a varint is longer than 10 bytes");
  EXPECT_EQ(error_of(std::string("k8s\0", 4) + std::string("\x12\x00", 2)),
            "malformed protobuf body: runtime.Unknown has no typeMeta.kind");
  EXPECT_EQ(error_of(std::string("k8s\0", 4) + "\x0b"),
            "malformed protobuf body: runtime.Unknown: field 1 has wire type 3, which Kubernetes messages do "
            "not use");
  EXPECT_EQ(error_of(std::string("k8s\0\0", 5)),
            "malformed protobuf body: runtime.Unknown: a field number out of range");
  EXPECT_EQ(error_of(envelope("v1", "Namespace", Proto().message(1, Proto().varint(1, 7)))),
            "malformed protobuf body: ObjectMeta: field 1 has wire type 0, expected 2");
  EXPECT_EQ(
      error_of(envelope("v1", "Namespace", Proto().message(1, Proto().message(11, entry("k", "\xc3("))))),
      "malformed protobuf body: ObjectMeta.labels: field 2 is not valid UTF-8");
  EXPECT_EQ(error_of(envelope("v1", "Namespace", Proto().message(1, Proto().bytes_field(1, "\xed\xa0\x80")))),
            "malformed protobuf body: ObjectMeta: field 1 is not valid UTF-8");
  EXPECT_EQ(error_of(envelope("v1", "Namespace", Proto(), "gzip")),
            R"(malformed protobuf body: contentEncoding "gzip" is not supported)");
  EXPECT_EQ(error_of(std::string("k8s\0", 4) + Proto().fixed32(9).bytes.substr(0, 3)),
            "malformed protobuf body: runtime.Unknown: a fixed-size field runs past the end of the message");
}

TEST(ProtobufBodyTest, OpenApiV2Stub) {
  // The document of the reference (shared/reference/kube-api-surface.md §3), byte for byte.
  EXPECT_EQ(to_hex(encode_openapi_v2_stub("fakeapi", "v1.32.0")),
            "0a03322e3012120a0766616b65617069120776312e33322e304200");
  EXPECT_EQ(encode_openapi_v2_stub("riasc", "v1.32.0").size(), 25U);
  EXPECT_EQ(kOpenApiV2ProtobufMediaType, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
}

}  // namespace
}  // namespace riasc::kubeapi
