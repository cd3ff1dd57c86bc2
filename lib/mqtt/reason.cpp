// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/reason.hpp"

#include <fmt/format.h>

namespace dtbus::mqtt {
namespace {

// The names of MQTT 5 §2.4, lower case except for abbreviations.
const char* reason_name(int code) {
  static constexpr struct {
    int code;
    const char* name;
  } kNames[] = {
      {0x00, "success"},
      {0x01, "granted QoS 1"},
      {0x02, "granted QoS 2"},
      {0x04, "disconnect with will message"},
      {0x10, "no matching subscribers"},
      {0x11, "no subscription existed"},
      {0x18, "continue authentication"},
      {0x19, "re-authenticate"},
      {0x80, "unspecified error"},
      {0x81, "malformed packet"},
      {0x82, "protocol error"},
      {0x83, "implementation specific error"},
      {0x84, "unsupported protocol version"},
      {0x85, "client identifier not valid"},
      {0x86, "bad user name or password"},
      {0x87, "not authorized"},
      {0x88, "server unavailable"},
      {0x89, "server busy"},
      {0x8A, "banned"},
      {0x8B, "server shutting down"},
      {0x8C, "bad authentication method"},
      {0x8D, "keep alive timeout"},
      {0x8E, "session taken over"},
      {0x8F, "topic filter invalid"},
      {0x90, "topic name invalid"},
      {0x91, "packet identifier in use"},
      {0x92, "packet identifier not found"},
      {0x93, "receive maximum exceeded"},
      {0x94, "topic alias invalid"},
      {0x95, "packet too large"},
      {0x96, "message rate too high"},
      {0x97, "quota exceeded"},
      {0x98, "administrative action"},
      {0x99, "payload format invalid"},
      {0x9A, "retain not supported"},
      {0x9B, "QoS not supported"},
      {0x9C, "use another server"},
      {0x9D, "server moved"},
      {0x9E, "shared subscriptions not supported"},
      {0x9F, "connection rate exceeded"},
      {0xA0, "maximum connect time"},
      {0xA1, "subscription identifiers not supported"},
      {0xA2, "wildcard subscriptions not supported"},
  };
  for (const auto& entry : kNames) {
    if (entry.code == code) return entry.name;
  }
  return "unknown reason code";
}

// MQTT 3.1.1 §3.2.2.3.
const char* connack_v311_name(int code) {
  static constexpr struct {
    int code;
    const char* name;
  } kNames[] = {
      {0, "connection accepted"}, {1, "unacceptable protocol version"}, {2, "identifier rejected"},
      {3, "server unavailable"},  {4, "bad user name or password"},     {5, "not authorized"},
  };
  for (const auto& entry : kNames) {
    if (entry.code == code) return entry.name;
  }
  return "unknown return code";
}

}  // namespace

std::string reason_text(int code) { return fmt::format("{} (0x{:02x})", reason_name(code), code); }

std::string connack_reason_text(int code, int protocol) {
  if (protocol != 5) return fmt::format("{} (0x{:02x})", connack_v311_name(code), code);
  return reason_text(code);
}

}  // namespace dtbus::mqtt
