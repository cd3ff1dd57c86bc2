// SPDX-License-Identifier: Apache-2.0
// `dtbus pub` (SPEC §4): publish one message, a file, stdin, stdin lines or JSON Lines records.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/delivery/publisher.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::pub {

struct Options {
  std::string topic;                   // -t; optional with --jsonl (then every record goes there)
  std::optional<std::string> message;  // -m
  std::optional<std::string> file;     // -f
  bool stdin_all = false;              // -s
  bool stdin_lines = false;            // -l
  bool jsonl = false;                  // --jsonl
  std::optional<int> qos;              // -q (--jsonl: else each record's qos)
  bool retain = false;                 // -r (--jsonl: else each record's retain)
  std::vector<std::string> user_properties;  // -x KEY=VALUE
  std::string content_type;
  std::optional<uint32_t> expiry;
  uint64_t repeat = 1;
  std::optional<double> rate;
  std::optional<std::string> envelope;  // none|dt|tracker; default the broker's (none for --jsonl)
  std::string kind;
  std::string type;
  std::string trace_id;
  std::string correlation_id;
  std::string on_invalid = "fail";  // fail|skip
  std::string failed_out;
  double timeout = 60;
  size_t window = delivery::kDefaultWindow;
  bool topic_alias = false;  // MQTT 5 topic aliases for QoS 0 streams (mqtt/topic_alias.hpp)
};

// Runs the command; returns the exit status (throws dtbus::Error for failures).
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::pub

DTBUS_PUBLIC_END
