// SPDX-License-Identifier: Apache-2.0
// `dtbus bench`: N publishers and M subscribers in one process measure a broker's throughput,
// end-to-end and publish-to-ack latency, and prove its delivery (lost, duplicated, reordered).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::bench {

inline constexpr double kDefaultDuration = 10.0;
inline constexpr uint64_t kDefaultSize = 64;

struct Options {
  int publishers = 1;
  int subscribers = 1;
  int qos = 0;
  std::optional<uint64_t> size;      // payload bytes, header included (default kDefaultSize)
  std::string payload_file;          // template: the header, then the file's bytes
  std::optional<uint64_t> count;     // messages per publisher
  std::optional<double> duration_s;  // publishing time (default kDefaultDuration without count)
  std::optional<double> rate;        // messages/s per publisher
  std::optional<double> rate_total;  // messages/s over all publishers
  bool closed_loop = false;          // next message once the previous one is acknowledged
  std::optional<int> inflight;       // unacknowledged messages per publisher, at most
  std::string topic;                 // pattern with %i and %n; default dtbus/bench/<run>/%i
  std::string filter;                // subscription; default from the pattern
  double drain_s = 2.0;              // wait for stragglers this long without progress
  std::string compare_file;          // --compare PREVIOUS.json
  std::string max_regression = "10%";
  bool progress = true;  // the live line on stderr (only ever on a terminal)
};

int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::bench

DTBUS_PUBLIC_END
