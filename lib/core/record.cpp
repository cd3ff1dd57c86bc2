// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/record.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <vector>

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

// The compact form nlohmann's dump() gives, written straight from the text without building a
// tree, for what producers usually send (ASCII strings with short escapes, integers, floats).
// run() fails (leaving a partial output the caller drops) whenever the full parser is needed:
// not JSON, non-ASCII or \u escapes in strings, repeated keys, long integers, deep nesting.
class FastCompact {
 public:
  FastCompact(std::string_view in, std::string& out) : in_(in), out_(out) {}
  bool run() {
    skip_blanks();
    if (!value(0)) return false;
    skip_blanks();
    return pos_ == in_.size();
  }

 private:
  static constexpr int kMaxDepth = 64;
  static constexpr size_t kMaxKeys = 64;

  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  void skip_blanks() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\n' || in_[pos_] == '\r' || in_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool digit() const { return pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9'; }

  bool value(int depth) {
    switch (peek()) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    out_ += word;
    pos_ += word.size();
    return true;
  }

  // Escapes nlohmann writes back the same way; every other byte is copied as is.
  bool string(std::string_view* raw) {
    size_t start = pos_++;
    while (pos_ < in_.size()) {
      auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        ++pos_;
        std::string_view text = in_.substr(start, pos_ - start);
        out_ += text;
        if (raw != nullptr) *raw = text;
        return true;
      }
      if (c < 0x20 || c >= 0x80) return false;
      if (c == '\\') {
        char e = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
        if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
          return false;
        ++pos_;
      }
      ++pos_;
    }
    return false;
  }

  bool number() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    size_t int_start = pos_;
    while (digit()) ++pos_;
    size_t int_digits = pos_ - int_start;
    if (int_digits == 0 || (int_digits > 1 && in_[int_start] == '0')) return false;
    bool is_float = false;
    if (peek() == '.') {
      is_float = true;
      ++pos_;
      size_t fraction = pos_;
      while (digit()) ++pos_;
      if (pos_ == fraction) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      size_t exponent = pos_;
      while (digit()) ++pos_;
      if (pos_ == exponent) return false;
    }
    std::string_view token = in_.substr(start, pos_ - start);
    if (!is_float) {
      // Fits int64 for sure; "-0" is read as the integer 0.
      if (int_digits > 18 || token == "-0") return false;
      out_ += token;
      return true;
    }
    std::string text(token);
    double number = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(number)) return false;
    out_ += Json(number).dump();
    return true;
  }

  bool object(int depth) {
    if (depth > kMaxDepth) return false;
    ++pos_;
    out_.push_back('{');
    skip_blanks();
    if (peek() == '}') {
      ++pos_;
      out_.push_back('}');
      return true;
    }
    size_t first_key = keys_.size();
    while (true) {
      skip_blanks();
      std::string_view key;
      if (peek() != '"' || !string(&key)) return false;
      // nlohmann keeps one entry per key: repeats change the dump.
      for (size_t i = first_key; i < keys_.size(); ++i) {
        if (keys_[i] == key) return false;
      }
      if (keys_.size() - first_key >= kMaxKeys) return false;
      keys_.push_back(key);
      skip_blanks();
      if (peek() != ':') return false;
      ++pos_;
      out_.push_back(':');
      skip_blanks();
      if (!value(depth)) return false;
      skip_blanks();
      char next = peek();
      ++pos_;
      if (next == ',') {
        out_.push_back(',');
      } else if (next == '}') {
        out_.push_back('}');
        keys_.resize(first_key);
        return true;
      } else {
        return false;
      }
    }
  }

  bool array(int depth) {
    if (depth > kMaxDepth) return false;
    ++pos_;
    out_.push_back('[');
    skip_blanks();
    if (peek() == ']') {
      ++pos_;
      out_.push_back(']');
      return true;
    }
    while (true) {
      skip_blanks();
      if (!value(depth)) return false;
      skip_blanks();
      char next = peek();
      ++pos_;
      if (next == ',') {
        out_.push_back(',');
      } else if (next == ']') {
        out_.push_back(']');
        return true;
      } else {
        return false;
      }
    }
  }

  std::string_view in_;
  std::string& out_;
  size_t pos_ = 0;
  std::vector<std::string_view> keys_;  // keys of the objects being read, outermost first
};

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
  const std::string& payload = message.payload;
  size_t value_start = out.size();
  bool is_json = may_be_json(payload) && FastCompact(payload, out).run();
  if (!is_json) {
    out.resize(value_start);
    if (auto parsed = parse_payload(payload)) {
      out += parsed->compact;
      is_json = true;
    }
  }
  // The bytes themselves when they are the compact form.
  bool compact = is_json && std::string_view(out).substr(value_start) == payload;
  PayloadEncoding encoding = PayloadEncoding::json;
  if (!is_json && topic::valid_utf8(payload)) {
    encoding = PayloadEncoding::utf8;
    append_json_string(out, payload);
  } else if (!is_json) {
    encoding = PayloadEncoding::base64;
    out.push_back('"');
    out += base64_encode(payload);
    out.push_back('"');
  }
  out += ",\"payload_encoding\":\"";
  out += encoding_name(encoding);
  out.push_back('"');
  if (is_json && !compact) {
    out += ",\"payload_text\":";
    append_json_string(out, payload);  // valid UTF-8: it parsed as JSON
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
