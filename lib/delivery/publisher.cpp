// SPDX-License-Identifier: Apache-2.0
#include "dtbus/delivery/publisher.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/mqtt/reason.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::delivery {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kReasonSuccessLimit = 0x80;
constexpr int kReasonPacketIdNotFound = 0x92;
constexpr size_t kMidCount = 65536;
// After a signal, how long finish() still waits for acknowledgements of what is in flight: a
// message saved to failed-out that the broker did take is only re-sent as a duplicate.
constexpr std::chrono::seconds kInterruptGrace{2};

struct Slot {
  OutgoingMessage message;
  DoneCallback on_done;
  int mid = -1;
  uint64_t epoch = 0;  // connection epoch (reconnect count seen by this thread) when published
  bool busy = false;
};

// What the network thread reports; handled on the publishing thread in arrival order.
struct Event {
  enum class Type { published, reconnected } type;
  int mid = 0;
  int reason = 0;
};

}  // namespace

struct Publisher::Impl {
  DeliveryOptions options;
  std::unique_ptr<mqtt::Transport> link;

  // Publishing thread only:
  std::vector<Slot> slots;
  std::vector<size_t> free_slots;
  std::vector<int32_t> slot_of_mid = std::vector<int32_t>(kMidCount, -1);
  std::vector<Event> handling;  // swapped with `events`, keeps its capacity
  size_t in_flight = 0;
  uint64_t epoch = 0;
  DeliveryReport report;
  Clock::time_point started = Clock::now();
  Clock::time_point last_progress = Clock::now();
  std::optional<Clock::time_point> next_send;
  bool given_up = false;
  bool finished = false;
  std::string give_up_reason;
  std::FILE* failed_file = nullptr;

  // Shared with the network thread:
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<Event> events;
  size_t wake_at = 0;  // 0 = the publishing thread is not waiting; else wake at this many events
  std::atomic<bool> has_events{false};

  ~Impl() {
    // Stop the link's thread first: its handlers use the members destroyed after it (this
    // matters when finish() was not reached, e.g. after an exception).
    link.reset();
    if (failed_file != nullptr) std::fclose(failed_file);
  }

  void push_event(Event event) {
    std::lock_guard lock(mutex);
    events.push_back(event);
    has_events.store(true, std::memory_order_release);
    if (wake_at != 0 && events.size() >= wake_at) arrived.notify_one();
  }

  // Handles what arrived; when `deadline` is given, first waits until `batch` events are there
  // (or the deadline): waking once per batch, not per acknowledgement, keeps the two threads
  // from ping-ponging on every message when the window is full.
  void drain(std::optional<Clock::time_point> deadline, size_t batch = 1) {
    {
      std::unique_lock lock(mutex);
      if (events.size() < batch && deadline) {
        wake_at = batch;
        arrived.wait_until(lock, *deadline, [&] { return events.size() >= batch; });
        wake_at = 0;
      }
      handling.swap(events);
      has_events.store(false, std::memory_order_relaxed);
    }
    for (const Event& event : handling) {
      if (event.type == Event::Type::reconnected) {
        resend_unwritten_qos0();
      } else {
        settle(event.mid, event.reason);
      }
    }
    handling.clear();
  }

  void settle(int mid, int reason) {
    if (mid < 0 || static_cast<size_t>(mid) >= kMidCount) return;
    int32_t index = slot_of_mid[static_cast<size_t>(mid)];
    if (index < 0) return;  // a QoS 0 message already published again after a reconnect
    slot_of_mid[static_cast<size_t>(mid)] = -1;
    Slot& slot = slots[static_cast<size_t>(index)];
    // After a broker restart a PUBREL can meet "packet identifier not found": the broker had
    // taken the QoS 2 message (PUBREC) already.
    bool ok = reason < kReasonSuccessLimit ||
              (reason == kReasonPacketIdNotFound && slot.message.qos == 2);
    last_progress = Clock::now();
    if (ok) {
      report.acknowledged++;
    } else {
      std::string why = std::string("rejected by the broker: ") + reason_text(reason);
      spdlog::warn("message to '{}' {}", slot.message.topic, why);
      save_failed(slot.message, why);
    }
    release(static_cast<size_t>(index), ok);
  }

  static std::string reason_text(int reason) { return mqtt::reason_text(reason); }

  void release(size_t index, bool ok) {
    Slot& slot = slots[index];
    DoneCallback done = std::move(slot.on_done);
    slot.on_done = nullptr;
    slot.busy = false;
    slot.mid = -1;
    free_slots.push_back(index);
    in_flight--;
    if (done) done(ok);
  }

