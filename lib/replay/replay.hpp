// SPDX-License-Identifier: Apache-2.0
// `dtbus replay`: put recorded messages (JSON Lines in the `sub -o json` shape) back on the bus,
// with their original timing or faster (SPEC §4 `dtbus replay`).
//
// The pieces are public so they can be tested alone: time parsing, the streaming reader, the
// selection (window, topic, kind, where), the topic map and the scheduler (with an injectable
// clock). commands/replay wires them to the shared publishing pipeline
// (dtbus/delivery/publisher.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtbus/core/record.hpp"
#include "dtbus/core/where.hpp"
#include "dtbus/mqtt/connection.hpp"

namespace dtbus::replay {

// Record fields holding the time, in order of preference.
inline constexpr const char* kTimeFields[] = {"received_at", "created_at", "timestamp", "ts"};

// ---- Input: JSON Lines from files or stdin, streamed ----

struct Line {
  std::string source;  // file name, or "-" for stdin
  uint64_t number = 0;
  std::string text;
};

// Reads the inputs one line at a time (never a whole file); empty lines are skipped.
class Reader {
 public:
  // Opens nothing yet; check() verifies every file can be opened.
  explicit Reader(std::vector<std::string> inputs);
  // Throws Error(usage) naming the first input that cannot be read.
  void check() const;
  bool reads_stdin() const;
  // Total number of non-empty lines when every input is a regular file (first pass, for the
  // progress bar); nullopt for stdin or pipes.
  std::optional<uint64_t> count_lines() const;
  // The next non-empty line across all inputs; false after the last one.
  bool next(Line& line);
  // Starts again from the first input (files only; see reads_stdin()).
  void rewind();

 private:
  bool open_next();
  std::vector<std::string> inputs_;
  size_t index_ = 0;
  std::unique_ptr<std::ifstream> file_;
  std::istream* stream_ = nullptr;
  std::string source_;
  uint64_t number_ = 0;
};

// A line that is not a usable record; the reason names the field where known.
class InvalidRecord : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Record {
  std::string topic;
  std::string payload;  // bytes to publish (byte-exact, see record.hpp)
  std::optional<int> qos;
  bool retain = false;
  dtbus::MessageProperties properties;  // MQTT 5 properties as recorded
  std::optional<int64_t> time_ns;
  record::Json json;  // the whole parsed line, for --kind / --where
  // The payload as JSON (the value when payload_encoding is json, else the bytes parsed as
  // JSON); null when it is not JSON.
  record::Json payload_json() const;
};

// Throws InvalidRecord. `time_required`: a record without a time is invalid. `time_field`
// (--time-field, a dotted path into the JSON payload such as DataKnobs' `timestamp`): the time of
// a record without `received_at`, before the record's other time fields.
Record parse_record(const std::string& text, bool time_required,
                    const std::vector<std::string>& time_field = {});

// ---- Selection and rewriting ----

struct Selection {
  std::optional<int64_t> since_ns;       // inclusive
  std::optional<int64_t> until_ns;       // exclusive
  std::vector<std::string> topics;       // MQTT filters on the recorded topic; empty = all
  std::vector<std::string> kinds;        // payload.kind or payload["@type"]; empty = all
  std::vector<where::Condition> wheres;  // --where (dtbus/core/where.hpp), all must match
  bool has_window() const { return since_ns || until_ns; }
  bool matches(const Record& record) const;
};

// `FROM=TO` prefix rewrites; the first mapping whose FROM prefixes the topic wins.
class TopicMap {
 public:
  void add(const std::string& mapping);  // Error(usage) when malformed
  // The rewritten topic; throws InvalidRecord when the result is not a valid publish topic.
  std::string apply(const std::string& topic) const;
  bool empty() const { return mappings_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> mappings_;
};

// ---- Timing ----

using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() = 0;
  // Returns false when interrupted before `when`.
  virtual bool sleep_until(TimePoint when) = 0;
};

// The monotonic clock. When `interruptible`, sleeps end early (returning false) once SIGINT or
// SIGTERM arrived (dtbus/util/interrupt.hpp), checked at least every 50 ms.
class SteadyClock : public Clock {
 public:
  explicit SteadyClock(bool interruptible = false) : interruptible_(interruptible) {}
  TimePoint now() override;
  bool sleep_until(TimePoint when) override;

 private:
  bool interruptible_;
};

struct TimingOptions {
  double speed = 1.0;             // 0 = no waits (as fast as acknowledgements allow)
  std::optional<double> rate;     // messages per second cap
  std::optional<double> max_gap;  // seconds, cap on any single wait
};

// Send times: record i is due at t0 + v_i / speed, where t0 is the clock when the first record of
// the pass was scheduled and v_i = ts_i − ts_0 with each forward step of the latest time seen
// capped at max_gap × speed. A record earlier than the latest one seen (out of time order) gets
// its own place on that timeline, in the past: it is sent at once and the records after it keep
// their times. Computed from t0 each time, so rounding and late sends never accumulate. The rate
// cap spaces sends at least 1/rate apart, catching up after a stall with at most one extra
// message. Huge values (speed, max_gap, rate, time spans) saturate at about 31 years per wait,
// never overflowing into a zero wait.
class Scheduler {
 public:
  Scheduler(TimingOptions options, Clock& clock);
  // When the next record (with this time, if any) is due.
  TimePoint schedule(std::optional<int64_t> time_ns);
  // The actual send time of the record just scheduled (for the rate cap).
  void sent(TimePoint when);
  // A new pass (--loop): the next record starts a new timeline at the clock's now().
  void restart();

 private:
  TimingOptions options_;
  Clock& clock_;
  bool started_ = false;
  TimePoint t0_{};
  int64_t virtual_ns_ = 0;            // virtual time of latest_ns_
  std::optional<int64_t> latest_ns_;  // the latest record time seen in this pass
  std::optional<TimePoint> last_due_;
  std::optional<TimePoint> last_sent_;
};

}  // namespace dtbus::replay
