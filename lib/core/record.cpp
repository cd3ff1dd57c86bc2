// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/record.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "dtbus/core/topic.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::record {

using util::append_json_string;
using util::base64_decode;
using util::base64_encode;
using util::kMaxJsonDepth;
using util::nested_deeper_than;
using util::parse_json;

namespace {

// Cheap first test before parsing: JSON text starts (after blanks) with one of these, so most
// text payloads ("hello 42") are decided without a parse.
bool may_be_json(std::string_view bytes) {
  size_t first = bytes.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos) return false;
  char c = bytes[first];
  return c == '{' || c == '[' || c == '"' || c == '-' || c == 't' || c == 'f' || c == 'n' ||
         (c >= '0' && c <= '9');
}

// The payload parsed as JSON and its compact serialisation; nullopt when it is not JSON.
struct ParsedPayload {
  Json value;
  std::string compact;
};
std::optional<ParsedPayload> parse_payload(std::string_view bytes) {
  if (!may_be_json(bytes)) return std::nullopt;
  Json value = parse_json(bytes);
  if (value.is_discarded()) return std::nullopt;
  std::string compact = value.dump();
  return ParsedPayload{std::move(value), std::move(compact)};
}

// Whether `text` is JSON with the same value as `payload` (key order aside).
bool same_value(std::string_view text, const Json& payload) {
  Json parsed = parse_json(text);
  if (parsed.is_discarded()) return false;
  return parsed == payload || nlohmann::json(parsed) == nlohmann::json(payload);
}

const Json* field(const Json& record, const char* name) {
  auto it = record.find(name);
  return it == record.end() ? nullptr : &*it;
}

}  // namespace

const char* encoding_name(PayloadEncoding encoding) {
  switch (encoding) {
    case PayloadEncoding::json:
      return "json";
    case PayloadEncoding::utf8:
      return "utf8";
    case PayloadEncoding::base64:
      return "base64";
  }
  return "base64";
}

PayloadEncoding classify_payload(std::string_view bytes) {
  if (may_be_json(bytes) && !parse_json(bytes).is_discarded()) return PayloadEncoding::json;
  return topic::valid_utf8(bytes) ? PayloadEncoding::utf8 : PayloadEncoding::base64;
}

EncodedPayload encode_payload(std::string_view bytes) {
  if (auto parsed = parse_payload(bytes)) {
    std::optional<std::string> text;
    if (parsed->compact != bytes) text = std::string(bytes);
    return {std::move(parsed->value), PayloadEncoding::json, std::move(text)};
  }
  if (topic::valid_utf8(bytes)) return {Json(std::string(bytes)), PayloadEncoding::utf8, {}};
  return {Json(base64_encode(bytes)), PayloadEncoding::base64, {}};
}

std::string payload_bytes(const Json& record) {
  if (!record.is_object()) throw std::invalid_argument("record is not a JSON object");
  const Json* payload = field(record, "payload");
  if (payload == nullptr) throw std::invalid_argument("record has no \"payload\"");
  const Json* encoding = field(record, "payload_encoding");
  std::string name = "";
  if (encoding != nullptr && !encoding->is_null()) {
    if (!encoding->is_string()) throw std::invalid_argument("\"payload_encoding\" is not a string");
    name = encoding->get<std::string>();
  }
  if (name.empty()) name = payload->is_string() ? "utf8" : "json";
  if (name == "json") {
    const Json* text = field(record, "payload_text");
    if (text != nullptr && !text->is_null()) {
      if (!text->is_string()) throw std::invalid_argument("\"payload_text\" is not a string");
      const auto& original = text->get_ref<const std::string&>();
      if (same_value(original, *payload)) return original;
    }
    return payload->dump();
  }
  if (!payload->is_string()) {
    throw std::invalid_argument("\"payload\" must be a string with payload_encoding \"" + name +
                                "\"");
  }
  const auto& text = payload->get_ref<const std::string&>();
  if (name == "utf8") return text;
  if (name == "base64") {
    auto bytes = base64_decode(text);
    if (!bytes) throw std::invalid_argument("\"payload\" is not valid base64");
    return std::move(*bytes);
  }
  throw std::invalid_argument("unknown payload_encoding \"" + name + "\" (json, utf8 or base64)");
}

