// SPDX-License-Identifier: Apache-2.0
// The CONNACK property parser, fed property lists built with libmosquitto's own API.
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <gtest/gtest.h>

#include "dtbus/mqtt/broker_info.hpp"

using namespace dtbus::mqtt;

namespace {

struct Properties {
  mosquitto_property* head = nullptr;
  ~Properties() { mosquitto_property_free_all(&head); }
};

}  // namespace

TEST(BrokerInfo, NoPropertiesMeansNothingDeclaredAndTheDefaultsApply) {
  auto info = parse_connack(nullptr, 311, true);
  EXPECT_EQ(info.protocol, 311);
  EXPECT_TRUE(info.session_present);
  EXPECT_FALSE(info.receive_maximum);
  EXPECT_FALSE(info.maximum_qos);
  EXPECT_FALSE(info.retain_available);
  EXPECT_FALSE(info.maximum_packet_size);
  EXPECT_FALSE(info.tls);
  EXPECT_EQ(info.effective_receive_maximum(), 65535);
  EXPECT_EQ(info.effective_maximum_qos(), 2);
  EXPECT_TRUE(info.effective_retain_available());
  EXPECT_TRUE(info.effective_wildcards());
  EXPECT_TRUE(info.effective_shared());
  auto json = broker_info_json(info);
  EXPECT_TRUE(json["maximum_packet_size"].is_null());
  EXPECT_EQ(json["protocol"], 311);
}

TEST(BrokerInfo, EveryDeclaredPropertyIsRead) {
  Properties p;
  mosquitto_property_add_int16(&p.head, MQTT_PROP_RECEIVE_MAXIMUM, 7);
  mosquitto_property_add_byte(&p.head, MQTT_PROP_MAXIMUM_QOS, 1);
  mosquitto_property_add_byte(&p.head, MQTT_PROP_RETAIN_AVAILABLE, 0);
  mosquitto_property_add_int32(&p.head, MQTT_PROP_MAXIMUM_PACKET_SIZE, 2000);
  mosquitto_property_add_int16(&p.head, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, 10);
  mosquitto_property_add_byte(&p.head, MQTT_PROP_WILDCARD_SUB_AVAILABLE, 0);
  mosquitto_property_add_byte(&p.head, MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE, 1);
  mosquitto_property_add_byte(&p.head, MQTT_PROP_SHARED_SUB_AVAILABLE, 0);
  mosquitto_property_add_int16(&p.head, MQTT_PROP_SERVER_KEEP_ALIVE, 30);
  mosquitto_property_add_string(&p.head, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, "auto-1");
  mosquitto_property_add_int32(&p.head, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
  mosquitto_property_add_string(&p.head, MQTT_PROP_REASON_STRING, "welcome");
  mosquitto_property_add_string(&p.head, MQTT_PROP_SERVER_REFERENCE, "other:1883");
  mosquitto_property_add_string_pair(&p.head, MQTT_PROP_USER_PROPERTY, "region", "eu");

  auto info = parse_connack(p.head, 5, false);
  EXPECT_EQ(info.protocol, 5);
  EXPECT_FALSE(info.session_present);
  EXPECT_EQ(info.receive_maximum, 7);
  EXPECT_EQ(info.maximum_qos, 1);
  EXPECT_EQ(info.retain_available, false);
  EXPECT_EQ(info.maximum_packet_size, 2000u);
  EXPECT_EQ(info.topic_alias_maximum, 10);
  EXPECT_EQ(info.wildcard_subscription_available, false);
  EXPECT_EQ(info.subscription_identifiers_available, true);
  EXPECT_EQ(info.shared_subscription_available, false);
  EXPECT_EQ(info.server_keep_alive, 30);
  EXPECT_EQ(info.assigned_client_identifier, "auto-1");
  EXPECT_EQ(info.session_expiry_interval, 3600u);
  EXPECT_EQ(info.reason_string, "welcome");
  EXPECT_EQ(info.server_reference, "other:1883");
  ASSERT_EQ(info.user_properties.size(), 1u);
  EXPECT_EQ(info.user_properties[0].first, "region");
  EXPECT_EQ(info.user_properties[0].second, "eu");
  EXPECT_EQ(info.effective_maximum_qos(), 1);
  EXPECT_FALSE(info.effective_retain_available());

  auto json = broker_info_json(info);
  EXPECT_EQ(json["maximum_packet_size"], 2000);
  EXPECT_EQ(json["retain_available"], false);
  EXPECT_EQ(json["receive_maximum"], 7);
  EXPECT_TRUE(json["response_information"].is_null());
  EXPECT_EQ(json["user_properties"][0][0], "region");
}

TEST(BrokerInfo, OnlyTheDeclaredOnesAreSet) {
  Properties p;
  mosquitto_property_add_int16(&p.head, MQTT_PROP_TOPIC_ALIAS_MAXIMUM, 10);
  auto info = parse_connack(p.head, 5, false);
  EXPECT_EQ(info.topic_alias_maximum, 10);
  EXPECT_FALSE(info.receive_maximum);
  EXPECT_FALSE(info.maximum_qos);
  EXPECT_FALSE(info.assigned_client_identifier);
  EXPECT_TRUE(info.user_properties.empty());
}

TEST(TlsFacts, DaysLeftRoundDown) {
  TlsFacts facts;
  auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(facts.days_left(now));
  facts.not_after = now + std::chrono::hours(24 * 10 + 5);
  EXPECT_EQ(facts.days_left(now), 10);
  facts.not_after = now + std::chrono::hours(12);
  EXPECT_EQ(facts.days_left(now), 0);
  facts.not_after = now - std::chrono::hours(1);
  EXPECT_EQ(facts.days_left(now), -1);
}
