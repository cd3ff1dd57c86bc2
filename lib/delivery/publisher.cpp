// SPDX-License-Identifier: Apache-2.0
#include "dtbus/delivery/publisher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
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

// The slot of each message id in flight. calloc'd: the pages of ids never used are never touched
// (a one-message `pub -m` touches one), where filling 256 KiB cost a tenth of its start-up.
class SlotOfMid {
 public:
  SlotOfMid() : table_(static_cast<int32_t*>(std::calloc(kMidCount, sizeof(int32_t)))) {
    if (table_ == nullptr) throw std::bad_alloc();
  }
  ~SlotOfMid() { std::free(table_); }
  SlotOfMid(const SlotOfMid&) = delete;
  SlotOfMid& operator=(const SlotOfMid&) = delete;

  // The slot index, or -1.
  int32_t operator[](int mid) const { return table_[static_cast<size_t>(mid)] - 1; }
  void set(int mid, size_t slot) {
    table_[static_cast<size_t>(mid)] = static_cast<int32_t>(slot) + 1;
  }
  void clear(int mid) { table_[static_cast<size_t>(mid)] = 0; }
  void clear_all() { std::memset(table_, 0, kMidCount * sizeof(int32_t)); }

 private:
  int32_t* table_;  // slot index + 1; 0 = none
};

struct Slot {
  OutgoingMessage message;
  DoneCallback on_done;
  int mid = -1;
  uint64_t epoch = 0;     // connection epoch (reconnect count seen by this thread) when published
  uint64_t sequence = 0;  // publish order
  bool busy = false;
  bool acknowledged_kind = false;  // QoS 1/2: counted in in_flight_acked
  size_t unwritten_bytes = 0;      // QoS 0: counted in unwritten_bytes
};

// QoS 0 messages may be in flight beyond the window (see Publisher::Impl::has_room_for).
constexpr size_t kQos0ExtraSlots = 960;
constexpr size_t kQos0UnwrittenBytes = size_t{4} << 20;

// What the network thread reports; handled on the publishing thread in arrival order.
struct Event {
  enum class Type { published, reconnected, lost, gave_up } type;
  int mid = 0;
  int reason = 0;
  std::chrono::steady_clock::time_point at{};
};

// A broker that does not announce its maximum packet size (MQTT 3.1.1) closes the connection
// when a packet exceeds it, and libmosquitto sends that message again first after every
// reconnect. A QoS>0 message that is the oldest unacknowledged one when the connection is lost
// this many times in a row, each time soon after a reconnect, is suspected; it is refused only
// when a fresh connection carrying it alone is closed too. (The close can be a reset that
// discards PUBACKs already sent for earlier messages, so the oldest unacknowledged one is not
// always the culprit.)
constexpr int kDropsBeforeRefusal = 3;
constexpr std::chrono::seconds kSoonAfterReconnect{5};

// The failed-out file: created before anything is published, records appended whole or not at
// all, fsynced by close(), removed when this run created it and wrote nothing.
class FailedOutFile {
 public:
  FailedOutFile() = default;
  FailedOutFile(const FailedOutFile&) = delete;
  FailedOutFile& operator=(const FailedOutFile&) = delete;
  ~FailedOutFile() { close(); }

  // Throws Error(runtime) naming the file when it cannot be created or opened for appending.
  void open(const std::string& path) {
    path_ = path;
    // 0600: dead-letter payloads are data. O_EXCL first, to know whether this run created it.
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    created_ = fd_ >= 0;
    if (fd_ < 0 && errno == EEXIST) fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    struct stat status {};
    if (fd_ < 0 || fstat(fd_, &status) != 0) {
      throw Error(ExitCode::runtime,
                  "cannot create the failed-out file " + path + ": " + std::strerror(errno));
    }
    size_ = status.st_size;
  }

