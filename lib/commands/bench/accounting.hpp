// SPDX-License-Identifier: Apache-2.0
// The bookkeeping of `dtbus bench`, free of connections so that it can be tested alone: the
// binary header every payload starts with, the per-publisher sequence tracker of a subscriber,
// and the comparison of a result with a previous one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace dtbus::commands::bench {

// Little-endian, 32 bytes: magic "DTB1", run id (u32, so that messages of another run on the
// same topic are told apart), publisher index (u32), reserved (u32), sequence number (u64, from
// 0), scheduled send time (u64, steady-clock nanoseconds of this process).
struct PayloadHeader {
  static constexpr size_t kSize = 32;
  uint32_t run_id = 0;
  uint32_t publisher = 0;
  uint64_t sequence = 0;
  uint64_t scheduled_ns = 0;

  // Writes the header over the first kSize bytes of `payload` (which has at least kSize).
  void write(char* payload) const;
  // nullopt for a payload that is not one of ours (too short, other magic).
  static std::optional<PayloadHeader> read(std::string_view payload);
};

// One publisher's stream as one subscriber sees it. Constant memory: a bitmap of the last
// kWindow sequence numbers tells a duplicate from a late arrival; a message older than that
// counts as out of order and is not checked for duplication. Single writer (the subscriber's
// network thread); the counters may be read from any thread.
class SequenceTracker {
 public:
  static constexpr uint64_t kWindow = 1024;
  enum class Outcome { next, ahead, out_of_order, duplicate };

  Outcome add(uint64_t sequence);

  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  uint64_t duplicated() const { return duplicated_.load(std::memory_order_relaxed); }
  uint64_t out_of_order() const { return out_of_order_.load(std::memory_order_relaxed); }
  uint64_t unique() const { return received() - duplicated(); }
  // One past the highest sequence number seen (0 before any): how far the stream has come,
  // whatever was lost on the way.
  uint64_t reached() const { return reached_.load(std::memory_order_relaxed); }
  // Messages sent and never seen (once no more can arrive).
  uint64_t lost(uint64_t sent) const { return sent > unique() ? sent - unique() : 0; }

 private:
  bool seen(uint64_t sequence) const;
  void mark(uint64_t sequence);
  void unmark(uint64_t sequence);
  static void bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  std::array<uint64_t, kWindow / 64> bits_{};
  bool any_ = false;
  uint64_t highest_ = 0;
  std::atomic<uint64_t> reached_{0};
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> duplicated_{0};
  std::atomic<uint64_t> out_of_order_{0};
};

// `%i` = publisher index, `%n` = sequence number, `%%` = '%'.
std::string expand_topic(std::string_view pattern, uint64_t publisher, uint64_t sequence);
bool topic_has_sequence(std::string_view pattern);
// The subscription that catches every topic of the pattern: each level holding %i or %n
// becomes '+'.
std::string filter_for(std::string_view pattern);

// "10%", "10", "2.5 %" -> percent. nullopt when not a non-negative number.
std::optional<double> parse_percent(std::string_view text);

// One figure of a result that --compare looks at.
struct Figure {
  const char* name;     // as printed: "receive rate"
  const char* pointer;  // JSON pointer into the result
  const char* unit;
  bool higher_is_better;
};
const std::vector<Figure>& compared_figures();

struct FigureChange {
  std::string name;
  std::string unit;
  std::optional<double> baseline;
  std::optional<double> current;
  std::optional<double> change_percent;  // signed: + means the number grew
  bool regression = false;               // worse by more than the threshold
};
// Every compared figure present in both results. A figure whose baseline is 0 shows no
// percentage; it regresses when lower is better and it is no longer 0.
std::vector<FigureChange> compare_results(const nlohmann::ordered_json& baseline,
                                          const nlohmann::ordered_json& current,
                                          double max_regression_percent);

}  // namespace dtbus::commands::bench
