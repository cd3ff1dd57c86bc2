// SPDX-License-Identifier: Apache-2.0
// Send-time scheduling against the first record, and the monotonic clock it runs on.
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>

#include "dtbus/replay/replay.hpp"
#include "dtbus/util/interrupt.hpp"

namespace dtbus::replay {
namespace {

using std::chrono::nanoseconds;

constexpr auto kInterruptCheck = std::chrono::milliseconds(50);

// Any wait or offset from t0 is capped here (about 31.7 years), so that huge --speed, --max-gap
// or --rate values, or far-apart record times, saturate instead of overflowing: an overflow could
// wrap into a negative or zero wait (a sleep that never happens). The cap also leaves room in the
// clock's int64 nanoseconds for t0 + offset.
constexpr int64_t kMaxOffsetNs = 1'000'000'000'000'000'000;

// Nanoseconds from a double count, saturated to [-kMaxOffsetNs, kMaxOffsetNs] (NaN counts as 0).
int64_t saturated_ns(double ns) {
  if (std::isnan(ns)) return 0;
  return static_cast<int64_t>(std::llround(
      std::clamp(ns, -static_cast<double>(kMaxOffsetNs), static_cast<double>(kMaxOffsetNs))));
}

// a + b for offsets, saturated like saturated_ns().
int64_t saturated_sum(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) sum = b > 0 ? INT64_MAX : INT64_MIN;
  return std::clamp<int64_t>(sum, -kMaxOffsetNs, kMaxOffsetNs);
}

nanoseconds seconds_to_ns(double seconds) { return nanoseconds(saturated_ns(seconds * 1e9)); }

// base + by, stopping at the clock's end instead of wrapping around.
TimePoint later(TimePoint base, nanoseconds by) {
  if (by.count() > 0 && base > TimePoint::max() - by) return TimePoint::max();
  return base + by;
}

}  // namespace

TimePoint SteadyClock::now() { return std::chrono::steady_clock::now(); }

bool SteadyClock::sleep_until(TimePoint when) {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC: an absolute sleep on it does not drift with the
  // time spent computing the deadline. Slept in slices so an interrupt is noticed promptly
  // (signals may be delivered to another thread and not wake this one).
  while (true) {
    if (interruptible_ && interrupt::interrupted()) return false;
    TimePoint current = now();
    if (current >= when) return true;
    TimePoint target = std::min(when, current + kInterruptCheck);
    auto ns = std::chrono::duration_cast<nanoseconds>(target.time_since_epoch()).count();
    timespec deadline{static_cast<time_t>(ns / 1'000'000'000),
                      static_cast<long>(ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) == EINTR) {
      if (interruptible_ && interrupt::interrupted()) return false;
    }
  }
}

Scheduler::Scheduler(TimingOptions options, Clock& clock) : options_(options), clock_(clock) {}

void Scheduler::restart() {
  started_ = false;
  virtual_ns_ = 0;
  latest_ns_.reset();
}

TimePoint Scheduler::schedule(std::optional<int64_t> time_ns) {
  TimePoint due;
  if (!started_) {
    started_ = true;
    t0_ = clock_.now();
    due = t0_;
    if (time_ns) latest_ns_ = time_ns;
  } else if (options_.speed <= 0) {
    due = t0_;  // no waits: always already due
  } else {
    // Virtual time (record time with capped gaps) of this record: measured from the latest
    // record time seen, so an earlier record after a later one lands at its own place on the
    // timeline (in the past: sent at once) and does not shift the records after it.
    int64_t offset_ns = virtual_ns_;
    if (time_ns && latest_ns_) {
      int64_t gap = 0;
      if (__builtin_sub_overflow(*time_ns, *latest_ns_, &gap))
        gap = *time_ns > 0 ? INT64_MAX : INT64_MIN;
      if (gap > 0) {
        if (options_.max_gap) {
          gap = std::min(gap, saturated_ns(*options_.max_gap * options_.speed * 1e9));
        }
        virtual_ns_ = saturated_sum(virtual_ns_, gap);
        latest_ns_ = time_ns;
        offset_ns = virtual_ns_;
      } else {
        offset_ns = saturated_sum(virtual_ns_, gap);
      }
    } else if (time_ns) {
      latest_ns_ = time_ns;  // the first record with a time: the timeline starts here
    }
    due = later(t0_, nanoseconds(saturated_ns(static_cast<double>(offset_ns) / options_.speed)));
  }

  if (options_.rate && last_due_) {
    // At least 1/rate after the previous send's slot; after a stall longer than one interval the
    // slot restarts from the actual send, so a cap is never exceeded by more than one message.
    nanoseconds interval = seconds_to_ns(1.0 / *options_.rate);
    TimePoint slot = *last_due_;
    if (last_sent_ && *last_sent_ - interval > slot) slot = *last_sent_ - interval;
    due = std::max(due, later(slot, interval));
  }
  last_due_ = due;
  return due;
}

void Scheduler::sent(TimePoint when) { last_sent_ = when; }

}  // namespace dtbus::replay