  // QoS 0 packets queued on a connection that dropped were discarded unwritten: send them again.
  void resend_unwritten_qos0() {
    epoch++;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      if (!slot.busy || slot.message.qos != 0 || slot.epoch >= epoch) continue;
      if (slot.mid >= 0) slot_of_mid[static_cast<size_t>(slot.mid)] = -1;
      slot.epoch = epoch;
      slot.mid = -1;
      const auto& m = slot.message;
      try {
        slot.mid = link->publish(m.topic, m.payload, m.qos, m.retain, m.properties);
      } catch (const Error& e) {  // (it was taken once: hardly happens)
        save_failed(m, e.what());
        release(i, false);
        continue;
      }
      slot_of_mid[static_cast<size_t>(slot.mid)] = static_cast<int32_t>(i);
    }
  }

  std::string failed_out_path() {
    if (!options.failed_out.empty()) return options.failed_out;
    return "./dtbus-" + options.command + "-failed-" + std::to_string(getpid()) + ".jsonl";
  }

  void save_failed(const OutgoingMessage& message, const std::string& why) {
    report.failed++;
    if (report.failed_out_path.empty()) report.failed_out_path = failed_out_path();
    if (failed_file == nullptr) {
      failed_file = std::fopen(report.failed_out_path.c_str(), "a");
      if (failed_file == nullptr) {
        spdlog::error("cannot write the failed-out file {}: {}", report.failed_out_path,
                      std::strerror(errno));
        return;
      }
    }
    dtbus::ReceivedMessage as_record{
        message.topic, message.payload, message.qos, message.retain, 0, message.properties};
    std::string line;
    record::append_record_line(line, as_record, util::now_rfc3339_ms());
    line.resize(line.size() - 2);  // drop "}\n" to add the reason
    line += ",\"error\":";
    util::append_json_string(line, why);
    line += "}\n";
    if (std::fwrite(line.data(), 1, line.size(), failed_file) != line.size() ||
        std::fflush(failed_file) != 0) {
      spdlog::error("cannot write the failed-out file {}: {}", report.failed_out_path,
                    std::strerror(errno));
    }
  }

  // The first stop wins: it is what the caller reports.
  void stop(StoppedBy by, const std::string& reason) {
    if (report.stopped_by != StoppedBy::nothing) return;
    report.stopped_by = by;
    report.stop_reason = reason;
  }

  // The failed-out "error" of a message publish() takes after the stop.
  std::string not_sent_reason() const {
    switch (report.stopped_by) {
      case StoppedBy::signal:
        return std::string(kNotSentAfterSignal);
      case StoppedBy::refused:
        return "not sent: an earlier message was refused (" + report.stop_reason + ")";
      default:
        return give_up_reason;
    }
  }

  // Every pending message goes to failed-out with `why`.
  void give_up(const std::string& why) {
    if (given_up) return;
    given_up = true;
    give_up_reason = why;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].busy) continue;
      if (slots[i].mid >= 0) slot_of_mid[static_cast<size_t>(slots[i].mid)] = -1;
      save_failed(slots[i].message, why);
      release(i, false);
    }
  }

  std::string timeout_reason() const {
    return "no acknowledgement from " + link->settings().describe() + " for " +
           util::seconds_text(static_cast<double>(options.timeout.count()) / 1000.0) + " s";
  }

  Clock::time_point progress_deadline() const { return last_progress + options.timeout; }

  enum class Wait { ready, timeout, interrupted };

  // Waits (handling events) until `ready()`, the no-progress timeout or a signal.
  template <typename Ready>
  Wait wait_until_ready(Ready ready, size_t batch = 1) {
    while (!ready()) {
      if (interrupt::interrupted()) return Wait::interrupted;
      if (Clock::now() >= progress_deadline()) return Wait::timeout;
      drain(std::min(progress_deadline(), Clock::now() + std::chrono::milliseconds(200)), batch);
    }
    return Wait::ready;
  }

  // Handles events until `ready()` or `deadline`, whatever signals arrive.
  template <typename Ready>
  void drain_until(Ready ready, Clock::time_point deadline) {
    while (!ready() && Clock::now() < deadline) {
      drain(std::min(deadline, Clock::now() + std::chrono::milliseconds(200)));
    }
  }

  void interrupted_now(const OutgoingMessage& message) {
    stop(StoppedBy::signal, "interrupted by a signal");
    save_failed(message, std::string(kNotSentAfterSignal));
  }

  void timed_out_now(const OutgoingMessage& message) {
    std::string why = timeout_reason();
    stop(StoppedBy::timeout, why);
    give_up(why);
    save_failed(message, why);
  }

  // Sleeps in short steps so that a signal ends the wait.
  void pace() {
    if (!options.rate || *options.rate <= 0) return;
    auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / *options.rate));
    auto now = Clock::now();
    if (!next_send || *next_send < now - interval) next_send = now;  // no burst after a pause
    while (Clock::now() < *next_send && !interrupt::interrupted()) {
      std::this_thread::sleep_until(
          std::min(*next_send, Clock::now() + std::chrono::milliseconds(100)));
    }
    *next_send += interval;
  }
};

Publisher::Publisher(const mqtt::ConnectionSettings& settings, DeliveryOptions options)
    : Publisher(
          [&settings](mqtt::Handlers handlers) {
            return std::make_unique<mqtt::Connection>(settings, std::move(handlers));
          },
          std::move(options)) {}