  // Appends `record` whole; on failure cuts the file back to what it was and returns the error.
  std::optional<std::string> append(std::string_view record) {
    if (fd_ < 0) return std::string("not open");
    size_t done = 0;
    while (done < record.size()) {
      ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string error = n < 0 ? std::strerror(errno) : "short write";
        if (done > 0 && ftruncate(fd_, size_) != 0) {
          error += std::string(" (and cutting the partial record off failed: ") +
                   std::strerror(errno) + ")";
        }
        return error;
      }
      done += static_cast<size_t>(n);
    }
    size_ += static_cast<off_t>(record.size());
    written_ = true;
    return std::nullopt;
  }

  // fsyncs what was written (returns the error), closes, removes an empty file of this run.
  std::optional<std::string> close() {
    if (fd_ < 0) return std::nullopt;
    std::optional<std::string> error;
    if (written_ && fsync(fd_) != 0) error = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    if (created_ && size_ == 0) {
      ::unlink(path_.c_str());
    } else if (created_ && !error) {
      error = sync_directory();  // the new file's name, too, survives a crash
    }
    return error;
  }

 private:
  std::optional<std::string> sync_directory() const {
    size_t slash = path_.rfind('/');
    std::string directory = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;  // (not ours to open: the file itself is synced)
    std::optional<std::string> error;
    if (fsync(fd) != 0 && errno != EINVAL) error = std::strerror(errno);
    ::close(fd);
    return error;
  }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool written_ = false;
  off_t size_ = 0;
};

// Stands in for a link that could not be made again before the timeout: sends nothing.
class NoLink : public mqtt::Transport {
 public:
  explicit NoLink(mqtt::ConnectionSettings settings) : settings_(std::move(settings)) {}
  void connect() override {}
  bool connected() const override { return false; }
  int publish(const std::string&, std::string_view, int, bool, const MessageProperties&) override {
    throw Error(ExitCode::runtime, "not connected to " + settings_.describe());
  }
  void disconnect() override {}
  const mqtt::ConnectionSettings& settings() const override { return settings_; }

 private:
  mqtt::ConnectionSettings settings_;
};

}  // namespace

struct Publisher::Impl {
  DeliveryOptions options;
  TransportFactory make_transport;
  std::unique_ptr<mqtt::Transport> link;

  // Publishing thread only:
  std::deque<Slot> slots;  // grows up to slot_capacity (references stay valid)
  size_t slot_capacity = 0;
  std::vector<size_t> free_slots;
  SlotOfMid slot_of_mid;
  std::vector<Event> handling;  // swapped with `events`, keeps its capacity
  size_t in_flight = 0;         // every busy slot
  size_t in_flight_acked = 0;   // QoS 1/2 ones: at most options.window
  size_t unwritten_bytes = 0;   // topic and payload of the QoS 0 ones
  // In flight with a DoneCallback: their acknowledgements are handled at once, since a caller
  // that journals them (dlq recover) must not lag behind the broker.
  size_t awaited_callbacks = 0;
  uint64_t epoch = 0;
  uint64_t next_sequence = 0;
  // Connection losses blamed on one message (see kDropsBeforeRefusal).
  bool connected_since_loss = true;
  Clock::time_point connected_at = Clock::now();
  uint64_t suspect_sequence = 0;
  int suspect_drops = 0;
  // The suspect, sent alone on a fresh link; every other pending message is held (mid -1) until
  // it is acknowledged or the link is lost.
  std::optional<uint64_t> probing;
  DeliveryReport report;
  Clock::time_point started = Clock::now();
  Clock::time_point last_progress = Clock::now();
  std::optional<Clock::time_point> next_send;
  bool given_up = false;
  bool finished = false;
  std::string give_up_reason;
  FailedOutFile failed_file;

