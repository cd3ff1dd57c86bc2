// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::util {

Progress::Progress(bool enabled, std::optional<uint64_t> total)
    : enabled_(enabled), total_(total), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { clear(); }

void Progress::update(uint64_t read, uint64_t published) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(read, published);
}

void Progress::draw(uint64_t read, uint64_t published) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Rates need a little history to mean anything; until then they are shown as unknown.
  bool settled = elapsed >= 0.5;
  double read_rate = settled ? static_cast<double>(read) / elapsed : 0;
  double send_rate = settled ? static_cast<double>(published) / elapsed : 0;
  char counts[160];
  std::string bar;
  if (total_ && *total_ > 0) {
    double fraction = std::min(1.0, static_cast<double>(read) / static_cast<double>(*total_));
    std::string eta =
        read_rate > 0
            ? clock_duration(static_cast<double>(*total_ - std::min(read, *total_)) / read_rate)
            : "--:--";
    std::snprintf(counts, sizeof counts, " %llu/%llu %3.0f%%  %llu sent  %.0f msg/s  ETA %s",
                  static_cast<unsigned long long>(read), static_cast<unsigned long long>(*total_),
                  fraction * 100, static_cast<unsigned long long>(published), send_rate,
                  eta.c_str());
    int width = std::clamp(
        util::terminal_columns(stderr) - static_cast<int>(std::string(counts).size()) - 3, 10, 50);
    auto filled = static_cast<int>(fraction * width);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
  } else {
    std::snprintf(counts, sizeof counts, "%llu read  %llu sent  %.0f msg/s  %s elapsed",
                  static_cast<unsigned long long>(read), static_cast<unsigned long long>(published),
                  send_rate, clock_duration(elapsed).c_str());
  }
  std::string line = "\r\033[K" + bar + counts;
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace dtbus::util
