// SPDX-License-Identifier: Apache-2.0
// `dtbus rr` (issue 14): publish one request and print the response(s), as mosquitto_rr does.
// MQTT 5: the request carries the response topic and correlation data; under -V 311 the
// responder must know the response topic by convention. Either way the response topic is
// subscribed before the request is published, so a fast responder cannot be missed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/commands/message_format.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::rr {

inline constexpr double kDefaultWaitSeconds = 30.0;

struct Options {
  std::string request_topic;                    // -t
  std::string response_topic;                   // -e
  std::optional<std::string> message;           // -m
  std::optional<std::string> file;              // -f (whole file as the payload)
  bool null_message = false;                    // -n: empty payload
  int qos = 0;                                  // -q: of the request and the subscription
  uint64_t count = 1;                           // -C: responses to wait for
  double wait_s = kDefaultWaitSeconds;          // -W
  std::optional<std::string> correlation_data;  // default: random, unique per run
  MessageFormatOptions format;                  // -F, --pretty
};

// Exit 0 after `count` responses; Error(timeout) (exit 6) when -W passes first.
int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::rr

DTBUS_PUBLIC_END