std::string payload_bytes(const nlohmann::json& record) { return payload_bytes(Json(record)); }

Json parse_record(std::string_view line) {
  // The record object is one level around its payload.
  if (nested_deeper_than(line, kMaxJsonDepth + 1)) {
    throw std::invalid_argument("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                " levels in the payload");
  }
  Json record = Json::parse(line.begin(), line.end(), nullptr, false);
  if (record.is_discarded()) throw std::invalid_argument("not valid JSON");
  if (!record.is_object()) throw std::invalid_argument("not a JSON object");
  if (!record.contains("payload")) throw std::invalid_argument("no \"payload\" field");
  return record;
}

dtbus::ReceivedMessage to_message(const Json& record) {
  dtbus::ReceivedMessage message;
  if (const Json* topic = field(record, "topic"); topic != nullptr && !topic->is_null()) {
    if (!topic->is_string()) throw std::invalid_argument("\"topic\" is not a string");
    message.topic = topic->get<std::string>();
  }
  message.payload = payload_bytes(record);
  if (const Json* qos = field(record, "qos"); qos != nullptr && !qos->is_null()) {
    // Read as a 64-bit value: an int would truncate 4294967297 to 1.
    bool valid = qos->is_number_integer() &&
                 (qos->is_number_unsigned() ? qos->get<uint64_t>() <= 2
                                            : qos->get<int64_t>() >= 0 && qos->get<int64_t>() <= 2);
    if (!valid) {
      throw std::invalid_argument("\"qos\" must be 0, 1 or 2");
    }
    message.qos = qos->get<int>();
  }
  if (const Json* retain = field(record, "retain"); retain != nullptr && !retain->is_null()) {
    if (!retain->is_boolean()) throw std::invalid_argument("\"retain\" is not true/false");
    message.retain = retain->get<bool>();
  }
  if (const Json* properties = field(record, "properties"); properties != nullptr) {
    message.properties = properties_from_json(*properties);
  }
  return message;
}

Json properties_to_json(const dtbus::MessageProperties& p) {
  Json out = Json::object();
  if (!p.content_type.empty()) out["content_type"] = p.content_type;
  if (p.message_expiry) out["message_expiry"] = *p.message_expiry;
  if (p.payload_is_utf8) out["payload_format_indicator"] = *p.payload_is_utf8 ? 1 : 0;
  if (!p.response_topic.empty()) out["response_topic"] = p.response_topic;
  if (!p.correlation_data.empty()) out["correlation_data"] = base64_encode(p.correlation_data);
  if (!p.user.empty()) {
    Json user = Json::object();
    for (const auto& [key, value] : p.user) {
      auto it = user.find(key);
      if (it == user.end()) {
        user[key] = value;
      } else {
        if (!it->is_array()) *it = Json::array({*it});
        it->push_back(value);
      }
    }
    out["user_properties"] = std::move(user);
  }
  return out;
}

dtbus::MessageProperties properties_from_json(const Json& in) {
  dtbus::MessageProperties p;
  if (in.is_null()) return p;
  if (!in.is_object()) throw std::invalid_argument("\"properties\" is not an object");
  auto text = [&](const char* name) -> std::string {
    const Json* value = field(in, name);
    if (value == nullptr || value->is_null()) return {};
    if (!value->is_string())
      throw std::invalid_argument(std::string("properties.") + name + " is not a string");
    return value->get<std::string>();
  };
  p.content_type = text("content_type");
  p.response_topic = text("response_topic");
  if (std::string data = text("correlation_data"); !data.empty()) {
    auto bytes = base64_decode(data);
    if (!bytes) throw std::invalid_argument("properties.correlation_data is not base64");
    p.correlation_data = std::move(*bytes);
  }
  if (const Json* expiry = field(in, "message_expiry"); expiry != nullptr && !expiry->is_null()) {
    if (!expiry->is_number_unsigned())
      throw std::invalid_argument("properties.message_expiry is not a number");
    p.message_expiry = expiry->get<uint32_t>();
  }
  if (const Json* format = field(in, "payload_format_indicator");
      format != nullptr && !format->is_null()) {
    if (!format->is_number_integer())
      throw std::invalid_argument("properties.payload_format_indicator is not 0/1");
    p.payload_is_utf8 = format->get<int>() != 0;
  }
  if (const Json* user = field(in, "user_properties"); user != nullptr && !user->is_null()) {
    if (!user->is_object())
      throw std::invalid_argument("properties.user_properties is not an object");
    for (const auto& [key, value] : user->items()) {
      if (value.is_string()) {
        p.user.push_back({key, value.get<std::string>()});
      } else if (value.is_array()) {
        for (const auto& item : value) {
          if (!item.is_string())
            throw std::invalid_argument("properties.user_properties." + key +
                                        " holds a non-string");
          p.user.push_back({key, item.get<std::string>()});
        }
      } else {
        throw std::invalid_argument("properties.user_properties." + key + " is not a string");
      }
    }
  }
  return p;
}

Json to_record(const dtbus::ReceivedMessage& message, std::optional<std::string> received_at) {
  EncodedPayload payload = encode_payload(message.payload);
  Json record = Json::object();
  record["topic"] = message.topic;
  record["payload"] = std::move(payload.value);
  record["payload_encoding"] = encoding_name(payload.encoding);
  if (payload.text) record["payload_text"] = std::move(*payload.text);
  record["qos"] = message.qos;
  record["retain"] = message.retain;
  if (message.mid != 0) record["mid"] = message.mid;
  record["received_at"] = received_at ? std::move(*received_at) : util::now_rfc3339_ms();
  if (!message.properties.empty()) record["properties"] = properties_to_json(message.properties);
  return record;
}

void append_record_line(std::string& out, const dtbus::ReceivedMessage& message,
                        std::string_view received_at) {
  out += "{\"topic\":";
  if (topic::valid_utf8(message.topic)) {
    append_json_string(out, message.topic);
  } else {
    out += Json(message.topic).dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  out += ",\"payload\":";
  auto parsed = parse_payload(message.payload);
  bool compact = parsed && parsed->compact == message.payload;
  PayloadEncoding encoding = PayloadEncoding::json;
  if (parsed) {
    out += parsed->compact;  // the bytes themselves when they are the compact form
  } else if (topic::valid_utf8(message.payload)) {
    encoding = PayloadEncoding::utf8;
    append_json_string(out, message.payload);
  } else {
    encoding = PayloadEncoding::base64;
    out.push_back('"');
    out += base64_encode(message.payload);
    out.push_back('"');
  }
  out += ",\"payload_encoding\":\"";
  out += encoding_name(encoding);
  out.push_back('"');
  if (parsed && !compact) {
    out += ",\"payload_text\":";
    append_json_string(out, message.payload);  // valid UTF-8: it parsed as JSON
  }
  out += ",\"qos\":";
  out.push_back(static_cast<char>('0' + message.qos));
  out += message.retain ? ",\"retain\":true" : ",\"retain\":false";
  if (message.mid != 0) {
    out += ",\"mid\":";
    out += std::to_string(message.mid);
  }
  out += ",\"received_at\":\"";
  out += received_at;
  out.push_back('"');
  if (!message.properties.empty()) {
    out += ",\"properties\":";
    out +=
        properties_to_json(message.properties).dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  out += "}\n";
}

}  // namespace dtbus::record
