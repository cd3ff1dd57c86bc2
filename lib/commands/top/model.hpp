// SPDX-License-Identifier: Apache-2.0
// The data behind `dtbus top`, without any terminal code: the topic tree with per-topic and
// per-subtree counters, one-minute rate windows, a bounded history of the last messages, and the
// broker's $SYS summary. Not thread-safe: the command guards it with one mutex (the network thread
// adds, the screen thread reads).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dtbus/core/message.hpp"

namespace dtbus::commands::top {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// Messages and payload bytes per second over the last minute, in one-second buckets; `second`
// is a count of seconds on a monotonic clock (Model::second_of).
class RateWindow {
 public:
  static constexpr int64_t kSeconds = 60;
  void add(int64_t second, uint64_t bytes);
  uint64_t messages_in(int64_t second) const;
  uint64_t bytes_in(int64_t second) const;
  // Messages in the kSeconds seconds ending with `second`, that one included.
  uint64_t messages_in_minute_to(int64_t second) const;

 private:
  std::array<uint32_t, kSeconds> messages_{};
  std::array<uint32_t, kSeconds> bytes_{};
  int64_t last_ = INT64_MIN / 2;  // the newest second written
};

// One kept message. The payload is cut to the topic's share of the history budget.
struct Sample {
  SystemClock::time_point received;
  std::string payload;  // the first bytes
  size_t size = 0;      // the whole payload's size
  int qos = 0;
  bool retain = false;
  std::string properties;           // MQTT 5 properties on one line, "" when none
  bool validated = false;           // --validate was on
  std::vector<std::string> errors;  // its verdict: empty = valid
  bool truncated() const { return payload.size() < size; }
};

struct Node {
  std::string name;   // this level
  std::string topic;  // the full topic up to this level
  Node* parent = nullptr;
  int depth = 0;  // 0 for the first level
  std::vector<std::unique_ptr<Node>> children;
  // This topic and every topic below it.
  uint64_t messages = 0;
  uint64_t bytes = 0;
  RateWindow rates;
  SteadyClock::time_point last_seen{};
  size_t topics = 0;  // topics with messages, this one included
  // This topic itself.
  uint64_t own_messages = 0;
  std::deque<Sample> history;  // oldest first
  size_t history_bytes = 0;
};

struct Limits {
  size_t history = 10;        // messages kept per topic
  size_t max_topics = 50000;  // topics tracked; messages on further topics are only counted
  uint64_t history_budget = 32ull << 20;  // payload bytes kept over all topics
};

// Which $SYS topics make the summary line, and how they are labelled.
class SysSummary {
 public:
  // True when `topic` is one the summary uses (it is then kept).
  bool add(const std::string& topic, std::string_view payload);
  // "mosquitto 2.0.11 · up 35 s · 3 clients · in 120/min · out 80/min", "" before any $SYS.
  std::string line() const;

 private:
  std::map<std::string, std::string> values_;
};

class Model {
 public:
  explicit Model(Limits limits = {});
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  static int64_t second_of(SteadyClock::time_point t);

  // `errors` and `validated`: the --validate verdict, computed by the caller outside the lock.
  void add(const ReceivedMessage& message, SteadyClock::time_point now,
           SystemClock::time_point received, bool validated = false,
           std::vector<std::string> errors = {});

  const Node& root() const { return root_; }
  const Node* find(std::string_view topic) const;
  uint64_t messages() const { return root_.messages; }
  size_t topics() const { return root_.topics; }
  // Messages on topics beyond Limits::max_topics (counted, not shown).
  uint64_t untracked() const { return untracked_; }
  // Payload bytes a topic may keep now: the budget shared by the topics there are.
  size_t topic_budget() const;
  uint64_t kept_bytes() const { return kept_bytes_; }
  const Limits& limits() const { return limits_; }
  SysSummary& sys() { return sys_; }
  const SysSummary& sys() const { return sys_; }

 private:
  Node* node_for(const std::string& topic);
  void trim(Node& node, size_t budget);
  void rebudget();

  Limits limits_;
  Node root_;
  std::unordered_map<std::string_view, Node*> nodes_;  // every node by its topic
  uint64_t untracked_ = 0;
  uint64_t kept_bytes_ = 0;
  size_t budgeted_for_ = 0;  // topic count the last rebudget() trimmed for
  SysSummary sys_;
};

}  // namespace dtbus::commands::top