Publisher::Publisher(const TransportFactory& make_transport, DeliveryOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.options = std::move(options);
  if (impl.options.window == 0) impl.options.window = 1;
  // Message ids must stay unique among pending messages: keep the window well below 65535.
  if (impl.options.window > 16384) impl.options.window = 16384;
  impl.slots.resize(impl.options.window);
  impl.free_slots.reserve(impl.options.window);
  for (size_t i = impl.options.window; i-- > 0;) impl.free_slots.push_back(i);
  mqtt::Handlers handlers;
  handlers.on_publish = [&impl](int mid, int reason) {
    impl.push_event({Event::Type::published, mid, reason});
  };
  handlers.on_connect = [&impl](bool, bool reconnect) {
    if (reconnect) impl.push_event({Event::Type::reconnected, 0, 0});
  };
  impl.link = make_transport(std::move(handlers));
  impl.link->connect();
  impl.started = Clock::now();
}

Publisher::~Publisher() = default;

void Publisher::publish(OutgoingMessage message, DoneCallback on_done) {
  Impl& impl = *impl_;
  if (impl.report.stopped_by != StoppedBy::nothing) {
    impl.save_failed(message, impl.not_sent_reason());
    return;
  }
  impl.pace();
  if (interrupt::interrupted()) {
    impl.interrupted_now(message);
    return;
  }
  if (impl.has_events.load(std::memory_order_acquire)) impl.drain(std::nullopt);
  if (impl.in_flight == 0) impl.last_progress = Clock::now();
  // A full window resumes once a quarter of it is acknowledged.
  size_t batch = std::max<size_t>(1, std::min(impl.in_flight, impl.slots.size() / 4));
  auto waited = impl.wait_until_ready([&] { return !impl.free_slots.empty(); }, batch);
  if (waited == Impl::Wait::ready && message.qos == 0 && !impl.link->connected()) {
    // QoS 0 is only written on a live link; waiting counts against the no-progress timeout.
    // (A reconnect is an event, so the wait wakes for it.)
    waited = impl.wait_until_ready([&] { return impl.link->connected(); });
  }
  if (waited == Impl::Wait::interrupted) {
    impl.interrupted_now(message);
    return;
  }
  if (waited == Impl::Wait::timeout) {
    impl.timed_out_now(message);
    return;
  }
  size_t index = impl.free_slots.back();
  Slot& slot = impl.slots[index];
  slot.message = std::move(message);
  slot.epoch = impl.epoch;
  const OutgoingMessage& m = slot.message;
  int mid = 0;
  try {
    mid = impl.link->publish(m.topic, m.payload, m.qos, m.retain, m.properties);
  } catch (const Error& e) {
    // Not queued, so not in failed-out either: the caller reports the refusal.
    slot.message = OutgoingMessage{};
    impl.stop(StoppedBy::refused, e.what());
    impl.report.refusal = e;
    return;
  } catch (...) {
    slot.message = OutgoingMessage{};
    throw;
  }
  impl.free_slots.pop_back();
  slot.busy = true;
  slot.mid = mid;
  slot.on_done = std::move(on_done);
  impl.slot_of_mid[static_cast<size_t>(mid)] = static_cast<int32_t>(index);
  impl.in_flight++;
  impl.report.published++;
}

StoppedBy Publisher::stopped_by() const { return impl_->report.stopped_by; }

DeliveryReport Publisher::finish() {
  Impl& impl = *impl_;
  if (!impl.finished) {
    impl.finished = true;
    if (!impl.given_up) {
      impl.drain(std::nullopt);
      auto all_done = [&] { return impl.in_flight == 0; };
      auto waited = impl.wait_until_ready(all_done);
      if (waited == Impl::Wait::interrupted) {
        impl.stop(StoppedBy::signal, "interrupted by a signal");
        impl.drain_until(all_done,
                         std::min(impl.progress_deadline(), Clock::now() + kInterruptGrace));
        if (!all_done()) impl.give_up("not acknowledged before the interruption by a signal");
      } else if (waited == Impl::Wait::timeout) {
        impl.stop(StoppedBy::timeout, impl.timeout_reason());
        impl.give_up(impl.timeout_reason());
      }
    }
    impl.report.duration_s = std::chrono::duration<double>(Clock::now() - impl.started).count();
    impl.link->disconnect();
    if (impl.failed_file != nullptr) {
      std::fclose(impl.failed_file);
      impl.failed_file = nullptr;
    }
  }
  return impl.report;
}

void Publisher::save_unsent(const OutgoingMessage& message, const std::string& why) {
  impl_->save_failed(message, why);
}

DeliveryReport Publisher::progress() const {
  DeliveryReport current = impl_->report;
  current.duration_s = std::chrono::duration<double>(Clock::now() - impl_->started).count();
  return current;
}

std::string stop_message(const DeliveryReport& report) {
  if (report.stopped_by != StoppedBy::timeout) return report.stop_reason;
  return std::to_string(report.failed) + " message(s) not acknowledged (" + report.stop_reason +
         "); saved to " + report.failed_out_path;
}

}  // namespace dtbus::delivery