  // Shared with the network thread:
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<Event> events;
  std::string gave_up_diagnosis;  // guarded by mutex: the link's on_gave_up
  size_t wake_at = 0;  // 0 = the publishing thread is not waiting; else wake at this many events
  // A link event (lost, reconnected, gave up) waits in `events`: publish() handles it at once.
  // Acknowledgements wait until the window is full, so that the two threads meet on the mutex
  // once per batch rather than on every message.
  // (While probing, or with DoneCallbacks in flight, every acknowledgement counts at once: the
  // held messages wait for the suspect's.)
  std::atomic<bool> has_link_events{false};
  std::atomic<bool> has_events{false};

  ~Impl() {
    // Stop the link's thread first: its handlers use the members destroyed after it (this
    // matters when finish() was not reached, e.g. after an exception).
    link.reset();
  }

  void push_event(Event event) {
    if (event.type != Event::Type::published) event.at = Clock::now();  // (read by link events)
    std::lock_guard lock(mutex);
    events.push_back(event);
    has_events.store(true, std::memory_order_release);
    if (event.type != Event::Type::published) {
      has_link_events.store(true, std::memory_order_release);
    }
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
      has_link_events.store(false, std::memory_order_relaxed);
      has_events.store(false, std::memory_order_relaxed);
    }
    for (const Event& event : handling) {
      if (event.type == Event::Type::reconnected) {
        connected_since_loss = true;
        connected_at = event.at;
        resend_unwritten_qos0();
      } else if (event.type == Event::Type::gave_up) {
        // Like a timeout, sooner: every pending message goes to failed-out (exit 7).
        std::string why;
        {
          std::lock_guard lock(mutex);
          why = gave_up_diagnosis;
        }
        stop(StoppedBy::timeout, why);
        give_up(why);
        break;
      } else if (event.type == Event::Type::lost) {
        // The rest came from the link this replaced: their message ids mean nothing now.
        if (connection_lost(event.at)) break;
      } else {
        settle(event.mid, event.reason);
      }
    }
    handling.clear();
  }

  mqtt::Handlers make_handlers() {
    mqtt::Handlers handlers;
    handlers.on_publish = [this](int mid, int reason) {
      push_event({Event::Type::published, mid, reason});
    };
    handlers.on_connect = [this](bool, bool reconnect) {
      if (reconnect) push_event({Event::Type::reconnected, 0, 0});
    };
    handlers.on_connection_lost = [this](const std::string&) {
      push_event({Event::Type::lost, 0, 0});
    };
    handlers.on_gave_up = [this](const std::string& diagnosis) {
      {
        std::lock_guard lock(mutex);
        gave_up_diagnosis = diagnosis;
      }
      push_event({Event::Type::gave_up, 0, 0});
    };
    return handlers;
  }

  // Blames the oldest unacknowledged QoS>0 message for repeated losses soon after reconnects;
  // true when the link was replaced to get rid of it.
  bool connection_lost(Clock::time_point at) {
    if (!connected_since_loss) return false;  // a reconnect attempt that failed
    connected_since_loss = false;
    if (probing) {
      std::optional<size_t> suspect = slot_with_sequence(*probing);
      probing.reset();
      if (suspect) {
        refuse_and_replace_link(*suspect);
      } else {
        replace_link_and_resend();
      }
      return true;
    }
    std::optional<size_t> oldest;
    for (size_t i = 0; i < slots.size(); ++i) {
      const Slot& slot = slots[i];
      if (slot.busy && slot.message.qos > 0 &&
          (!oldest || slot.sequence < slots[*oldest].sequence)) {
        oldest = i;
      }
    }
    if (!oldest) {
      suspect_drops = 0;
      return false;
    }
    uint64_t sequence = slots[*oldest].sequence;
    if (suspect_drops > 0 && sequence == suspect_sequence &&
        at - connected_at < kSoonAfterReconnect) {
      suspect_drops++;
    } else {
      suspect_sequence = sequence;
      suspect_drops = 1;
    }
    if (suspect_drops < kDropsBeforeRefusal) return false;
    suspect_drops = 0;
    probing = sequence;
    spdlog::warn(
        "the broker closed the connection {} times soon after a reconnect; sending the "
        "oldest unacknowledged message alone to see whether it is the cause",
        kDropsBeforeRefusal);
    replace_link_and_resend();
    return true;
  }

  std::optional<size_t> slot_with_sequence(uint64_t sequence) const {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].busy && slots[i].sequence == sequence) return i;
    }
    return std::nullopt;
  }

  // libmosquitto would send the refused message again after every reconnect, and cannot be told
  // to forget it: a new connection takes every other pending message, in publish order (one the
  // broker had taken already may arrive twice).
  void refuse_and_replace_link(size_t index) {
    OutgoingMessage refused = slots[index].message;
    if (slots[index].mid >= 0) slot_of_mid.clear(slots[index].mid);
    refused_now(refused,
                "the broker closed the connection each time the message was sent, also when it "
                "was sent alone: larger than its maximum packet size?");
    release(index, false);
    report.published--;  // the broker never took it: refused, as when the link refuses at once
    spdlog::warn("connecting to {} again without that message", link->settings().describe());
    replace_link_and_resend();
  }

  // A new link (the old one's thread has ended: no more events from it) takes the pending
  // messages in publish order; while probing, only the suspect.
  void replace_link_and_resend() {
    mqtt::ConnectionSettings settings = link->settings();
    link.reset();
    {
      std::lock_guard lock(mutex);
      events.clear();
    }
    slot_of_mid.clear_all();
    while (true) {
      try {
        link = make_transport(make_handlers());
        link->connect();
        break;
      } catch (const Error& e) {
        link = std::make_unique<NoLink>(settings);
        if (interrupt::interrupted() || Clock::now() >= progress_deadline()) {
          // Every pending message goes to failed-out; nothing more is sent.
          std::string why = std::string("cannot connect again: ") + e.what();
          stop(interrupt::interrupted() ? StoppedBy::signal : StoppedBy::timeout, why);
          give_up(why);
          return;
        }
        spdlog::warn("{}; trying again", e.what());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    connected_since_loss = true;
    connected_at = Clock::now();
    epoch++;
    for (Slot& slot : slots) {
      if (slot.busy) slot.mid = -1;  // ids of the old link
    }
    resend_pending();
  }

  // Publishes the pending messages that have no id on the current link, in publish order (all of
  // them after a new link; the held ones after a probe). While probing, only the suspect.
  void resend_pending() {
    std::vector<size_t> pending;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].busy && slots[i].mid < 0 && (!probing || slots[i].sequence == *probing)) {
        pending.push_back(i);
      }
    }
    std::sort(pending.begin(), pending.end(),
              [&](size_t a, size_t b) { return slots[a].sequence < slots[b].sequence; });
    for (size_t i : pending) {
      Slot& slot = slots[i];
      slot.epoch = epoch;
      slot.mid = -1;
      const auto& m = slot.message;
      try {
        slot.mid = link->publish(m.topic, m.payload, m.qos, m.retain, m.properties);
      } catch (const Error& e) {
        refused_now(m, e.what());
        release(i, false);
        continue;
      }
      slot_of_mid.set(slot.mid, i);
    }
  }

  void settle(int mid, int reason) {
    if (mid < 0 || static_cast<size_t>(mid) >= kMidCount) return;
    int32_t index = slot_of_mid[mid];
    if (index < 0) return;  // a QoS 0 message already published again after a reconnect
    slot_of_mid.clear(mid);
    Slot& slot = slots[static_cast<size_t>(index)];
    // After a broker restart a PUBREL can meet "packet identifier not found": the broker had
    // taken the QoS 2 message (PUBREC) already.
    bool ok = reason < kReasonSuccessLimit ||
              (reason == kReasonPacketIdNotFound && slot.message.qos == 2);
    last_progress = Clock::now();
    if (slot.sequence == suspect_sequence) suspect_drops = 0;
    bool probe_answered = probing && slot.sequence == *probing;
    if (ok) {
      report.acknowledged++;
    } else {
      std::string why = std::string("rejected by the broker: ") + reason_text(reason);
      spdlog::warn("message to '{}' {}", slot.message.topic, why);
      save_failed(slot.message, why);
    }
    release(static_cast<size_t>(index), ok);
    if (probe_answered) {  // it was not the cause: the held messages follow, in order
      probing.reset();
      resend_pending();
    }
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
    if (slot.acknowledged_kind) in_flight_acked--;
    unwritten_bytes -= slot.unwritten_bytes;
    if (done) {
      awaited_callbacks--;
      done(ok);
    }
  }

  // QoS 0 packets queued on a connection that dropped were discarded unwritten: send them again.
  void resend_unwritten_qos0() {
    epoch++;
    if (probing) return;  // the suspect travels alone; the held ones follow it
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      if (!slot.busy || slot.message.qos != 0 || slot.epoch >= epoch) continue;
      if (slot.mid >= 0) slot_of_mid.clear(slot.mid);
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
      slot_of_mid.set(slot.mid, i);
    }
  }

  std::string failed_out_path() {
    if (!options.failed_out.empty()) return options.failed_out;
    return "./dtbus-" + options.command + "-failed-" + std::to_string(getpid()) + ".jsonl";
  }

  void save_failed(const OutgoingMessage& message, const std::string& why) {
    report.failed++;
    report.failed_out_path = failed_out_path();
    dtbus::ReceivedMessage as_record{
        message.topic, message.payload, message.qos, message.retain, 0, message.properties};
    std::string line;
    record::append_record_line(line, as_record, util::now_rfc3339_ms());
    line.resize(line.size() - 2);  // drop "}\n" to add the reason
    line += ",\"error\":";
    util::append_json_string(line, why);
    line += "}\n";
    if (auto error = failed_file.append(line)) {
      report.unsaved++;
      if (report.failed_out_error.empty()) {
        // Once: the summary counts what could not be saved.
        report.failed_out_error = *error;
        spdlog::error("cannot write the failed-out file {}: {}", report.failed_out_path, *error);
      }
    }
  }

  // The link refused `message` itself (too large for the broker...): the others go on.
  void refused_now(const OutgoingMessage& message, const std::string& why) {
    bool save = true;
    if (options.on_refused) {
      save = options.on_refused(message, why);
    } else {
      spdlog::warn("message to '{}' refused: {}", message.topic, why);
    }
    if (save) save_failed(message, why);
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
      if (slots[i].mid >= 0) slot_of_mid.clear(slots[i].mid);
      save_failed(slots[i].message, why);
      release(i, false);
    }
  }

  std::string timeout_reason() const {
    return "no acknowledgement from " + link->settings().describe() + " for " +
           util::seconds_text(static_cast<double>(options.timeout.count()) / 1000.0) + " s";
  }

  Clock::time_point progress_deadline() const { return last_progress + options.timeout; }

  // QoS 1/2: a free place in the window. QoS 0 may go beyond it (up to kQos0ExtraSlots more,
  // while under kQos0UnwrittenBytes): a stream of them then meets the network thread once per
  // few hundred writes rather than every 16.
  bool has_room_for(const OutgoingMessage& message) const {
    if (free_slots.empty() && slots.size() >= slot_capacity) return false;
    if (message.qos > 0) return in_flight_acked < options.window;
    return in_flight < options.window || unwritten_bytes < kQos0UnwrittenBytes;
  }

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
          // By value: a new connection may be made long after the constructor returned.
          [settings](mqtt::Handlers handlers) {
            return std::make_unique<mqtt::Connection>(settings, std::move(handlers));
          },
          std::move(options)) {}

