#include "riasc/kubeapi/protobuf_body.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "riasc/kubeapi/table.hpp"

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

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U) |
                      (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += rest == 2 ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

// One field of a message as it is on the wire.
struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire_type = 0;
  std::uint64_t varint = 0;  // kVarint
  std::string_view bytes;    // kLengthDelimited
};

// Walks the fields of one message. `message` names it in errors ("ObjectMeta").
class Reader {
 public:
  Reader(std::string_view data, std::string_view message) : data_(data), message_(message) {}

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

  [[noreturn]] void fail(std::string_view what) const { malformed(fmt::format("{}: {}", message_, what)); }

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
  std::size_t pos_ = 0;
};

void set_if(Json& object, std::string_view key, std::string value) {
  if (!value.empty()) object[std::string(key)] = std::move(value);
}

// map<string, string> entry {1 key, 2 value}; binary values are base64, as JSON carries []byte.
std::pair<std::string, std::string> map_entry(std::string_view bytes, std::string_view message, bool binary) {
  Reader reader(bytes, message);
  std::pair<std::string, std::string> entry;
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) entry.first = reader.string(field);
    if (field.number == 2) entry.second = binary ? base64(reader.bytes(field)) : reader.string(field);
  }
  return entry;
}

// meta.v1.Time {1 seconds, 2 nanos} as RFC 3339; nullopt for the zero time.
std::optional<std::string> time_value(std::string_view bytes) {
  Reader reader(bytes, "Time");
  std::int64_t secs = 0;
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) secs = reader.int64(field);
    if (field.number == 2) reader.int64(field);
  }
  if (secs == 0) return std::nullopt;
  return format_rfc3339(std::chrono::sys_seconds{std::chrono::seconds{secs}});
}

Json owner_reference(std::string_view bytes) {
  Reader reader(bytes, "OwnerReference");
  std::string kind, name, uid, api_version;
  std::optional<bool> controller, block_owner_deletion;
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 1:
        kind = reader.string(field);
        break;
      case 3:
        name = reader.string(field);
        break;
      case 4:
        uid = reader.string(field);
        break;
      case 5:
        api_version = reader.string(field);
        break;
      case 6:
        controller = reader.boolean(field);
        break;
      case 7:
        block_owner_deletion = reader.boolean(field);
        break;
      default:
        break;
    }
  }
  Json out = Json::object();
  set_if(out, "apiVersion", api_version);
  set_if(out, "kind", kind);
  set_if(out, "name", name);
  set_if(out, "uid", uid);
  if (controller) out["controller"] = *controller;
  if (block_owner_deletion) out["blockOwnerDeletion"] = *block_owner_deletion;
  return out;
}

Json object_meta(std::string_view bytes) {
  Reader reader(bytes, "ObjectMeta");
  std::string name, generate_name, namespace_name, uid, resource_version;
  std::int64_t generation = 0;
  std::optional<std::string> created, deleted;
  Json labels = Json::object(), annotations = Json::object();
  Json owners = Json::array(), finalizers = Json::array();
  Field field;
  while (reader.next(field)) {
    switch (field.number) {
      case 1:
        name = reader.string(field);
        break;
      case 2:
        generate_name = reader.string(field);
        break;
      case 3:
        namespace_name = reader.string(field);
        break;
      case 5:
        uid = reader.string(field);
        break;
      case 6:
        resource_version = reader.string(field);
        break;
      case 7:
        generation = reader.int64(field);
        break;
      case 8:
        created = time_value(reader.bytes(field));
        break;
      case 9:
        deleted = time_value(reader.bytes(field));
        break;
      case 11: {
        auto [key, value] = map_entry(reader.bytes(field), "ObjectMeta.labels", false);
        labels[key] = value;
        break;
      }
      case 12: {
        auto [key, value] = map_entry(reader.bytes(field), "ObjectMeta.annotations", false);
        annotations[key] = value;
        break;
      }
      case 13:
        owners.push_back(owner_reference(reader.bytes(field)));
        break;
      case 14:
        finalizers.push_back(reader.string(field));
        break;
      default:
        break;  // selfLink, deletionGracePeriodSeconds, managedFields: not needed from a client
    }
  }
  Json out = Json::object();
  set_if(out, "name", name);
  set_if(out, "generateName", generate_name);
  set_if(out, "namespace", namespace_name);
  set_if(out, "uid", uid);
  set_if(out, "resourceVersion", resource_version);
  if (generation != 0) out["generation"] = generation;
  if (created) out["creationTimestamp"] = *created;
  if (deleted) out["deletionTimestamp"] = *deleted;
  if (!labels.empty()) out["labels"] = std::move(labels);
  if (!annotations.empty()) out["annotations"] = std::move(annotations);
  if (!owners.empty()) out["ownerReferences"] = std::move(owners);
  if (!finalizers.empty()) out["finalizers"] = std::move(finalizers);
  return out;
}

Json typed_object(const ProtobufEnvelope& envelope) {
  return {{"kind", envelope.kind}, {"apiVersion", envelope.api_version}, {"metadata", Json::object()}};
}

