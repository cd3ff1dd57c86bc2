// SPDX-License-Identifier: Apache-2.0
// A message as MQTT carries it, independent of the client library: topic, payload bytes, QoS,
// retain and the MQTT 5 properties dtbus reads and writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus {

struct UserProperty {
  std::string key;
  std::string value;
};

struct MessageProperties {
  std::string content_type;
  std::optional<uint32_t> message_expiry;
  std::optional<bool> payload_is_utf8;  // payload format indicator
  std::string response_topic;
  std::string correlation_data;
  std::vector<UserProperty> user;
  bool empty() const {
    return content_type.empty() && !message_expiry && !payload_is_utf8 && response_topic.empty() &&
           correlation_data.empty() && user.empty();
  }
};

struct ReceivedMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
  int mid = 0;
  MessageProperties properties;
};

}  // namespace dtbus

DTBUS_PUBLIC_END
