// SPDX-License-Identifier: Apache-2.0
// The durable DLQ session: where it is (brokers.yaml `dlq:`), attach, and pulling into the spool.
#include "dtbus/dlq/session.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "dtbus/config/paths.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"

namespace dtbus::dlq {
namespace {

using Clock = std::chrono::steady_clock;

// MQTT 5 session expiry 0xFFFFFFFF: the broker never drops the session on its own.
constexpr uint32_t kNeverExpires = 0xFFFFFFFF;
// The pull ends when no message came for this long (or 3x the connect latency, if longer)...
constexpr std::chrono::milliseconds kQuietPeriod{400};
// ...or, while messages keep flowing, after this long (the rest stays queued at the broker).
constexpr std::chrono::seconds kMaxPull{120};
// How long the backlog barrier (see pull) may take before the quiet period alone decides.
constexpr std::chrono::seconds kBarrierTimeout{10};

// One barrier topic per session: a run killed while waiting leaves its subscription (and maybe
// its barrier message) in the durable session, and a fixed topic lets the next run recognise
// that message instead of journaling it as a dead letter. The client id may hold characters a
// topic level cannot.
std::string barrier_topic(const std::string& client_id) {
  std::string level = client_id;
  for (char& c : level) {
    if (c == '+' || c == '#' || c == '/') c = '_';
  }
  return "dtbus/barrier/" + level;
}

// The payload tells this run's barrier from one a killed run left queued.
std::string barrier_nonce() {
  std::random_device random;
  return std::to_string(getpid()) + "-" + std::to_string(random()) + "-" + std::to_string(random());
}

// Called on the network thread when the journal write failed. libmosquitto has queued the
// PUBACK but writes it only after this callback returns (Connection runs the loop in its own
// thread), so ending the process here leaves the message with the broker, which delivers it again
// on the next pull. The content still goes to stderr, so that it is not hidden in any case.
[[noreturn]] void abort_unspooled(const dtbus::ReceivedMessage& message, const std::string& why) {
  std::string line = why + "; stopping without acknowledging the message (the broker keeps it): ";
  try {
    line += util::to_json_line(record::to_record(message));
  } catch (...) {
    line += message.topic + " " + message.payload;
  }
  print_error("dlq", line);
  util::leave_now(static_cast<int>(ExitCode::runtime));
}

}  // namespace

Setup resolve_setup(const GlobalOptions& globals) {
  Setup setup;
  setup.target = target::resolve(globals, "dlq");
  setup.broker_name = setup.target.broker ? setup.target.broker->name : "default";
  config::DlqSettings dlq;
  if (setup.target.broker && setup.target.broker->dlq) {
    dlq = *setup.target.broker->dlq;
  } else {
    // No dlq section (or no config): the documented defaults, named after the broker entry.
    dlq.client_id = "dtbus-dlq-" + setup.broker_name;
    std::string state =
        config::detail::xdg_dir("XDG_STATE_HOME", ".local/state", config::process_env());
    dlq.spool =
        (state.empty() ? std::string(".") : state) + "/dtbus/dlq/" + setup.broker_name + ".jsonl";
  }
  // Absolute, as the processor wrote it (TaylorDash: "tracker/dlq/..."): the broker entry's
  // topic_prefix is for the topics users type, not for the DLQ's.
  setup.filter = dlq.topic;
  topic::require_filter(setup.filter);
  setup.client_id = globals.client_id.value_or(dlq.client_id);
  setup.spool_path = dlq.spool;
  return setup;
}

namespace detail {

mqtt::ConnectionSettings publish_settings(const Setup& setup, const GlobalOptions& globals) {
  mqtt::ConnectionSettings settings = setup.target.connection;
  settings.clean_session = true;
  if (settings.client_id == setup.client_id || globals.client_id) {
    // -i names the durable session; publishing must not take that session over.
    settings.client_id = setup.client_id + "-pub-" + std::to_string(getpid());
  }
  return settings;
}

// A message of our own, published into this session after its queued dead letters, arrives
// after them on a broker that keeps a session's queue in order (mosquitto does): once it is
// back, the backlog is in, however slow the machine. Where the broker refuses the topic or
// reorders (some clusters), the quiet period after it still decides.
static void wait_for_backlog(mqtt::Connection& connection, const std::string& barrier,
                             const std::string& nonce, const std::atomic<bool>& seen) {
  try {
    mqtt::Subscription subscription;
    subscription.filter = barrier;
    subscription.qos = 1;
    auto granted = connection.subscribe({subscription});
    if (granted.empty() || granted.front() > 2) return;
    connection.publish(barrier, nonce, 1, false);
    auto deadline = Clock::now() + kBarrierTimeout;
    while (!seen && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!seen)
      spdlog::debug("backlog barrier {} did not come back; using the quiet period", barrier);
    connection.unsubscribe({barrier});  // the durable session must not keep it
  } catch (const Error& e) {
    spdlog::debug("backlog barrier not usable ({}); using the quiet period", e.what());
  }
}

PullReport pull(const Setup& setup, Spool& spool, bool subscribe) {
  mqtt::ConnectionSettings settings = setup.target.connection;
  settings.client_id = setup.client_id;
  settings.clean_session = false;
  settings.session_expiry = kNeverExpires;

  PullReport report;
  std::atomic<size_t> received{0};
  std::atomic<size_t> spooled{0};
  std::atomic<int64_t> last_activity{Clock::now().time_since_epoch().count()};
  std::atomic<bool> session_present{false};
  const std::string barrier = barrier_topic(setup.client_id);
  const std::string nonce = barrier_nonce();
  std::atomic<bool> barrier_seen{false};
  mqtt::Handlers handlers;
  handlers.on_message = [&](const dtbus::ReceivedMessage& message) {
    if (message.topic == barrier) {
      if (message.payload != nonce) {
        spdlog::debug("ignoring a barrier message left by an earlier, interrupted run");
        return;
      }
      barrier_seen = true;
      last_activity = Clock::now().time_since_epoch().count();
      return;
    }
    // Ownership passes to us here (the PUBACK is queued): journal first, nothing else before.
    if (message.payload.empty()) {
      // How retained messages are cleared (our own clears too): no dead letter in it.
      spdlog::debug("ignoring an empty message on {}", message.topic);
    } else {
      try {
        if (spool.append(entry_from_message(message))) ++spooled;
      } catch (const std::exception& e) {
        abort_unspooled(message, e.what());
      }
    }
    ++received;
    last_activity = Clock::now().time_since_epoch().count();
  };
  handlers.on_connect = [&](bool present, bool reconnect) {
    if (!reconnect) session_present = present;
  };
  mqtt::Connection connection(settings, handlers);
  connection.connect();
  report.session_present = session_present;
  if (subscribe || !report.session_present) {
    if (!subscribe) {
      spdlog::warn(
          "the broker had no session '{}' (never attached, expired or lost); created it "
          "now: dead letters published while it did not exist were not kept",
          setup.client_id);
    }
    mqtt::Subscription subscription;
    subscription.filter = setup.filter;
    subscription.qos = 1;
    subscription.retain_handling = 1;  // retained DLQ messages only when the subscription is new
    auto granted = connection.subscribe({subscription});
    if (!granted.empty() && granted.front() < 1) {
      spdlog::warn("the broker granted QoS {} for '{}': dead letters are not queued while detached",
                   granted.front(), setup.filter);
    }
    report.subscribed = true;
  }
  last_activity = Clock::now().time_since_epoch().count();
  wait_for_backlog(connection, barrier, nonce, barrier_seen);

  auto quiet = std::max<Clock::duration>(kQuietPeriod, 3 * connection.connect_latency());
  auto started = Clock::now();
  while (true) {
    auto idle = Clock::now() - Clock::time_point(Clock::duration(last_activity.load()));
    if (idle >= quiet) break;
    if (Clock::now() - started > kMaxPull) {
      spdlog::warn(
          "still receiving after {} s; stopping the pull here (the rest stays queued at the "
          "broker for the next run)",
          kMaxPull.count());
      break;
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(quiet - idle, std::chrono::milliseconds(50)));
  }
  // Sends the queued PUBACKs, then DISCONNECT; the session stays at the broker.
  connection.disconnect();
  report.received = received;
  report.spooled = spooled;
  spdlog::info("pulled {} message(s) from session '{}' ({} new entries in {})", report.received,
               setup.client_id, report.spooled, spool.path());
  return report;
}

OpenSpool open_spool(const Setup& setup, bool pull_first) {
  OpenSpool open;
  open.lock = std::make_unique<SpoolLock>(setup.spool_path);
  open.spool = std::make_unique<Spool>(setup.spool_path, Spool::Mode::read_write);
  for (const auto& w : open.spool->warnings()) spdlog::warn("{}", w);
  if (pull_first) open.pulled = pull(setup, *open.spool, false);
  return open;
}

}  // namespace detail

}  // namespace dtbus::dlq
