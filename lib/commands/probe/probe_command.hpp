// SPDX-License-Identifier: Apache-2.0
// `dtbus probe`: what a broker is (connection, TLS, CONNACK properties) and how it behaves
// (round trips, retained messages, wildcards, shared subscriptions, payload limit, protocol
// versions, $SYS, latency), as a report or one JSON object (dtbus-probe(1)).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::probe {

struct Options {
  std::vector<std::string> checks;     // --check NAME...; empty = all
  int count = 50;                      // --count: messages per latency series
  size_t max_payload_check = 1 << 20;  // --max-payload-check BYTES: cap of the bisection
  int cert_warn_days = 30;             // --cert-warn-days
  double timeout = 5.0;                // --timeout: seconds to wait for each echo
  std::string topic = "dtbus/probe";   // --topic: base of the unique test topics
};

// Every check, in the order they run (names for --check).
const std::vector<std::string>& check_names();

int run(const Invocation& invocation, const Options& options);

}  // namespace dtbus::commands::probe

DTBUS_PUBLIC_END
