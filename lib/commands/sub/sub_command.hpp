// SPDX-License-Identifier: Apache-2.0
// `dtbus sub` (SPEC §4): subscribe and print messages as text, JSON Lines, raw bytes or a template.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/commands/message_format.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::sub {

// Default cap on the bytes of received messages waiting to be written: beyond it sub stops
// reading the socket, the broker holds the rest.
inline constexpr uint64_t kDefaultMaxQueue = 64ull << 20;

struct Options {
  std::vector<std::string> filters;  // -t and positional
  std::optional<int> qos;            // default 0, 1 with --session
  // -q given once per filter (mqtt-cli style): the QoS of each filter in order; overrides qos.
  std::vector<int> qos_per_filter;
  std::optional<uint64_t> count;  // -C
  std::optional<double> wait_s;   // -W
  MessageFormatOptions format;    // -F, --pretty
  bool no_retained = false;
  bool retained_only = false;
  std::vector<std::string> where;
  std::string validate;  // "", tracker, dt
  std::string share;     // --share GROUP
  std::string session;   // --session NAME
  std::string record_file;
  bool stats = false;
  std::vector<std::string> match;  // --match GLOB: client-side fnmatch on topics (any may match)
  uint64_t max_queue = kDefaultMaxQueue;  // --max-queue: bytes waiting for stdout, at most
};

// Session expiry of a durable --session on MQTT 5.
inline constexpr uint32_t kDurableSessionExpiry = 7 * 24 * 3600;

// `output` is the -o value ("" = text on a TTY, json otherwise). Returns the exit status.
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::sub

DTBUS_PUBLIC_END
