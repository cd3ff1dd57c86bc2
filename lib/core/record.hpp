// SPDX-License-Identifier: Apache-2.0
// The JSON Lines message record shared by `sub -o json`, `sub --record`, `pub --jsonl`,
// `replay` input and every `--failed-out` file (SPEC §4 `dtbus sub`).
//   {"topic", "payload", "payload_encoding": "json"|"utf8"|"base64", "qos", "retain", "mid",
//    "received_at", "properties": {...}}
//
//   "payload_text": the original text, only when a "json" payload's bytes are not its compact form
//
// Byte-exact round trip. Every payload that is valid JSON (RFC 8259, any spacing) is a JSON value
// ("json"), so `jq .payload.kind` works on `json.dumps` output. When its bytes differ from what
// re-serialising the value compactly produces (key order kept, no blanks, numbers/escapes in
// nlohmann's canonical form), e.g. `{"kind": "a"}` or `{"v":2.50}`, the record also carries the
// original bytes as "payload_text" (a string). Valid UTF-8 that is not JSON is a "utf8" string;
// anything else is "base64". payload_bytes(record) returns the original bytes: "payload_text"
// when it still parses to "payload" (a tool that edited "payload" gets its compact form), so
// `dtbus sub -o json | dtbus pub --jsonl` relays byte-exactly.
// Records are nlohmann::ordered_json: parse them with parse_record() (or ordered_json::parse),
// not nlohmann::json, which sorts object keys and would change a "json" payload's bytes.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dtbus/core/message.hpp"
#include "dtbus/util/export.hpp"
#include "dtbus/util/json.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::record {

using Json = nlohmann::ordered_json;

enum class PayloadEncoding { json, utf8, base64 };

struct EncodedPayload {
  Json value;  // the JSON value, the UTF-8 string, or the base64 text
  PayloadEncoding encoding;
  // "json" whose bytes are not the compact form of `value`: the original text ("payload_text").
  std::optional<std::string> text;
};
EncodedPayload encode_payload(std::string_view bytes);
const char* encoding_name(PayloadEncoding encoding);
// The encoding encode_payload() would pick, without building the value (hot path).
PayloadEncoding classify_payload(std::string_view bytes);

// Bytes of a record's payload: base64-decoded, the UTF-8 string, "payload_text" when it parses
// to "payload", else "payload" serialised compactly. Without "payload_encoding": a string is
// UTF-8 text, anything else JSON. Throws std::invalid_argument with a reason when malformed.
std::string payload_bytes(const Json& record);
// Same for a record parsed as nlohmann::json: object keys of a JSON payload come back sorted,
// so prefer the ordered overload when bytes must match.
std::string payload_bytes(const nlohmann::json& record);

// Parses one JSON Lines record (an object with at least "topic" and "payload", which may nest
// kMaxJsonDepth levels). Throws std::invalid_argument with a reason.
Json parse_record(std::string_view line);

// The message a record describes: topic, payload bytes, qos (default 0), retain (default
// false), properties. Throws std::invalid_argument with a reason (bad field type, bad base64).
dtbus::ReceivedMessage to_message(const Json& record);

// Message -> record (received_at = now unless given, RFC 3339 UTC with ms). "mid" is left out
// when the message has none (0), "properties" when empty.
Json to_record(const dtbus::ReceivedMessage& message,
               std::optional<std::string> received_at = std::nullopt);

// Appends the record of `message` as one compact JSON line with '\n' (the `sub -o json` shape;
// the same content as to_record() without building a JSON tree: used on hot paths).
void append_record_line(std::string& out, const dtbus::ReceivedMessage& message,
                        std::string_view received_at);

// Properties <-> the record's "properties" object:
// {"content_type","message_expiry","payload_format_indicator","response_topic",
//  "correlation_data" (base64),"user_properties":{"k":"v" | ["v1","v2"] when repeated}}
Json properties_to_json(const dtbus::MessageProperties& properties);
dtbus::MessageProperties properties_from_json(const Json& properties);

}  // namespace dtbus::record

DTBUS_PUBLIC_END
