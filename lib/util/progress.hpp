// SPDX-License-Identifier: Apache-2.0
// The progress bar on stderr (replay, dlq recover): count/total, rate and ETA, redrawn at most 10
// times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace dtbus::util {

class Progress {
 public:
  // Draws nothing unless `enabled`; `total` = lines to read (nullopt when unknown, e.g. stdin).
  Progress(bool enabled, std::optional<uint64_t> total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  void update(uint64_t read, uint64_t published);
  // Erases the bar (before other stderr output and at the end).
  void clear();

 private:
  void draw(uint64_t read, uint64_t published);
  bool enabled_;
  bool drawn_ = false;
  std::optional<uint64_t> total_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace dtbus::util
