// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <vector>

#include "dtbus/replay/replay.hpp"

using namespace std::chrono_literals;
using dtbus::replay::Scheduler;
using dtbus::replay::TimePoint;
using dtbus::replay::TimingOptions;

namespace {

constexpr int64_t kMs = 1'000'000;

// A clock the test moves by hand; sleeping jumps to the deadline.
class FakeClock : public dtbus::replay::Clock {
 public:
  TimePoint now() override { return now_; }
  bool sleep_until(TimePoint when) override {
    now_ = std::max(now_, when);
    return true;
  }
  void advance(std::chrono::nanoseconds by) { now_ += by; }
  TimePoint now_ = TimePoint(1000s);
};

// Offsets (ms after the first due time) of each record's due time, sending at the due time
// plus `late` each.
std::vector<double> due_offsets(TimingOptions options,
                                const std::vector<std::optional<int64_t>>& times,
                                std::chrono::nanoseconds late = 0ns) {
  FakeClock clock;
  Scheduler scheduler(options, clock);
  std::vector<double> offsets;
  TimePoint first{};
  for (const auto& time : times) {
    TimePoint due = scheduler.schedule(time);
    if (offsets.empty()) first = due;
    offsets.push_back(std::chrono::duration<double, std::milli>(due - first).count());
    clock.sleep_until(due);
    clock.advance(late);
    scheduler.sent(clock.now());
  }
  return offsets;
}

}  // namespace

TEST(ReplayScheduler, SpeedOneReproducesGaps) {
  auto offsets = due_offsets({}, {0, 50 * kMs, 100 * kMs, 1000 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 50, 100, 1000}));
}

TEST(ReplayScheduler, SpeedScalesGaps) {
  TimingOptions options;
  options.speed = 2;
  EXPECT_EQ(due_offsets(options, {0, 50 * kMs, 100 * kMs}), (std::vector<double>{0, 25, 50}));
  options.speed = 0.5;
  EXPECT_EQ(due_offsets(options, {0, 50 * kMs, 100 * kMs}), (std::vector<double>{0, 100, 200}));
}

TEST(ReplayScheduler, SpeedZeroNeverWaits) {
  TimingOptions options;
  options.speed = 0;
  EXPECT_EQ(due_offsets(options, {0, 5000 * kMs, 9000 * kMs}), (std::vector<double>{0, 0, 0}));
}

TEST(ReplayScheduler, LateSendsDoNotAccumulate) {
  // Each send is 3 ms late, yet every due time stays on the original timeline.
  auto offsets = due_offsets({}, {0, 10 * kMs, 20 * kMs, 30 * kMs, 40 * kMs}, 3ms);
  EXPECT_EQ(offsets, (std::vector<double>{0, 10, 20, 30, 40}));
}

