// SPDX-License-Identifier: Apache-2.0
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "dtbus/commands/sub/format.hpp"
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

// Messages waiting for the output thread; the network thread blocks beyond this (TCP then
// pushes back on the broker) so memory stays bounded when stdout is slow.
constexpr size_t kMaxQueued = 8192;
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// Output is written when the inbox runs dry, or once this much is pending (a steady stream).
constexpr size_t kMaxBuffered = 64 * 1024;

enum class Format { text, json, raw, templated };

struct Item {
  dtbus::ReceivedMessage message;
  SystemClock::time_point received;
};

// Hand-off from the network thread to the thread that formats and writes.
class Inbox {
 public:
  // Network thread; blocks while the inbox is full, if limited. After close() messages are
  // dropped (we are leaving; a durable session keeps what the broker has not sent yet).
  void push(dtbus::ReceivedMessage& message) {
    std::unique_lock lock(mutex_);
    if (frozen_) {
      hold(lock);
      return;
    }
    space_.wait(lock, [&] { return items_.size() < kMaxQueued || closed_ || !limited_; });
    if (closed_) return;
    items_.push_back({std::move(message), SystemClock::now()});
    if (items_.size() == 1) arrived_.notify_one();
  }
  // Network thread, instead of push(): keeps the thread here for good (until close(), on an error
  // path). libmosquitto sends the PUBACK of the message being handled only once the handler
  // returns, so the broker keeps it (and what follows) for a durable session.
  void hold() {
    std::unique_lock lock(mutex_);
    hold(lock);
  }
  // From now on every message is held, none acknowledged.
  void freeze() {
    std::lock_guard lock(mutex_);
    frozen_ = true;
  }
  bool held() {
    std::lock_guard lock(mutex_);
    return held_;
  }
  // Takes everything queued, waiting until `deadline` when empty (and nothing is held).
  void take(std::vector<Item>& into, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (items_.empty()) {
      arrived_.wait_until(lock, deadline, [&] { return !items_.empty() || held_; });
    }
    into.swap(items_);
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
  bool closed_ = false;
  bool limited_ = false;
  bool frozen_ = false;
  bool held_ = false;
};

Format pick_format(const Options& o, const std::string& output) {
  if (o.format_template) return Format::templated;
  std::string name = output.empty() ? (util::is_tty(stdout) ? "text" : "json") : output;
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  if (name == "raw") return Format::raw;
  throw Error(ExitCode::usage, "-o must be text, json or raw");
}

class Command {
 public:
  Command(const GlobalOptions& globals, const Options& options, const std::string& output)
      : globals_(globals), o_(options), format_(pick_format(options, output)) {}

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
    // Destroyed before the connection: releases a network thread waiting for inbox space.
    struct CloseInbox {
      Inbox& inbox;
      ~CloseInbox() { inbox.close(); }
    } close_inbox{inbox_};
    connection.connect();  // a durable session's backlog may flow from here on
    std::vector<mqtt::Subscription> subscriptions;
    for (const auto& filter : filters_) {
      mqtt::Subscription s;
      s.filter = filter;
      s.qos = qos_;
      s.retain_handling = o_.no_retained ? 2 : 0;
      subscriptions.push_back(s);
    }
    if (exact_end()) run_to_exact_end(connection, subscriptions);
    try {
      connection.subscribe(subscriptions);
    } catch (const Error&) {
      stop(connection, true);
      throw;
    }
    inbox_.limit(true);
    started_ = Clock::now();
    std::string stop_reason = loop();
    stop(connection, stop_reason == "signal" || stop_reason == "wait");
    if (record_ != nullptr) std::fclose(record_);
    print_stats();
    return finish_status(stop_reason);
  }

