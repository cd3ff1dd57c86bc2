// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/bench/accounting.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace dtbus::commands::bench {

namespace {

constexpr char kMagic[4] = {'D', 'T', 'B', '1'};

void put32(char* at, uint32_t value) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
void put64(char* at, uint64_t value) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
uint32_t get32(const char* at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<unsigned char>(at[i])} << (8 * i);
  return value;
}
uint64_t get64(const char* at) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(at[i])} << (8 * i);
  return value;
}

}  // namespace

void PayloadHeader::write(char* payload) const {
  std::memcpy(payload, kMagic, 4);
  put32(payload + 4, run_id);
  put32(payload + 8, publisher);
  put32(payload + 12, 0);
  put64(payload + 16, sequence);
  put64(payload + 24, scheduled_ns);
}

std::optional<PayloadHeader> PayloadHeader::read(std::string_view payload) {
  if (payload.size() < kSize || std::memcmp(payload.data(), kMagic, 4) != 0) return std::nullopt;
  PayloadHeader header;
  header.run_id = get32(payload.data() + 4);
  header.publisher = get32(payload.data() + 8);
  header.sequence = get64(payload.data() + 16);
  header.scheduled_ns = get64(payload.data() + 24);
  return header;
}

bool SequenceTracker::seen(uint64_t sequence) const {
  uint64_t slot = sequence % kWindow;
  return (bits_[slot / 64] >> (slot % 64)) & 1;
}
void SequenceTracker::mark(uint64_t sequence) {
  uint64_t slot = sequence % kWindow;
  bits_[slot / 64] |= uint64_t{1} << (slot % 64);
}
void SequenceTracker::unmark(uint64_t sequence) {
  uint64_t slot = sequence % kWindow;
  bits_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
}

SequenceTracker::Outcome SequenceTracker::add(uint64_t sequence) {
  bump(received_);
  if (!any_ || sequence > highest_) {
    // The window moves up to `sequence`: the slots it takes over are forgotten first.
    uint64_t from = any_ ? highest_ + 1 : sequence;
    if (!any_ || sequence - from >= kWindow) {
      bits_.fill(0);
    } else {
      for (uint64_t s = from; s < sequence; ++s) unmark(s);
    }
    bool next = any_ ? sequence == highest_ + 1 : sequence == 0;
    any_ = true;
    highest_ = sequence;
    reached_.store(sequence + 1, std::memory_order_relaxed);
    mark(sequence);
    return next ? Outcome::next : Outcome::ahead;
  }
  if (highest_ - sequence < kWindow && seen(sequence)) {
    bump(duplicated_);
    return Outcome::duplicate;
  }
  if (highest_ - sequence < kWindow) mark(sequence);
  bump(out_of_order_);
  return Outcome::out_of_order;
}

std::string expand_topic(std::string_view pattern, uint64_t publisher, uint64_t sequence) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char c = pattern[i + 1];
      if (c == 'i' || c == 'n' || c == '%') {
        ++i;
        if (c == 'i') out += std::to_string(publisher);
        if (c == 'n') out += std::to_string(sequence);
        if (c == '%') out += '%';
        continue;
      }
    }
    out += pattern[i];
  }
  return out;
}

bool topic_has_sequence(std::string_view pattern) {
  for (size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '%') {
      if (pattern[i + 1] == 'n') return true;
      ++i;  // skip the escaped character (%% or %i)
    }
  }
  return false;
}

std::string filter_for(std::string_view pattern) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t end = pattern.find('/', start);
    std::string_view level =
        pattern.substr(start, end == std::string_view::npos ? end : end - start);
    bool variable = false;
    for (size_t i = 0; i + 1 < level.size(); ++i) {
      if (level[i] == '%') {
        if (level[i + 1] == 'i' || level[i + 1] == 'n') variable = true;
        ++i;
      }
    }
    out += variable ? std::string("+") : expand_topic(level, 0, 0);
    if (end == std::string_view::npos) break;
    out += '/';
    start = end + 1;
  }
  return out;
}

std::optional<double> parse_percent(std::string_view text) {
  std::string s(text);
  while (!s.empty() && (s.back() == '%' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

const std::vector<Figure>& compared_figures() {
  static const std::vector<Figure> figures = {
      {"publish rate", "/throughput/publish_msgs_per_s", "msg/s", true},
      {"receive rate", "/throughput/receive_msgs_per_s", "msg/s", true},
      {"latency p50", "/latency_ms/end_to_end/p50", "ms", false},
      {"latency p90", "/latency_ms/end_to_end/p90", "ms", false},
      {"latency p99", "/latency_ms/end_to_end/p99", "ms", false},
      {"latency p99.9", "/latency_ms/end_to_end/p99_9", "ms", false},
      {"latency max", "/latency_ms/end_to_end/max", "ms", false},
      {"ack latency p50", "/latency_ms/publish_to_ack/p50", "ms", false},
      {"ack latency p99", "/latency_ms/publish_to_ack/p99", "ms", false},
      {"lost", "/messages/lost", "", false},
      {"duplicated", "/messages/duplicated", "", false},
      {"out of order", "/messages/out_of_order", "", false},
  };
  return figures;
}

std::vector<FigureChange> compare_results(const nlohmann::ordered_json& baseline,
                                          const nlohmann::ordered_json& current,
                                          double max_regression_percent) {
  auto number_at = [](const nlohmann::ordered_json& doc,
                      const char* pointer) -> std::optional<double> {
    nlohmann::ordered_json::json_pointer at(pointer);
    if (!doc.contains(at)) return std::nullopt;
    const auto& value = doc.at(at);
    if (!value.is_number()) return std::nullopt;
    return value.get<double>();
  };
  std::vector<FigureChange> changes;
  for (const auto& figure : compared_figures()) {
    FigureChange change{figure.name,
                        figure.unit,
                        number_at(baseline, figure.pointer),
                        number_at(current, figure.pointer),
                        std::nullopt,
                        false};
    if (!change.baseline || !change.current) continue;
    if (*change.baseline != 0) {
      double percent = (*change.current - *change.baseline) / *change.baseline * 100.0;
      change.change_percent = percent;
      double worse = figure.higher_is_better ? -percent : percent;
      change.regression = worse > max_regression_percent;
    } else {
      // From none to some (messages lost where none were) is worse by any threshold.
      change.regression = !figure.higher_is_better && *change.current > 0;
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace dtbus::commands::bench
