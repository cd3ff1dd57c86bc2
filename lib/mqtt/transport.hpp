// SPDX-License-Identifier: Apache-2.0
// The seam between the delivery layer and a broker link: what delivery::Publisher needs of a
// connection. mqtt::Connection is the real one; unit tests drive a fake one without a broker.
//
// Contract (as Connection keeps it): handlers run on the link's own thread; after a reconnect
// the link resends every QoS>0 message not yet acknowledged under the same message id, but a
// QoS 0 message not yet written when the link dropped is lost (the caller publishes it again).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "dtbus/core/message.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::mqtt {

struct Handlers {
  // The handler may move from the message (it is not used afterwards); a lambda taking
  // `const ReceivedMessage&` fits too.
  std::function<void(ReceivedMessage&)> on_message;
  // QoS 0: written to the socket; QoS 1/2: PUBACK/PUBCOMP. reason_code >= 0x80 = rejected.
  std::function<void(int mid, int reason_code)> on_publish;
  // After every successful CONNACK (first connect and reconnects).
  std::function<void(bool session_present, bool reconnect)> on_connect;
  std::function<void(const std::string& reason)> on_connection_lost;
  // The link stopped reconnecting because the broker will not take what is pending (QoS 2 on a
  // broker without it, the same loss again and again with nothing acknowledged); no handler runs
  // afterwards. Unset: the link keeps reconnecting.
  std::function<void(const std::string& diagnosis)> on_gave_up;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Blocks until the first CONNACK; throws Error(connect/auth) when there is none.
  virtual void connect() = 0;
  virtual bool connected() const = 0;
  // Returns the message id (counts up from 1, wrapping past 65535). Throws Error(usage) for a
  // bad topic and Error(runtime) for another message the link refuses to queue (too large...).
  virtual int publish(const std::string& topic, std::string_view payload, int qos, bool retain,
                      const MessageProperties& properties = {}) = 0;
  // Sends what is queued, then DISCONNECT; no handler runs afterwards.
  virtual void disconnect() = 0;
  virtual const ConnectionSettings& settings() const = 0;
};

}  // namespace dtbus::mqtt

DTBUS_PUBLIC_END
