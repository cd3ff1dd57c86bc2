// SPDX-License-Identifier: Apache-2.0
// MQTT reason codes as people read them: "not authorized (0x87)". Every place that reports a
// code the broker sent (CONNACK, PUBACK/PUBREC, SUBACK, DISCONNECT) prints it through these.
#pragma once

#include <string>

namespace dtbus::mqtt {

// An MQTT 5 reason code (spec §2.4): its name, lower case, and the code in hex.
// Unknown codes read "unknown reason code (0xNN)".
std::string reason_text(int code);

// A CONNACK return code: MQTT 3.1.1 has its own codes 1..5, MQTT 5 the reason codes above.
std::string connack_reason_text(int code, int protocol);

}  // namespace dtbus::mqtt
