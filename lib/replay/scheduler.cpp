// SPDX-License-Identifier: Apache-2.0
// Send-time scheduling against the first record, and the monotonic clock it runs on.
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "dtbus/replay/replay.hpp"
#include "dtbus/util/interrupt.hpp"

namespace dtbus::replay {
namespace {

using std::chrono::nanoseconds;

constexpr auto kInterruptCheck = std::chrono::milliseconds(50);

nanoseconds seconds_to_ns(double seconds) {
  return nanoseconds(static_cast<int64_t>(std::llround(seconds * 1e9)));
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
  previous_ns_.reset();
}

TimePoint Scheduler::schedule(std::optional<int64_t> time_ns) {
  TimePoint due;
  if (!started_) {
    started_ = true;
    t0_ = clock_.now();
    due = t0_;
  } else if (options_.speed <= 0) {
    due = t0_;  // no waits: always already due
  } else {
    int64_t gap = previous_ns_ && time_ns ? std::max<int64_t>(0, *time_ns - *previous_ns_) : 0;
    if (options_.max_gap) {
      gap = std::min<int64_t>(gap, std::llround(*options_.max_gap * options_.speed * 1e9));
    }
    virtual_ns_ += gap;
    due = t0_ + nanoseconds(std::llround(static_cast<double>(virtual_ns_) / options_.speed));
  }
  if (time_ns) previous_ns_ = time_ns;

  if (options_.rate && last_due_) {
    // At least 1/rate after the previous send's slot; after a stall longer than one interval the
    // slot restarts from the actual send, so a cap is never exceeded by more than one message.
    nanoseconds interval = seconds_to_ns(1.0 / *options_.rate);
    TimePoint slot = *last_due_;
    if (last_sent_ && *last_sent_ - interval > slot) slot = *last_sent_ - interval;
    due = std::max(due, slot + interval);
  }
  last_due_ = due;
  return due;
}

void Scheduler::sent(TimePoint when) { last_sent_ = when; }

}  // namespace dtbus::replay
