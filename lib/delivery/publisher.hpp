// SPDX-License-Identifier: Apache-2.0
// The publishing pipeline shared by pub, dlq recover and replay: a bounded in-flight window,
// acknowledgement tracking across reconnects (message ids wrap past 65535), a no-progress
// timeout, and the --failed-out file for whatever was not acknowledged (SPEC §4 `dtbus pub`).
//
// The broker link is an mqtt::Transport (transport.hpp): an mqtt::Connection, or a fake in the
// unit tests.
//
// Guarantees: a QoS>=1 message counts as acknowledged only after its PUBACK/PUBCOMP with a
// success reason; after a reconnect libmosquitto resends every unacknowledged QoS>=1 message.
// A QoS 0 message counts once written to the socket; one dropped unwritten by a lost connection
// is published again after the reconnect (rarely twice). Memory is bounded by `window` for QoS
// 1/2; QoS 0 messages not yet written may go up to 960 beyond it while under 4 MiB.
// Every message that fails (rejected by the broker, refused by the link as too large, pending
// when the timeout gives up or after a signal, or never sent because publishing had stopped) is
// appended at once to the failed-out file as a record (record.hpp shape, plus "error"), ready for
// `dtbus pub --jsonl`. The file is created (0600: dead letters are data) before anything is
// published, so that a path that cannot be written stops the command before it sends anything;
// each record is written whole or not at all (a full disk truncates a partial one away); the
// file is fsynced before finish() reports; left empty, it is removed. A message with a bad topic
// the link refuses to queue is the exception: publishing stops and the caller reports it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dtbus/core/error.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/mqtt/transport.hpp"

