// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/top/model.hpp"

#include <algorithm>

namespace dtbus::commands::top {
namespace {

// A topic keeps at least this much of its newest payload, however many topics share the budget,
// and at most this much of all its messages.
constexpr size_t kMinTopicBudget = 512;
constexpr size_t kMaxTopicBudget = 256 * 1024;
// The budget per topic is recomputed (and every history trimmed to it) each time the topic count
// doubles past this: trimming then costs O(1) per message on average.
constexpr size_t kRebudgetFrom = 64;
// A property line longer than this is cut (it is one line of the detail pane).
constexpr size_t kMaxPropertiesText = 200;

size_t slot(int64_t second) {
  int64_t m = second % RateWindow::kSeconds;
  return static_cast<size_t>(m < 0 ? m + RateWindow::kSeconds : m);
}

std::string properties_text(const MessageProperties& p) {
  std::string out;
  auto add = [&](const std::string& text) {
    if (!out.empty()) out += "  ";
    out += text;
  };
  if (!p.content_type.empty()) add("content-type=" + p.content_type);
  if (p.message_expiry) add("expiry=" + std::to_string(*p.message_expiry) + "s");
  if (p.payload_is_utf8) add(*p.payload_is_utf8 ? "utf8" : "bytes");
  if (!p.response_topic.empty()) add("response-topic=" + p.response_topic);
  if (!p.correlation_data.empty()) add("correlation-data");
  for (const auto& u : p.user) add(u.key + "=" + u.value);
  if (out.size() > kMaxPropertiesText) {
    out.resize(kMaxPropertiesText);
    out += "…";
  }
  return out;
}

}  // namespace

void RateWindow::add(int64_t second, uint64_t bytes) {
  if (second > last_) {
    // Seconds that passed without a message count zero.
    for (int64_t s = std::max(last_ + 1, second - kSeconds + 1); s <= second; ++s) {
      messages_[slot(s)] = 0;
      bytes_[slot(s)] = 0;
    }
    last_ = second;
  } else if (second <= last_ - kSeconds) {
    return;  // older than the window
  }
  messages_[slot(second)] += 1;
  bytes_[slot(second)] += static_cast<uint32_t>(std::min<uint64_t>(bytes, UINT32_MAX));
}

uint64_t RateWindow::messages_in(int64_t second) const {
  if (second > last_ || second <= last_ - kSeconds) return 0;
  return messages_[slot(second)];
}

uint64_t RateWindow::bytes_in(int64_t second) const {
  if (second > last_ || second <= last_ - kSeconds) return 0;
  return bytes_[slot(second)];
}

uint64_t RateWindow::messages_in_minute_to(int64_t second) const {
  uint64_t sum = 0;
  for (int64_t s = second - kSeconds + 1; s <= second; ++s) sum += messages_in(s);
  return sum;
}

bool SysSummary::add(const std::string& topic, std::string_view payload) {
  static const char* const kKeys[] = {
      "$SYS/broker/version",
      "$SYS/broker/uptime",
      "$SYS/broker/clients/connected",
      "$SYS/broker/subscriptions/count",
      "$SYS/broker/load/messages/received/1min",
      "$SYS/broker/load/messages/sent/1min",
  };
  for (const char* key : kKeys) {
    if (topic == key) {
      values_[topic] = std::string(payload.substr(0, 80));
      return true;
    }
  }
  return false;
}

std::string SysSummary::line() const {
  auto get = [&](const char* key) -> std::string {
    auto found = values_.find(key);
    return found == values_.end() ? std::string() : found->second;
  };
  std::string out;
  auto add = [&](const std::string& text) {
    if (!out.empty()) out += " · ";
    out += text;
  };
  if (auto v = get("$SYS/broker/version"); !v.empty()) add(v);
  if (auto v = get("$SYS/broker/uptime"); !v.empty()) add("up " + v);
  if (auto v = get("$SYS/broker/clients/connected"); !v.empty()) add(v + " clients");
  if (auto v = get("$SYS/broker/subscriptions/count"); !v.empty()) add(v + " subscriptions");
  if (auto v = get("$SYS/broker/load/messages/received/1min"); !v.empty()) add("in " + v + "/min");
  if (auto v = get("$SYS/broker/load/messages/sent/1min"); !v.empty()) add("out " + v + "/min");
  return out;
}

Model::Model(Limits limits) : limits_(limits) {
  if (limits_.history == 0) limits_.history = 1;
  root_.depth = -1;
}

int64_t Model::second_of(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

const Node* Model::find(std::string_view topic) const {
  auto found = nodes_.find(topic);
  return found == nodes_.end() ? nullptr : found->second;
}

size_t Model::topic_budget() const {
  size_t topics = std::max<size_t>(root_.topics, 1);
  return std::clamp<size_t>(limits_.history_budget / topics, kMinTopicBudget, kMaxTopicBudget);
}

Node* Model::node_for(const std::string& topic) {
  if (auto found = nodes_.find(topic); found != nodes_.end()) return found->second;
  if (root_.topics >= limits_.max_topics) return nullptr;
  Node* node = &root_;
  size_t start = 0;
  while (true) {
    size_t slash = topic.find('/', start);
    size_t end = slash == std::string::npos ? topic.size() : slash;
    std::string_view prefix(topic.data(), end);
    auto found = nodes_.find(prefix);
    if (found != nodes_.end()) {
      node = found->second;
    } else {
      auto child = std::make_unique<Node>();
      child->name = topic.substr(start, end - start);
      child->topic = std::string(prefix);
      child->parent = node;
      child->depth = node->depth + 1;
      Node* raw = child.get();
      node->children.push_back(std::move(child));
      nodes_.emplace(raw->topic, raw);
      node = raw;
    }
    if (slash == std::string::npos) return node;
    start = slash + 1;
  }
}

void Model::add(const ReceivedMessage& m, SteadyClock::time_point now,
                SystemClock::time_point received, bool validated, std::vector<std::string> errors) {
  Node* node = node_for(m.topic);
  if (node == nullptr) {
    ++untracked_;
    return;
  }
  bool new_topic = node->own_messages == 0;
  ++node->own_messages;
  int64_t second = second_of(now);
  for (Node* n = node; n != nullptr; n = n->parent) {
    ++n->messages;
    n->bytes += m.payload.size();
    n->rates.add(second, m.payload.size());
    n->last_seen = now;
    if (new_topic) ++n->topics;
  }
  if (new_topic && root_.topics >= 2 * std::max(budgeted_for_, kRebudgetFrom)) rebudget();

  size_t budget = topic_budget();
  Sample sample;
  sample.received = received;
  sample.size = m.payload.size();
  sample.payload = m.payload.substr(0, budget);
  sample.qos = m.qos;
  sample.retain = m.retain;
  if (!m.properties.empty()) sample.properties = properties_text(m.properties);
  sample.validated = validated;
  sample.errors = std::move(errors);
  node->history_bytes += sample.payload.size();
  kept_bytes_ += sample.payload.size();
  node->history.push_back(std::move(sample));
  trim(*node, budget);
}

// Drops the oldest messages beyond the count and the byte budget; the newest stays, cut to the
// budget.
void Model::trim(Node& node, size_t budget) {
  auto drop_front = [&] {
    node.history_bytes -= node.history.front().payload.size();
    kept_bytes_ -= node.history.front().payload.size();
    node.history.pop_front();
  };
  while (node.history.size() > limits_.history) drop_front();
  while (node.history.size() > 1 && node.history_bytes > budget) drop_front();
  if (!node.history.empty() && node.history_bytes > budget) {
    Sample& newest = node.history.back();
    size_t cut = newest.payload.size() - budget;
    newest.payload.resize(budget);
    newest.payload.shrink_to_fit();
    node.history_bytes -= cut;
    kept_bytes_ -= cut;
  }
}

void Model::rebudget() {
  budgeted_for_ = root_.topics;
  size_t budget = topic_budget();
  for (auto& [topic, node] : nodes_) {
    if (node->history_bytes > budget) trim(*node, budget);
  }
}

}  // namespace dtbus::commands::top