Publisher::Publisher(const TransportFactory& make_transport, DeliveryOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.options = std::move(options);
  impl.make_transport = make_transport;
  if (impl.options.window == 0) impl.options.window = 1;
  // Message ids must stay unique among pending messages: keep the window well below 65535.
  if (impl.options.window > 16384) impl.options.window = 16384;
  impl.slot_capacity = impl.options.window + kQos0ExtraSlots;
  impl.failed_file.open(impl.failed_out_path());
  impl.link = make_transport(impl.make_handlers());
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
  if (impl.has_link_events.load(std::memory_order_acquire) ||
      ((impl.probing || impl.awaited_callbacks > 0) &&
       impl.has_events.load(std::memory_order_acquire))) {
    impl.drain(std::nullopt);
  }
  if (impl.report.stopped_by != StoppedBy::nothing) {  // the link gave up meanwhile
    impl.save_failed(message, impl.not_sent_reason());
    return;
  }
  if (impl.in_flight == 0) impl.last_progress = Clock::now();
  // A full window resumes once half of it is acknowledged: one wake-up per half window.
  size_t batch = std::max<size_t>(1, impl.in_flight / 2);
  auto waited = impl.wait_until_ready([&] { return impl.has_room_for(message); }, batch);
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
  if (impl.report.stopped_by != StoppedBy::nothing) {  // the link gave up while we waited
    impl.save_failed(message, impl.not_sent_reason());
    return;
  }
  if (impl.free_slots.empty()) {  // has_room_for said there is room to grow
    impl.slots.emplace_back();
    impl.free_slots.push_back(impl.slots.size() - 1);
  }
  size_t index = impl.free_slots.back();
  Slot& slot = impl.slots[index];
  slot.message = std::move(message);
  slot.epoch = impl.epoch;
  slot.sequence = impl.next_sequence++;
  const OutgoingMessage& m = slot.message;
  int mid = -1;  // stays -1 while probing: held, sent in order after the probe (Impl::probing)
  try {
    if (!impl.probing) mid = impl.link->publish(m.topic, m.payload, m.qos, m.retain, m.properties);
  } catch (const Error& e) {
    OutgoingMessage refused = std::move(slot.message);
    slot.message = OutgoingMessage{};
    if (e.code() == ExitCode::usage) {
      // A bad topic: not queued, not in failed-out; the caller reports it as bad input.
      impl.stop(StoppedBy::refused, e.what());
      impl.report.refusal = e;
      return;
    }
    impl.refused_now(refused, e.what());
    if (on_done) on_done(false);
    return;
  } catch (...) {
    slot.message = OutgoingMessage{};
    throw;
  }
  impl.free_slots.pop_back();
  slot.busy = true;
  slot.mid = mid;
  slot.on_done = std::move(on_done);
  if (slot.on_done) impl.awaited_callbacks++;
  if (mid >= 0) impl.slot_of_mid.set(mid, index);
  impl.in_flight++;
  slot.acknowledged_kind = m.qos > 0;
  slot.unwritten_bytes = m.qos > 0 ? 0 : m.topic.size() + m.payload.size();
  if (slot.acknowledged_kind) impl.in_flight_acked++;
  impl.unwritten_bytes += slot.unwritten_bytes;
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
    // Durable before the caller reports "saved to".
    if (auto error = impl.failed_file.close(); error && impl.report.saved() > 0) {
      spdlog::error("cannot sync the failed-out file {}: {}", impl.report.failed_out_path, *error);
      impl.report.unsaved = impl.report.failed;
      if (impl.report.failed_out_error.empty()) impl.report.failed_out_error = *error;
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
         "); " + saved_text(report);
}

std::string saved_text(const DeliveryReport& report) {
  const std::string& path = report.failed_out_path;
  std::string resend = " (re-send with: dtbus pub --jsonl < " + path + ")";
  if (report.unsaved == 0) return "saved to " + path + resend;
  std::string cause = " (" + path + ": " + report.failed_out_error + ")";
  if (report.saved() == 0) return "none of them could be saved" + cause;
  std::string lost = " could not be saved" + cause;
  return std::to_string(report.saved()) + " saved to " + path + resend + ", " +
         std::to_string(report.unsaved) + lost;
}

}  // namespace dtbus::delivery
