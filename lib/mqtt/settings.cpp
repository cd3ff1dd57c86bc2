// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/settings.hpp"

namespace dtbus::mqtt {

std::string ConnectionSettings::describe() const {
  std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (!proxy.host.empty()) address += " via SOCKS5 proxy " + proxy.shown;
  return broker_name.empty() ? address : broker_name + " (" + address + ")";
}

std::string ConnectionSettings::prefixed(const std::string& topic) const {
  if (topic_prefix.empty() || topic.rfind(topic_prefix, 0) == 0 ||
      (!topic.empty() && topic[0] == '$')) {
    return topic;
  }
  return topic_prefix + topic;
}

}  // namespace dtbus::mqtt