TEST(ReplayScheduler, LongReplayHasNoRoundingDrift) {
  TimingOptions options;
  options.speed = 3;  // 1/3 ms gaps do not round evenly
  FakeClock clock;
  Scheduler scheduler(options, clock);
  TimePoint first = scheduler.schedule(0);
  TimePoint last{};
  for (int64_t i = 1; i <= 300'000; ++i) last = scheduler.schedule(i * kMs);
  EXPECT_EQ(last - first, std::chrono::nanoseconds(100'000 * kMs));
}

TEST(ReplayScheduler, AnEarlierRecordKeepsItsPlaceOnTheTimeline) {
  // SPEC: record i is due at t0 + (ts_i - ts_0) / speed. 100 then 40 and 60: due in the past (sent
  // at once, never a negative wait), and the record at 200 is due at 200, not delayed by the
  // backward jump.
  auto offsets = due_offsets({}, {0, 100 * kMs, 40 * kMs, 60 * kMs, 200 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 100, 40, 60, 200}));
  TimingOptions options;
  options.speed = 2;
  offsets = due_offsets(options, {0, 100 * kMs, 40 * kMs, 200 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 50, 20, 100}));
}

TEST(ReplayScheduler, AnEarlierRecordIsSentAtOnce) {
  FakeClock clock;
  Scheduler scheduler({}, clock);
  clock.sleep_until(scheduler.schedule(0));
  clock.sleep_until(scheduler.schedule(100 * kMs));
  TimePoint now = clock.now();
  EXPECT_LE(scheduler.schedule(40 * kMs), now);          // due already: no wait
  EXPECT_EQ(scheduler.schedule(150 * kMs), now + 50ms);  // the gap from the latest time
}

TEST(ReplayScheduler, AnEarlierRecordWithMaxGapStaysBehindTheLatest) {
  TimingOptions options;
  options.max_gap = 1;
  // 0 -> 60 s is capped to 1 s; 59.5 s lies 0.5 s before the latest: 500 ms on the timeline.
  auto offsets = due_offsets(options, {0, 60'000 * kMs, 59'500 * kMs, 60'200 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 1000, 500, 1200}));
}

// Huge values saturate (a wait of about 31.7 years at most) instead of overflowing into a zero
// or negative wait.
constexpr double kMaxWaitMs = 1e12;

TEST(ReplayScheduler, HugeMaxGapIsNoCap) {
  TimingOptions options;
  options.max_gap = 1e300;
  EXPECT_EQ(due_offsets(options, {0, 1000 * kMs, 3000 * kMs}),
            (std::vector<double>{0, 1000, 3000}));
  options.speed = 1e300;  // max_gap x speed overflows a double to inf
  auto offsets = due_offsets(options, {0, 1000 * kMs});
  EXPECT_GE(offsets[1], 0);
  EXPECT_LT(offsets[1], 1);
}

TEST(ReplayScheduler, TinySpeedSaturatesTheWait) {
  TimingOptions options;
  options.speed = 1e-300;
  auto offsets = due_offsets(options, {0, 1 * kMs, 2 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, kMaxWaitMs, kMaxWaitMs}));
}

TEST(ReplayScheduler, TinyRateSaturatesTheSpacing) {
  TimingOptions options;
  options.speed = 0;
  options.rate = 1e-300;
  auto offsets = due_offsets(options, {0, 0});
  EXPECT_EQ(offsets, (std::vector<double>{0, kMaxWaitMs}));
  // Many such steps stop at the clock's end, never wrapping around to the past.
  FakeClock clock;
  Scheduler scheduler(options, clock);
  TimePoint previous = scheduler.schedule(std::nullopt);
  for (int i = 0; i < 20; ++i) {
    TimePoint due = scheduler.schedule(std::nullopt);
    EXPECT_GE(due, previous);
    previous = due;
  }
}

TEST(ReplayScheduler, HugeRateIsNoCap) {
  TimingOptions options;
  options.speed = 0;
  options.rate = 1e300;
  EXPECT_EQ(due_offsets(options, {0, 0, 0}), (std::vector<double>{0, 0, 0}));
}

TEST(ReplayScheduler, TimesFurtherApartThanInt64HoldsSaturate) {
  auto offsets = due_offsets({}, {-9'000'000'000'000'000'000, 9'000'000'000'000'000'000});
  EXPECT_EQ(offsets, (std::vector<double>{0, kMaxWaitMs}));
  offsets = due_offsets({}, {9'000'000'000'000'000'000, -9'000'000'000'000'000'000});
  EXPECT_EQ(offsets, (std::vector<double>{0, -kMaxWaitMs}));  // in the past: sent at once
}

TEST(ReplayScheduler, RecordsWithoutTimeAreDueImmediately) {
  auto offsets = due_offsets({}, {0, std::nullopt, 30 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 0, 30}));
}

TEST(ReplayScheduler, MaxGapCapsEachWait) {
  TimingOptions options;
  options.max_gap = 0.5;
  auto offsets = due_offsets(options, {0, 60'000 * kMs, 60'100 * kMs, 3'600'000 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 500, 600, 1100}));
  options.speed = 10;  // the cap is on the wait, after speed
  offsets = due_offsets(options, {0, 60'000 * kMs, 60'100 * kMs});
  EXPECT_EQ(offsets, (std::vector<double>{0, 500, 510}));
}

TEST(ReplayScheduler, RateCapsSpacing) {
  TimingOptions options;
  options.speed = 0;
  options.rate = 100;  // 10 ms apart
  EXPECT_EQ(due_offsets(options, {0, 0, 0, 0}), (std::vector<double>{0, 10, 20, 30}));
  options.speed = 1;  // the timeline wins where it is slower than the cap
  EXPECT_EQ(due_offsets(options, {0, 1 * kMs, 50 * kMs, 51 * kMs}),
            (std::vector<double>{0, 10, 50, 60}));
}

TEST(ReplayScheduler, RateAfterStallAllowsOneCatchUpMessage) {
  TimingOptions options;
  options.speed = 0;
  options.rate = 100;
  FakeClock clock;
  Scheduler scheduler(options, clock);
  TimePoint first = scheduler.schedule(std::nullopt);
  clock.sleep_until(first);
  clock.advance(100ms);  // the send stalled
  scheduler.sent(clock.now());
  TimePoint second = scheduler.schedule(std::nullopt);
  EXPECT_EQ(second, clock.now());  // due at once ...
  scheduler.sent(second);
  EXPECT_EQ(scheduler.schedule(std::nullopt), second + 10ms);  // ... then spaced again
}

TEST(ReplayScheduler, RestartBeginsANewTimelineAfterThePreviousPass) {
  FakeClock clock;
  Scheduler scheduler({}, clock);
  TimePoint first = scheduler.schedule(1000 * kMs);
  clock.sleep_until(scheduler.schedule(1200 * kMs));
  clock.advance(7ms);
  scheduler.restart();
  TimePoint second_pass = scheduler.schedule(1000 * kMs);
  EXPECT_EQ(second_pass - first, 207ms);
  EXPECT_EQ(scheduler.schedule(1050 * kMs) - second_pass, 50ms);
}
