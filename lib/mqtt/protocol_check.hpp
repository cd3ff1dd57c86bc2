// SPDX-License-Identifier: Apache-2.0
// One connect-and-leave with a chosen MQTT protocol version, apart from Connection (which keeps
// a link up and only speaks 5 and 3.1.1): `dtbus probe` asks whether a broker accepts 5, 3.1.1
// and 3.1 with the same address, TLS settings and credentials.
#pragma once

#include <string>

#include "dtbus/mqtt/settings.hpp"

namespace dtbus::mqtt {

struct ProtocolAttempt {
  bool accepted = false;  // CONNACK with success
  int reason = -1;        // the CONNACK's code when the broker answered, else -1
  std::string error;      // why not, one line; empty when accepted
  double connect_ms = 0;  // to the CONNACK
};

// `protocol`: 5, 311 or 31. Connects with a short client id of its own (MQTT 3.1 allows 23
// characters), waits up to settings.connect_timeout for the CONNACK, then disconnects.
ProtocolAttempt try_protocol(const ConnectionSettings& settings, int protocol);

}  // namespace dtbus::mqtt