// core/v1 Namespace {1 metadata, 2 spec {1 finalizers}, 3 status {1 phase}}.
Json namespace_object(const ProtobufEnvelope& envelope) {
  Json out = typed_object(envelope);
  Reader reader(envelope.raw, "Namespace");
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) {
      out["metadata"] = object_meta(reader.bytes(field));
    } else if (field.number == 2) {
      Json spec = Json::object();
      Reader spec_reader(reader.bytes(field), "NamespaceSpec");
      Field spec_field;
      while (spec_reader.next(spec_field)) {
        if (spec_field.number == 1) spec["finalizers"].push_back(spec_reader.string(spec_field));
      }
      out["spec"] = std::move(spec);
    } else if (field.number == 3) {
      Json status = Json::object();
      Reader status_reader(reader.bytes(field), "NamespaceStatus");
      Field status_field;
      while (status_reader.next(status_field)) {
        if (status_field.number == 1) set_if(status, "phase", status_reader.string(status_field));
      }
      out["status"] = std::move(status);
    }
  }
  return out;
}

// core/v1 ConfigMap {1 metadata, 2 data, 3 binaryData, 4 immutable}.
Json config_map_object(const ProtobufEnvelope& envelope) {
  Json out = typed_object(envelope);
  std::optional<bool> immutable;
  Json data = Json::object(), binary_data = Json::object();
  Reader reader(envelope.raw, "ConfigMap");
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) {
      out["metadata"] = object_meta(reader.bytes(field));
    } else if (field.number == 2) {
      auto [key, value] = map_entry(reader.bytes(field), "ConfigMap.data", false);
      data[key] = value;
    } else if (field.number == 3) {
      auto [key, value] = map_entry(reader.bytes(field), "ConfigMap.binaryData", true);
      binary_data[key] = value;
    } else if (field.number == 4) {
      immutable = reader.boolean(field);
    }
  }
  if (immutable) out["immutable"] = *immutable;
  if (!data.empty()) out["data"] = std::move(data);
  if (!binary_data.empty()) out["binaryData"] = std::move(binary_data);
  return out;
}

Json resource_attributes(std::string_view bytes) {
  static constexpr std::string_view kNames[] = {"namespace", "verb",        "group", "version",
                                                "resource",  "subresource", "name"};
  std::string values[7];
  Reader reader(bytes, "ResourceAttributes");
  Field field;
  while (reader.next(field)) {
    // 8 fieldSelector and 9 labelSelector (kubectl does not send them) are skipped.
    if (field.number >= 1 && field.number <= 7) values[field.number - 1] = reader.string(field);
  }
  Json out = Json::object();
  for (std::size_t i = 0; i < 7; ++i) set_if(out, kNames[i], values[i]);
  return out;
}

Json non_resource_attributes(std::string_view bytes) {
  std::string path, verb;
  Reader reader(bytes, "NonResourceAttributes");
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) path = reader.string(field);
    if (field.number == 2) verb = reader.string(field);
  }
  Json out = Json::object();
  set_if(out, "path", path);
  set_if(out, "verb", verb);
  return out;
}

// authorization/v1 SelfSubjectAccessReview {1 metadata, 2 spec {1 resourceAttributes,
// 2 nonResourceAttributes}, 3 status {1 allowed, 2 reason, 3 evaluationError, 4 denied}}.
Json self_subject_access_review_object(const ProtobufEnvelope& envelope) {
  Json out = typed_object(envelope);
  Json spec = Json::object();
  bool allowed = false, denied = false;
  std::string reason, evaluation_error;
  Reader reader(envelope.raw, "SelfSubjectAccessReview");
  Field field;
  while (reader.next(field)) {
    if (field.number == 1) {
      out["metadata"] = object_meta(reader.bytes(field));
    } else if (field.number == 2) {
      Reader spec_reader(reader.bytes(field), "SelfSubjectAccessReviewSpec");
      Field spec_field;
      while (spec_reader.next(spec_field)) {
        if (spec_field.number == 1)
          spec["resourceAttributes"] = resource_attributes(spec_reader.bytes(spec_field));
        if (spec_field.number == 2) {
          spec["nonResourceAttributes"] = non_resource_attributes(spec_reader.bytes(spec_field));
        }
      }
    } else if (field.number == 3) {
      Reader status_reader(reader.bytes(field), "SubjectAccessReviewStatus");
      Field status_field;
      while (status_reader.next(status_field)) {
        switch (status_field.number) {
          case 1:
            allowed = status_reader.boolean(status_field);
            break;
          case 2:
            reason = status_reader.string(status_field);
            break;
          case 3:
            evaluation_error = status_reader.string(status_field);
            break;
          case 4:
            denied = status_reader.boolean(status_field);
            break;
          default:
            break;
        }
      }
    }
  }
  out["spec"] = std::move(spec);
  Json status = {{"allowed", allowed}};
  if (denied) status["denied"] = true;
  set_if(status, "reason", reason);
  set_if(status, "evaluationError", evaluation_error);
  out["status"] = std::move(status);
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
          fmt::format("the server decodes protobuf bodies only for v1 Namespace, v1 ConfigMap and "
                      "authorization.k8s.io/v1 SelfSubjectAccessReview, not {} {}; send this request as JSON",
                      api_version, kind)),
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
  if (envelope.api_version == "v1" && envelope.kind == "Namespace") return namespace_object(envelope);
  if (envelope.api_version == "v1" && envelope.kind == "ConfigMap") return config_map_object(envelope);
  if (envelope.api_version == "authorization.k8s.io/v1" && envelope.kind == "SelfSubjectAccessReview") {
    return self_subject_access_review_object(envelope);
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
