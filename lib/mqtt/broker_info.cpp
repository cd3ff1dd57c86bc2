// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/broker_info.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <cstdlib>

#include "dtbus/util/time.hpp"

namespace dtbus::mqtt {
namespace {

// mosquitto_property_read_* return the property found, or null.
std::optional<uint8_t> read_byte(const mosquitto_property* p, int id) {
  uint8_t value = 0;
  if (!mosquitto_property_read_byte(p, id, &value, false)) return std::nullopt;
  return value;
}

std::optional<uint16_t> read_int16(const mosquitto_property* p, int id) {
  uint16_t value = 0;
  if (!mosquitto_property_read_int16(p, id, &value, false)) return std::nullopt;
  return value;
}

std::optional<uint32_t> read_int32(const mosquitto_property* p, int id) {
  uint32_t value = 0;
  if (!mosquitto_property_read_int32(p, id, &value, false)) return std::nullopt;
  return value;
}

std::optional<std::string> read_string(const mosquitto_property* p, int id) {
  char* value = nullptr;
  if (!mosquitto_property_read_string(p, id, &value, false) || value == nullptr)
    return std::nullopt;
  std::string text(value);
  std::free(value);
  return text;
}

template <typename T>
nlohmann::ordered_json or_null(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

std::optional<bool> read_flag(const mosquitto_property* p, int id) {
  auto value = read_byte(p, id);
  if (!value) return std::nullopt;
  return *value != 0;
}

}  // namespace

BrokerInfo parse_connack(const mqtt5__property* properties, int protocol, bool session_present) {
  BrokerInfo info;
  info.protocol = protocol;
  info.session_present = session_present;
  const mosquitto_property* p = properties;
  if (p == nullptr) return info;
  info.receive_maximum = read_int16(p, MQTT_PROP_RECEIVE_MAXIMUM);
  if (auto qos = read_byte(p, MQTT_PROP_MAXIMUM_QOS)) info.maximum_qos = *qos;
  info.retain_available = read_flag(p, MQTT_PROP_RETAIN_AVAILABLE);
  info.maximum_packet_size = read_int32(p, MQTT_PROP_MAXIMUM_PACKET_SIZE);
  info.topic_alias_maximum = read_int16(p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
  info.wildcard_subscription_available = read_flag(p, MQTT_PROP_WILDCARD_SUB_AVAILABLE);
  info.subscription_identifiers_available = read_flag(p, MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE);
  info.shared_subscription_available = read_flag(p, MQTT_PROP_SHARED_SUB_AVAILABLE);
  info.server_keep_alive = read_int16(p, MQTT_PROP_SERVER_KEEP_ALIVE);
  info.assigned_client_identifier = read_string(p, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER);
  info.session_expiry_interval = read_int32(p, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
  info.reason_string = read_string(p, MQTT_PROP_REASON_STRING);
  info.server_reference = read_string(p, MQTT_PROP_SERVER_REFERENCE);
  info.response_information = read_string(p, MQTT_PROP_RESPONSE_INFORMATION);
  for (const mosquitto_property* it = p; it != nullptr; it = mosquitto_property_next(it)) {
    if (mosquitto_property_identifier(it) != MQTT_PROP_USER_PROPERTY) continue;
    char* key = nullptr;
    char* value = nullptr;
    if (mosquitto_property_read_string_pair(it, MQTT_PROP_USER_PROPERTY, &key, &value, false)) {
      info.user_properties.emplace_back(key ? key : "", value ? value : "");
    }
    std::free(key);
    std::free(value);
  }
  return info;
}

nlohmann::ordered_json broker_info_json(const BrokerInfo& info) {
  nlohmann::ordered_json user = nlohmann::ordered_json::array();
  for (const auto& [key, value] : info.user_properties) user.push_back({key, value});
  return {{"protocol", info.protocol},
          {"session_present", info.session_present},
          {"receive_maximum", or_null(info.receive_maximum)},
          {"maximum_qos", or_null(info.maximum_qos)},
          {"retain_available", or_null(info.retain_available)},
          {"maximum_packet_size", or_null(info.maximum_packet_size)},
          {"topic_alias_maximum", or_null(info.topic_alias_maximum)},
          {"wildcard_subscription_available", or_null(info.wildcard_subscription_available)},
          {"subscription_identifiers_available", or_null(info.subscription_identifiers_available)},
          {"shared_subscription_available", or_null(info.shared_subscription_available)},
          {"server_keep_alive", or_null(info.server_keep_alive)},
          {"assigned_client_identifier", or_null(info.assigned_client_identifier)},
          {"session_expiry_interval", or_null(info.session_expiry_interval)},
          {"reason_string", or_null(info.reason_string)},
          {"server_reference", or_null(info.server_reference)},
          {"response_information", or_null(info.response_information)},
          {"user_properties", user}};
}

nlohmann::ordered_json tls_json(const TlsFacts& facts, std::chrono::system_clock::time_point now) {
  return {{"protocol", facts.protocol},
          {"cipher", facts.cipher},
          {"subject", facts.subject.empty() ? nlohmann::ordered_json(nullptr)
                                            : nlohmann::ordered_json(facts.subject)},
          {"issuer", facts.issuer.empty() ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(facts.issuer)},
          {"alt_names", facts.alt_names},
          {"not_after", facts.not_after ? nlohmann::ordered_json(util::rfc3339_ms(*facts.not_after))
                                        : nlohmann::ordered_json(nullptr)},
          {"days_left", or_null(facts.days_left(now))},
          {"verified", facts.verified}};
}

}  // namespace dtbus::mqtt