 private:
  void prepare() {
    if (o_.filters.empty())
      throw Error(ExitCode::usage, "no topic filter: give -t FILTER or FILTER arguments");
    if (o_.no_retained && o_.retained_only) {
      throw Error(ExitCode::usage, "--no-retained and --retained-only exclude each other");
    }
    if (o_.qos && (*o_.qos < 0 || *o_.qos > 2))
      throw Error(ExitCode::usage, "-q must be 0, 1 or 2");
    if (o_.count && *o_.count == 0) throw Error(ExitCode::usage, "-C must be at least 1");
    if (o_.wait_s && *o_.wait_s <= 0)
      throw Error(ExitCode::usage, "-W must be a positive number of seconds");
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
    if (o_.format_template) template_.emplace(*o_.format_template);
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
    style_.color = format_ == Format::text && globals_.color_stdout();
    style_.pretty = o_.pretty;
    // Full buffering to a pipe/file: flushed when the inbox runs dry or kMaxBuffered is pending
    // (and per message on a TTY).
    if (!tty_) std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
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

  // --no-retained and --where: whether handle() prints `m` (payload: parsed when --where is set).
  bool selected(const dtbus::ReceivedMessage& m, const record::Json& payload) const {
    if (o_.no_retained && m.retain) return false;
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
    inbox_.take(batch, Clock::now());
    for (Item& item : batch) {
      if (!handle(item)) break;
    }
    flush();
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

  // Returns why it stopped: "count", "wait", "signal", "retained", "reader" (stdout closed).
  std::string loop() {
    std::vector<Item> batch;
    std::optional<Clock::time_point> deadline;
    if (o_.wait_s) {
      deadline = started_ + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(*o_.wait_s));
    }
    while (true) {
      if (interrupt::interrupted()) return "signal";
      auto now = Clock::now();
      if (deadline && now >= *deadline) return "wait";
      auto until = now + kPollInterval;
      if (deadline && *deadline < until) until = *deadline;
      inbox_.take(batch, until);
      for (Item& item : batch) {
        if (!handle(item)) {
          flush();
          return stop_reason_;
        }
        if ((tty_ && !out_.empty()) || out_.size() >= kMaxBuffered) flush();
      }
      batch.clear();
      if (!out_.empty() && inbox_.empty()) flush();
      if (o_.retained_only && inbox_.held() && inbox_.empty()) {
        stop_reason_ = "retained";  // the first live message, held by the network thread
        return stop_reason_;
      }
      // `| head -1` read what it wanted and left: a quiet topic would never make a write fail.
      if (util::reader_gone(stdout)) return "reader";
    }
  }

  void flush() {
    util::write_stdout(out_, true);
    out_.clear();
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
    const dtbus::ReceivedMessage& m = item.message;
    if (o_.retained_only && !m.retain) {
      stop_reason_ = "retained";
      return false;
    }
    bool need_json = !conditions_.empty() || validate_ != envelope::Kind::none ||
                     (template_ && template_->needs_json());
    record::Json payload;
    if (need_json) payload = util::parse_json(m.payload);
    if (!selected(m, payload)) return true;
    std::vector<std::string> errors;
    if (validate_ != envelope::Kind::none) {
      errors = payload.is_discarded() ? std::vector<std::string>{"payload is not JSON"}
                                      : envelope::validate(validate_, payload);
    }
    std::string received_at;
    if (format_ != Format::text && format_ != Format::raw)
      received_at = util::rfc3339_ms(item.received);
    switch (format_) {
      case Format::json:
        append_json(m, received_at, errors);
        break;
      case Format::raw:
        out_ += m.payload;
        out_.push_back('\n');
        break;
      case Format::templated:
        template_->render(out_, m, received_at, payload.is_discarded() ? nullptr : &payload);
        break;
      case Format::text:
        append_text_line(out_, m, item.received, style_, verdict(errors));
        break;
    }
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
    if (errors.empty()) return util::paint("✓ valid", util::Color::green, style_.color);
    std::string text = "✗ invalid: ";
    for (size_t i = 0; i < errors.size(); ++i) text += (i ? "; " : "") + errors[i];
    return util::paint(text, util::Color::red, style_.color);
  }

  void append_json(const dtbus::ReceivedMessage& m, const std::string& received_at,
                   const std::vector<std::string>& errors) {
    if (o_.pretty) {
      record::Json r = record::to_record(m, received_at);
      add_validation(r, errors);
      out_ += r.dump(2, ' ', false, record::Json::error_handler_t::replace);
      out_.push_back('\n');
      return;
    }
    record::append_record_line(out_, m, received_at);
    if (validate_ == envelope::Kind::none) return;
    out_.resize(out_.size() - 2);  // reopen the object: drop "}\n"
    record::Json extra = record::Json::object();
    add_validation(extra, errors);
    std::string tail = extra.dump(-1, ' ', false, record::Json::error_handler_t::replace);
    out_ += ",";
    out_.append(tail, 1, tail.size() - 1);  // `"valid":...,"errors":[...]}`
    out_.push_back('\n');
  }

  void add_validation(record::Json& r, const std::vector<std::string>& errors) const {
    if (validate_ == envelope::Kind::none) return;
    r["valid"] = errors.empty();
    r["errors"] = errors;
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
  Format format_;
  target::Target target_;
  std::vector<std::string> filters_;
  int qos_ = 0;
  envelope::Kind validate_ = envelope::Kind::none;
  std::vector<where::Condition> conditions_;
  std::optional<Template> template_;
  TextStyle style_;
  bool tty_ = false;
  std::FILE* record_ = nullptr;
  bool durable_ = false;    // --session
  uint64_t passed_on_ = 0;  // network thread: messages passed to the inbox that -C counts
  Inbox inbox_;
  std::string out_;
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
