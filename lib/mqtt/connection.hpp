// SPDX-License-Identifier: Apache-2.0
// One RAII wrapper over libmosquitto used by every command.
//
// Threading: a private network thread runs mosquitto_loop(); publish()/subscribe() may be called
// from any thread; handlers run on the network thread and must not block for long.
// Reconnects: after the first successful connect, a lost connection is retried with exponential
// backoff + jitter (base reconnect_interval, cap 60 s). libmosquitto keeps QoS>0 messages that
// are not yet acknowledged and resends them after the reconnect, so callers only track acks.
// On MQTT 5 a clean session is still given a short session expiry while connected, so that
// QoS>0 messages for our subscriptions survive a reconnect; it is dropped on disconnect().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dtbus/core/message.hpp"
#include "dtbus/mqtt/broker_info.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/mqtt/transport.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::mqtt {

struct Subscription {
  std::string filter;  // as sent (prefix/share already applied)
  int qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  int retain_handling = 0;  // 0 send, 1 send if new, 2 never (MQTT 5)
};

class Connection : public Transport {
 public:
  Connection(mqtt::ConnectionSettings settings, Handlers handlers);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Blocks until CONNACK. Throws Error(connect) for DNS/refused/TLS/timeout, Error(auth)
  // for a CONNACK that refuses the credentials, and Error(interrupted) at once when SIGINT or
  // SIGTERM arrives meanwhile (in a command that called interrupt::install()).
  void connect() override;
  std::chrono::microseconds connect_latency() const;
  bool connected() const override;
  // Waits up to `timeout` for the link to be up; false on timeout or after disconnect().
  bool wait_connected(std::chrono::milliseconds timeout) const;

  // Returns the message id. QoS 0 waits while reconnecting; QoS>0 is queued by libmosquitto
  // even while disconnected. Throws Error(usage) for a bad topic, Error(runtime) otherwise.
  int publish(const std::string& topic, std::string_view payload, int qos, bool retain,
              const MessageProperties& properties = {}) override;

  // Subscribes and waits for the SUBACK (re-subscribed automatically after a reconnect that
  // lost the session). Returns the granted QoS per filter; a refused filter throws Error(auth).
  std::vector<int> subscribe(const std::vector<Subscription>& subscriptions);
  void unsubscribe(const std::vector<std::string>& filters);

  // Waits until libmosquitto has handed every queued packet (such as the PUBACKs of messages
  // received so far) to the socket; gives up when the link is down, `stop_waiting()` is true or
  // `limit` passes. True when everything was written. For leaving without disconnect().
  bool wait_written(std::chrono::milliseconds limit, const std::function<bool()>& stop_waiting);

  // Sends DISCONNECT after everything already queued and stops the network thread. A clean
  // MQTT 5 session is dropped at the broker; a durable one keeps its configured expiry.
  // Returns within a few seconds even when the broker does not read (the socket is closed).
  void disconnect() override;

  const mqtt::ConnectionSettings& settings() const override;
  // Number of reconnects so far (for --stats and tests).
  int reconnect_count() const;
  // What the broker declared in its last CONNACK, the protocol used and the TLS session
  // (broker_info.hpp); protocol 0 before the first CONNACK.
  BrokerInfo broker_info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtbus::mqtt

DTBUS_PUBLIC_END