namespace dtbus::delivery {

// The "error" recorded in failed-out for a message not sent because of SIGINT/SIGTERM.
inline constexpr std::string_view kNotSentAfterSignal = "not sent: interrupted by a signal";

struct OutgoingMessage {
  std::string topic;  // final topic (prefix already applied by the caller)
  std::string payload;
  int qos = 0;
  bool retain = false;
  dtbus::MessageProperties properties;
  uint64_t input_line = 0;  // the caller's input line (0 = none), for DeliveryOptions::on_refused
};

// For a message refused as such (see DeliveryOptions::on_refused): true = save it to failed-out.
using RefusedCallback = std::function<bool(const OutgoingMessage& message, const std::string& why)>;

// Messages published but not yet acknowledged, by default. Measured (bench/pubsub.sh): for each
// acknowledgement libmosquitto walks its list of in-flight messages, so a window of 1024 against
// a broker whose Receive Maximum is 1000 costs 2.5 times the instructions per message of a
// window of 20; 64 costs 8 % more than 20 and still keeps a loopback or LAN link busy. Raise
// --window on a high-latency link: throughput is at most window / round-trip time.
inline constexpr size_t kDefaultWindow = 64;

struct DeliveryOptions {
  size_t window = kDefaultWindow;  // max QoS 1/2 messages published but not yet acknowledged
  std::chrono::milliseconds timeout{
      60'000};                  // no acknowledgement progress for this long -> give up
  std::optional<double> rate;   // messages per second cap, nullopt = none
  std::string failed_out;       // file for unacknowledged messages ("" = default name)
  std::string command = "pub";  // for the default failed-out name dtbus-<cmd>-failed-<pid>.jsonl
  // A message refused as such (larger than the broker's maximum packet size, QoS or retain not
  // supported) does not stop publishing: the others go on and are awaited. Called on the
  // publishing thread; return true to save the message to failed-out (counted as failed), false
  // when the caller accounts for it itself (e.g. as skipped). Unset: saved, with a warning.
  RefusedCallback on_refused;
};

// Why publishing stopped before the caller was done. Once stopped, publish() sends nothing.
enum class StoppedBy {
  nothing,
  timeout,  // no acknowledgement progress for DeliveryOptions::timeout
  signal,   // SIGINT/SIGTERM (util/interrupt.hpp)
  refused,  // the link refused to queue a message with a bad topic: see `refusal`
};

struct DeliveryReport {
  uint64_t published = 0;     // handed to the broker connection
  uint64_t acknowledged = 0;  // QoS 0: written; QoS>0: PUBACK/PUBCOMP with success reason
  // Not delivered: rejected or refused, not acknowledged in time, or unsent. Normally in the
  // failed-out file; `unsaved` of them could not be written there.
  uint64_t failed = 0;
  uint64_t unsaved = 0;
  std::string failed_out_error;  // the first write error of the failed-out file (unsaved > 0)
  double duration_s = 0;
  std::string failed_out_path;  // set when failed > 0
  StoppedBy stopped_by = StoppedBy::nothing;
  // For people: "no acknowledgement from <broker> for 60 s", "interrupted by a signal", or the
  // refusal's message.
  std::string stop_reason;
  // stopped_by refused: the error to report (Error(usage) for a bad topic, Error(runtime) else).
  std::optional<Error> refusal;
  bool complete() const { return failed == 0 && acknowledged == published; }
  uint64_t saved() const { return failed - unsaved; }
};

// Called when a message's fate is known (true = acknowledged). It runs on the thread that
// calls publish()/finish(), from inside those calls, never concurrently.
using DoneCallback = std::function<void(bool acknowledged)>;

// Makes the link once the Publisher has its handlers (they report acknowledgements and
// reconnects).
using TransportFactory = std::function<std::unique_ptr<mqtt::Transport>(mqtt::Handlers)>;

class Publisher {
 public:
  // Both constructors first create the failed-out file (Error(runtime) naming it when they
  // cannot), then connect.
  // Connects an mqtt::Connection (throws Error 4/5 like Connection::connect).
  Publisher(const mqtt::ConnectionSettings& settings, DeliveryOptions options);
  // Connects the link `make_transport` returns (throws what its connect() throws).
  Publisher(const TransportFactory& make_transport, DeliveryOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Blocks while the window is full or the rate cap applies. Delivery outcomes never throw:
  // publishing stops instead (stopped_by(), reason and refusal in progress()), and every later
  // publish() appends its message to failed-out at once, sends nothing and returns.
  // - timeout: no acknowledgement progress for the timeout; every pending message, this one
  //   included, is then in the failed-out file.
  // - signal: after SIGINT/SIGTERM it sends nothing; the message goes to failed-out.
  // - refused: the link refused the message's topic; it is neither queued nor in failed-out,
  //   and what is in flight is still awaited by finish().
  // A message refused for its size and the like does not stop publishing: see on_refused.
  void publish(OutgoingMessage message, DoneCallback on_done = {});

  StoppedBy stopped_by() const;
  bool stopped() const { return stopped_by() != StoppedBy::nothing; }

  // A message the caller will not send (e.g. read but not published before a signal): appended
  // to failed-out with `why`, counted as failed.
  void save_unsent(const OutgoingMessage& message, const std::string& why);

  // Waits until every message is acknowledged or the timeout passes without progress, writes the
  // unacknowledged ones to failed-out, disconnects, and reports. Never throws for delivery
  // failures: check report.complete() (exit 7 otherwise). After SIGINT/SIGTERM it waits at most
  // 2 s (and never longer than the timeout) for what is in flight, then saves the rest to
  // failed-out; the caller checks interrupt::interrupted() for its exit status. A timeout or
  // signal that ends the wait here is in report.stopped_by too (unless publishing had stopped).
  DeliveryReport finish();

  // Counters and the stop so far (for progress displays, and the stop's details).
  DeliveryReport progress() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The stop as one line for a log: for a timeout "3 message(s) not acknowledged (no
// acknowledgement from <broker> for 60 s); saved to <failed-out>", else the stop_reason.
std::string stop_message(const DeliveryReport& report);

// Where the failed messages are, honestly: "saved to F (re-send with: dtbus pub --jsonl < F)",
// or which part could not be saved and why.
std::string saved_text(const DeliveryReport& report);

}  // namespace dtbus::delivery
