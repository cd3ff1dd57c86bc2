// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "dtbus/commands/message_format.hpp"
#include "dtbus/commands/sub/sub_command.hpp"
#include "dtbus/core/envelope.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/core/where.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::sub {
namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(100);
// How long sub, leaving at a durable session's exact end, waits for its last PUBACKs to be written.
constexpr auto kPubackFlushLimit = std::chrono::milliseconds(2000);
// Output is written when the inbox runs dry, or once this much is pending (a steady stream).
constexpr size_t kMaxBuffered = 64 * 1024;

struct Item {
  dtbus::ReceivedMessage message;
  SystemClock::time_point received;
};

// What a queued message costs in memory, roughly: its bytes and the bookkeeping around them.
uint64_t queued_bytes(const dtbus::ReceivedMessage& m) {
  uint64_t bytes = sizeof(Item) + m.topic.size() + m.payload.size();
  for (const auto& [key, value] : m.properties.user) bytes += key.size() + value.size();
  return bytes;
}

// Hand-off from the network thread to the thread that formats and writes. Memory is bounded by
// bytes: a message taken stays counted until the output thread release()s it (written), and
// beyond the cap the network thread waits, so nothing more is read from the socket (TCP pushes
// back on the broker, which holds the rest; QoS>=1 messages are not acknowledged meanwhile).
class Inbox {
 public:
  explicit Inbox(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  // Network thread; blocks while the inbox is full, if limited (a message larger than the cap
  // waits for an empty inbox). After close() messages are dropped (we are leaving; a durable
  // session keeps what the broker has not sent yet).
  void push(dtbus::ReceivedMessage& message) {
    std::unique_lock lock(mutex_);
    if (frozen_) {
      hold(lock);
      return;
    }
    uint64_t size = queued_bytes(message);
    auto room = [&] {
      return bytes_ == 0 || bytes_ + size <= max_bytes_ || closed_ || !limited_ || frozen_;
    };
    if (!room()) {
      ++stalls_;
      stalled_ = true;
      space_.wait(lock, room);
      stalled_ = false;
    }
    if (frozen_) {
      hold(lock);
      return;
    }
    if (closed_) return;
    items_.push_back({std::move(message), SystemClock::now()});
    bytes_ += size;
    if (items_.size() == 1) arrived_.notify_one();
  }
  // Network thread, instead of push(): keeps the thread here for good (until close(), on an error
  // path). libmosquitto sends the PUBACK of the message being handled only once the handler
  // returns, so the broker keeps it (and what follows) for a durable session.
  void hold() {
    std::unique_lock lock(mutex_);
    hold(lock);
  }
  // From now on every message is held, none acknowledged (a push() waiting for space too).
  // Returns how many messages are queued, none of them taken.
  size_t freeze() {
    std::lock_guard lock(mutex_);
    frozen_ = true;
    space_.notify_all();
    return items_.size();
  }
  bool held() {
    std::lock_guard lock(mutex_);
    return held_;
  }
  // For stalled_since(): how many times push() has waited for space so far.
  uint64_t stall_mark() {
    std::lock_guard lock(mutex_);
    return stalls_;
  }
  // Whether the network thread waits for space now, or has waited since `mark`.
  bool stalled_since(uint64_t mark) {
    std::lock_guard lock(mutex_);
    return stalled_ || stalls_ != mark;
  }
  // Takes everything queued into the empty `into`, waiting until `deadline` when nothing is
  // queued (and nothing is held). Their bytes stay counted until release().
  void take(std::vector<Item>& into, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (items_.empty()) {
      arrived_.wait_until(lock, deadline, [&] { return !items_.empty() || held_; });
    }
    into.swap(items_);
  }
  // Output thread: messages of this many bytes (queued_bytes()) are written and freed.
  void release(uint64_t bytes) {
    std::lock_guard lock(mutex_);
    bytes_ -= std::min(bytes, bytes_);
    space_.notify_all();
  }
  bool empty() {
    std::lock_guard lock(mutex_);
    return items_.empty();
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    space_.notify_all();
  }
  // Unlimited, push() never waits: for while nobody reads (the network thread must go on, to
  // read a SUBACK behind a session's backlog, or to stop).
  void limit(bool on) {
    std::lock_guard lock(mutex_);
    limited_ = on;
    space_.notify_all();
  }

 private:
  void hold(std::unique_lock<std::mutex>& lock) {
    held_ = true;
    arrived_.notify_all();
    space_.wait(lock, [&] { return closed_; });
  }

  std::mutex mutex_;
  std::condition_variable arrived_;
  std::condition_variable space_;
  std::vector<Item> items_;
  const uint64_t max_bytes_;
  uint64_t bytes_ = 0;  // queued and taken, not yet released
  uint64_t stalls_ = 0;
  bool stalled_ = false;
  bool closed_ = false;
  bool limited_ = false;
  bool frozen_ = false;
  bool held_ = false;
};

// connection.subscribe() on its own thread, so that the output loop runs (and the inbox stays
// bounded) while a durable session's backlog, which flows from connect() on, comes ahead of the
// SUBACK. Joined on destruction, after the connection stopped or the SUBACK came.
class Subscriber {
 public:
  // A SUBACK that did not come in time while the inbox was full (the network thread waiting for
  // stdout, not reading the socket) is waited for again, by subscribing again: the broker
  // replaces the subscription (and sends the retained messages once more).
  Subscriber(mqtt::Connection& connection, std::vector<mqtt::Subscription> subscriptions,
             Inbox& inbox)
      : thread_([this, &connection, subscriptions = std::move(subscriptions), &inbox] {
          while (true) {
            uint64_t mark = inbox.stall_mark();
            try {
              connection.subscribe(subscriptions);
              return;
            } catch (const Error& e) {
              if (e.code() == ExitCode::connect && inbox.stalled_since(mark) && !leaving_) {
                spdlog::debug(
                    "SUBACK delayed behind messages waiting for stdout: subscribing again");
                continue;
              }
              std::lock_guard lock(mutex_);
              error_ = std::current_exception();
              return;
            } catch (...) {
              std::lock_guard lock(mutex_);
              error_ = std::current_exception();
              return;
            }
          }
        }) {}
  ~Subscriber() {
    leaving_ = true;
    join();
  }
  // Before the connection stops: a SUBACK that then never comes is not waited for again.
  void leave() { leaving_ = true; }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  bool failed() {
    std::lock_guard lock(mutex_);
    return error_ != nullptr;
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  [[noreturn]] void rethrow() {
    join();
    std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> leaving_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

class Command {
 public:
  Command(const GlobalOptions& globals, const Options& options, const std::string& output)
      : globals_(globals),
        o_(options),
        writer_(options.format, output, globals.color_stdout()),
        inbox_(options.max_queue) {}

  int run() {
    prepare();
    interrupt::install();
    mqtt::Handlers handlers;
    handlers.on_message = [this](dtbus::ReceivedMessage& m) {
      if (after_the_end(m)) {
        inbox_.hold();
      } else {
        inbox_.push(m);
      }
    };
    mqtt::Connection connection(target_.connection, std::move(handlers));
    std::optional<Subscriber> subscriber;  // joined after close_inbox released the network thread
    // Destroyed before the connection: releases a network thread waiting for inbox space.
    struct CloseInbox {
      Inbox& inbox;
      ~CloseInbox() { inbox.close(); }
    } close_inbox{inbox_};
    try {
      connection.connect();  // a durable session's backlog may flow from here on
    } catch (const Error& e) {
      // SPEC §2: sub ends with 0 on SIGINT/SIGTERM, also before it was connected.
      if (e.code() != ExitCode::interrupted) throw;
      if (record_ != nullptr) std::fclose(record_);
      return 0;
    }
    std::vector<mqtt::Subscription> subscriptions;
    for (size_t i = 0; i < filters_.size(); ++i) {
      mqtt::Subscription s;
      s.filter = filters_[i];
      s.qos = o_.qos_per_filter.empty() ? qos_ : o_.qos_per_filter[i];
      s.retain_handling = o_.no_retained ? 2 : 0;
      subscriptions.push_back(s);
    }
    if (exact_end()) run_to_exact_end(connection, subscriptions);
    inbox_.limit(true);
    started_ = Clock::now();
    subscriber.emplace(connection, std::move(subscriptions), inbox_);
    std::string stop_reason = loop(&*subscriber);
    subscriber->leave();
    stop(connection,
         stop_reason == "signal" || stop_reason == "wait" || stop_reason == "subscribe");
    if (stop_reason == "subscribe") subscriber->rethrow();
    if (record_ != nullptr) std::fclose(record_);
    print_stats();
    return finish_status(stop_reason);
  }

 private:
  void prepare() {
    // Checked first: a closed descriptor 1 would be reused by the next open() (the broker
    // socket), and messages acknowledged only to be thrown away.
    if (::fcntl(STDOUT_FILENO, F_GETFD) < 0 && errno == EBADF) {
      throw Error(ExitCode::runtime,
                  "cannot write to stdout: " + std::string(std::strerror(EBADF)) +
                      "; nothing was received");
    }
    if (o_.filters.empty())
      throw Error(ExitCode::usage, "no topic filter: give -t FILTER or FILTER arguments");
    if (o_.no_retained && o_.retained_only) {
      throw Error(ExitCode::usage, "--no-retained and --retained-only exclude each other");
    }
    if (o_.qos && (*o_.qos < 0 || *o_.qos > 2))
      throw Error(ExitCode::usage, "-q must be 0, 1 or 2");
    for (int q : o_.qos_per_filter) {
      if (q < 0 || q > 2) throw Error(ExitCode::usage, "-q must be 0, 1 or 2");
    }
    if (!o_.qos_per_filter.empty() && o_.qos_per_filter.size() != o_.filters.size()) {
      throw Error(ExitCode::usage, "-q given " + std::to_string(o_.qos_per_filter.size()) +
                                       " times for " + std::to_string(o_.filters.size()) +
                                       " filters: give one -q for all, or one per filter in order");
    }
    if (o_.count && *o_.count == 0) throw Error(ExitCode::usage, "-C must be at least 1");
    if (o_.wait_s && *o_.wait_s <= 0)
      throw Error(ExitCode::usage, "-W must be a positive number of seconds");
    if (o_.max_queue == 0) throw Error(ExitCode::usage, "--max-queue must be at least 1 byte");
    for (const auto& filter : o_.filters) {
      // DataKnobs-style patterns (`registry:*`) are fnmatch globs; MQTT takes them literally.
      if (filter.find_first_of("*?[") != std::string::npos) {
        spdlog::warn(
            "topic filter '{}': '*', '?' and '[' are not MQTT wildcards (those are + and #), so it "
            "matches only a topic spelled exactly so; for a glob, subscribe wider and filter with "
            "--match (e.g. -t '#' --match '{}')",
            filter, filter);
      }
    }
    if (!o_.validate.empty()) {
      validate_ = envelope::parse_kind(o_.validate);
      if (validate_ == envelope::Kind::none)
        throw Error(ExitCode::usage, "--validate must be tracker or dt");
    }
    if (!o_.share.empty() && (o_.share.find_first_of("/+#") != std::string::npos)) {
      throw Error(ExitCode::usage,
                  "--share '" + o_.share + "': a group name cannot hold '/', '+' or '#'");
    }
    conditions_ = where::parse_all(o_.where);
    target_ = target::resolve(globals_, "sub");
    auto& settings = target_.connection;
    // The broker entry's defaults (seed 002: qos, use_shared_subscriptions + shared_group); the
    // flags override them.
    const auto& entry = target_.broker;
    std::string share = o_.share;
    if (share.empty() && entry && entry->use_shared_subscriptions) share = entry->shared_group;
    for (const auto& filter : o_.filters) {
      std::string full = settings.prefixed(filter);
      topic::require_filter(full);
      if (!share.empty()) full = "$share/" + share + "/" + full;
      filters_.push_back(full);
    }
    qos_ = o_.qos.value_or(entry && entry->qos ? *entry->qos : o_.session.empty() ? 0 : 1);
    // With a QoS per filter, the lowest one decides what a durable session can queue.
    if (!o_.qos_per_filter.empty())
      qos_ = *std::min_element(o_.qos_per_filter.begin(), o_.qos_per_filter.end());
    if (!o_.session.empty()) {
      // Durable: the broker keeps the subscription and queues QoS>=1 messages while we are away.
      settings.client_id = o_.session;
      durable_ = true;
      settings.clean_session = false;
      settings.session_expiry = kDurableSessionExpiry;
      if (qos_ == 0)
        spdlog::warn("--session with -q 0: the broker queues only QoS 1/2 messages while away");
    }
    if (!o_.record_file.empty()) {
      record_ = std::fopen(o_.record_file.c_str(), "a");
      if (record_ == nullptr) {
        throw Error(ExitCode::usage,
                    "cannot open --record file '" + o_.record_file + "': " + std::strerror(errno));
      }
    }
    tty_ = util::is_tty(stdout);
  }

  // A durable session ended by -C or --retained-only: what comes after the end must stay with the
  // broker, not be acknowledged and dropped (see after_the_end()).
  bool exact_end() const { return durable_ && (o_.count || o_.retained_only); }

  // Network thread: true for a message after the end set by -C or --retained-only on a durable
  // session; it is held, never acknowledged. Counts the messages -C counts, like handle().
  bool after_the_end(const dtbus::ReceivedMessage& m) {
    if (!exact_end()) return false;
    if (o_.retained_only) return !m.retain;
    if (passed_on_ >= *o_.count) return true;
    record::Json payload;
    if (!conditions_.empty()) payload = util::parse_json(m.payload);
    if (selected(m, payload)) ++passed_on_;
    return false;
  }

  // --match: the topic (as received, with the broker's topic_prefix) matches a glob. Python's
  // fnmatch semantics, as DataKnobs patterns mean them: `*` also spans '/', no backslash escape.
  bool topic_matches(const std::string& topic) const {
    if (o_.match.empty()) return true;
    return std::any_of(o_.match.begin(), o_.match.end(), [&](const std::string& glob) {
      return fnmatch(glob.c_str(), topic.c_str(), FNM_NOESCAPE) == 0;
    });
  }

  // --no-retained, --match and --where: whether handle() prints `m` (payload: parsed when --where
  // is set).
  bool selected(const dtbus::ReceivedMessage& m, const record::Json& payload) const {
    if (o_.no_retained && m.retain) return false;
    if (!topic_matches(m.topic)) return false;
    return conditions_.empty() ||
           (!payload.is_discarded() && where::matches_all(conditions_, payload));
  }

  // run() for exact_end(): it leaves with leave_now(), since the network thread, holding a
  // message, cannot be joined. Whatever reached the inbox is printed (up to -C) first.
  [[noreturn]] void run_to_exact_end(mqtt::Connection& connection,
                                     const std::vector<mqtt::Subscription>& subs) {
    int status = 0;
    try {
      subscribe_or_end(connection, subs);
      inbox_.limit(true);
      started_ = Clock::now();
      std::string stop_reason = loop();
      inbox_.freeze();
      print_queued();
      status = exit_status(stop_reason);
      // The PUBACKs of what was printed are queued before each message reached us, and written
      // by the network thread after it: leaving at once could leave the last of them unwritten,
      // and the broker would send that message again. A thread held on the next message writes
      // nothing more (that PUBACK is queued too), so the broker sends both again: at-least-once.
      connection.wait_written(kPubackFlushLimit, [&] { return inbox_.held(); });
    } catch (const std::exception& e) {
      print_error("sub", e.what());
      const auto* error = dynamic_cast<const Error*>(&e);
      status = error ? error->exit_status() : static_cast<int>(ExitCode::runtime);
      inbox_.freeze();
      try {
        print_queued();
      } catch (const std::exception&) {  // failing already: print what can be printed
      }
    }
    leave_now(status);
  }

  // A session's backlog can reach the end before the SUBACK, which the broker sends behind the
  // backlog and the held network thread never reads: then there is nothing to wait for (the
  // subscription is in the session already).
  void subscribe_or_end(mqtt::Connection& connection, const std::vector<mqtt::Subscription>& subs) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> subscribed = done->get_future();
    std::thread([&connection, subs, done] {
      try {
        connection.subscribe(subs);
        done->set_value();
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    }).detach();  // left waiting when the end comes first: the process leaves with _Exit then
    while (subscribed.wait_for(kPollInterval) != std::future_status::ready) {
      if (inbox_.held()) return;
    }
    subscribed.get();
  }

  // Prints what is queued (up to -C); call it once nothing more arrives (after freeze() or
  // disconnect()), so that nothing acknowledged is left unprinted.
  void print_queued() {
    std::vector<Item> batch;
    take(batch, Clock::now());
    for (Item& item : batch) {
      if (!handle(item)) break;
    }
    flush();
  }

  void take(std::vector<Item>& batch, Clock::time_point deadline) {
    inbox_.take(batch, deadline);
    taken_ += batch.size();
  }

  // Ends the process without a DISCONNECT and without joining the network thread, which may hold
  // a message that must not be acknowledged; the broker keeps the durable session.
  [[noreturn]] void leave_now(int status) {
    flush();
    if (record_ != nullptr) std::fclose(record_);
    print_stats();
    util::leave_now(status);
  }

  int exit_status(const std::string& stop_reason) const {
    try {
      return finish_status(stop_reason);
    } catch (const Error& e) {
      print_error("sub", e.what());
      return e.exit_status();
    }
  }

  // Returns why it stopped: "count", "wait", "signal", "retained", "reader" (stdout closed),
  // "subscribe" (`subscriber` failed).
  std::string loop(Subscriber* subscriber = nullptr) {
    std::vector<Item> batch;
    std::optional<Clock::time_point> deadline;
    if (o_.wait_s) {
      deadline = started_ + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(*o_.wait_s));
    }
    while (true) {
      if (interrupt::interrupted()) return "signal";
      if (subscriber != nullptr && subscriber->failed()) return "subscribe";
      auto now = Clock::now();
      if (deadline && now >= *deadline) return "wait";
      auto until = now + kPollInterval;
      if (deadline && *deadline < until) until = *deadline;
      take(batch, until);
      uint64_t batch_bytes = 0;
      for (Item& item : batch) {
        batch_bytes += queued_bytes(item.message);
        if (!handle(item)) {
          flush();
          return stop_reason_;
        }
        if ((tty_ && !out_.empty()) || out_.size() >= kMaxBuffered) flush();
      }
      batch.clear();
      if (!out_.empty() && inbox_.empty()) flush();
      inbox_.release(batch_bytes);  // freed; at most kMaxBuffered of it waits in out_
      if (o_.retained_only && inbox_.held() && inbox_.empty()) {
        stop_reason_ = "retained";  // the first live message, held by the network thread
        return stop_reason_;
      }
      // `| head -1` read what it wanted and left: a quiet topic would never make a write fail.
      if (util::reader_gone(stdout)) return "reader";
    }
  }

  // Writes out_ to stdout. A closed pipe (EPIPE: `| head -1`) ends the process quietly with 0;
  // any other error (ENOSPC, EIO, EBADF) ends it with 1 naming what was not written.
  void flush() {
    size_t written = 0;
    while (written < out_.size()) {
      ssize_t n = ::write(STDOUT_FILENO, out_.data() + written, out_.size() - written);
      if (n > 0) {
        written += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd out{STDOUT_FILENO, POLLOUT, 0};  // a non-blocking stdout inherited
        ::poll(&out, 1, -1);
      } else {
        int error = n < 0 ? errno : EIO;
        if (error == EPIPE) util::leave_now(0);
        write_failed(error, written);
      }
    }
    out_.clear();
    message_ends_.clear();
  }

  // Leaves with exit 1 after a write error. What arrives from now on is held by the network
  // thread, never acknowledged, so a durable session keeps it; what was received before (in out_
  // past `written`, the batch and the inbox) is acknowledged already and counted as not written.
  [[noreturn]] void write_failed(int error, size_t written) {
    uint64_t lost = inbox_.freeze() + (taken_ - handled_);
    for (size_t end : message_ends_) lost += end > written;
    std::string text = "cannot write to stdout: " + std::string(std::strerror(error)) + "; " +
                       std::to_string(lost) + " received message(s) were not written";
    if (durable_) text += "; the session keeps the messages that came after them";
    print_error("sub", text);
    out_.clear();
    if (record_ != nullptr) std::fclose(record_);
    print_stats();
    util::leave_now(static_cast<int>(ExitCode::runtime));
  }

  // libmosquitto acknowledges a message as it arrives, so what reached the inbox is ours: stop
  // the connection first, then (unless -C or the retained messages ended it) print what is queued.
  void stop(mqtt::Connection& connection, bool print_rest) {
    inbox_.limit(false);
    connection.disconnect();
    if (print_rest) print_queued();
    inbox_.close();
  }

  // False when the command is done (count reached, or end of retained messages).
  bool handle(Item& item) {
    ++handled_;
    const dtbus::ReceivedMessage& m = item.message;
    if (o_.retained_only && !m.retain) {
      stop_reason_ = "retained";
      return false;
    }
    bool need_json =
        !conditions_.empty() || validate_ != envelope::Kind::none || writer_.needs_json();
    record::Json payload;
    if (need_json) payload = util::parse_json(m.payload);
    if (!selected(m, payload)) return true;
    std::vector<std::string> errors;
    if (validate_ != envelope::Kind::none)
      errors = envelope::validate_payload(validate_, m.payload, payload);
    record::Json validation;  // (null, no allocation, without --validate)
    if (validate_ != envelope::Kind::none) {
      validation["valid"] = errors.empty();
      validation["errors"] = errors;
    }
    writer_.append(out_, m, item.received, &payload, validation.is_null() ? nullptr : &validation,
                   verdict(errors));
    message_ends_.push_back(out_.size());
    if (record_ != nullptr) write_record(m, item.received);
    received_++;
    bytes_ += m.payload.size();
    if (o_.count && received_ >= *o_.count) {
      stop_reason_ = "count";
      return false;
    }
    return true;
  }

  std::string verdict(const std::vector<std::string>& errors) const {
    if (validate_ == envelope::Kind::none) return {};
    if (errors.empty()) return util::paint("✓ valid", util::Color::green, writer_.color());
    std::string text = "✗ invalid: ";
    for (size_t i = 0; i < errors.size(); ++i) text += (i ? "; " : "") + errors[i];
    return util::paint(text, util::Color::red, writer_.color());
  }

  void write_record(const dtbus::ReceivedMessage& m, SystemClock::time_point received) {
    line_.clear();
    record::append_record_line(line_, m, util::rfc3339_ms(received));
    if (std::fwrite(line_.data(), 1, line_.size(), record_) != line_.size() ||
        std::fflush(record_) != 0) {
      throw Error(ExitCode::runtime,
                  "cannot write --record file '" + o_.record_file + "': " + std::strerror(errno));
    }
  }

  void print_stats() const {
    if (!o_.stats) return;
    double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    double rate = seconds > 0 ? static_cast<double>(received_) / seconds : 0;
    char text[200];
    std::snprintf(text, sizeof text,
                  "dtbus sub: %llu messages in %.3f s (%.1f msg/s), %llu payload bytes\n",
                  static_cast<unsigned long long>(received_), seconds, rate,
                  static_cast<unsigned long long>(bytes_));
    std::fputs(text, stderr);
  }

  int finish_status(const std::string& reason) const {
    if (reason != "wait") return 0;
    if (o_.count && received_ < *o_.count) {
      throw Error(ExitCode::timeout, "only " + std::to_string(received_) + " of " +
                                         std::to_string(*o_.count) + " message(s) within " +
                                         util::seconds_text(*o_.wait_s) + " s");
    }
    if (received_ == 0)
      throw Error(ExitCode::timeout, "no message within " + util::seconds_text(*o_.wait_s) + " s");
    return 0;
  }

  const GlobalOptions& globals_;
  const Options& o_;
  MessageWriter writer_;
  target::Target target_;
  std::vector<std::string> filters_;
  int qos_ = 0;
  envelope::Kind validate_ = envelope::Kind::none;
  std::vector<where::Condition> conditions_;
  bool tty_ = false;
  std::FILE* record_ = nullptr;
  bool durable_ = false;    // --session
  uint64_t passed_on_ = 0;  // network thread: messages passed to the inbox that -C counts
  Inbox inbox_;
  std::string out_;
  std::vector<size_t> message_ends_;  // where each message in out_ ends
  uint64_t taken_ = 0;                // messages taken from the inbox
  uint64_t handled_ = 0;              // ... and handled (printed or filtered out)
  std::string line_;
  std::string stop_reason_;
  Clock::time_point started_ = Clock::now();
  uint64_t received_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

int run(const Invocation& invocation, const Options& options) {
  return Command(invocation.globals, options, invocation.output).run();
}

}  // namespace dtbus::commands::sub
