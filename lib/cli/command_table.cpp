// SPDX-License-Identifier: Apache-2.0
#include "dtbus/cli/command_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace dtbus::cli {

const std::vector<CommandInfo>& builtin_commands() {
  static const std::vector<CommandInfo> commands = {
      {"pub",
       "Publish messages: one, a file, stdin, stdin lines or JSON Lines records",
       {"text", "json"}},
      {"sub",
       "Subscribe and print messages as text, JSON Lines, raw bytes or a template",
       {"text", "json", "raw"}},
      {"dlq", "Capture, list, recover and purge dead-lettered events", {"text", "json"}},
      {"replay", "Publish recorded events again, at original or chosen speed", {"text", "json"}},
      {"token", "Print an OAuth2 access token from a token provider", {"token", "json", "header"}},
      {"config", "Validate, show and locate brokers.yaml", {"text", "json", "yaml"}},
      {"top", "Live full-screen view of a broker's topics: tree, rates, last payloads", {"text"}},
      {"bench", "Measure a broker's throughput, latency and delivery guarantees", {"text", "json"}},
      {"probe",
       "Probe a broker: connection, TLS, declared limits, behaviour checks and latency",
       {"text", "json"}},
      {"rr", "Publish a request and print the response(s)", {"text", "json", "raw"}},
  };
  return commands;
}

const CommandInfo& builtin_command(const std::string& name) {
  const auto& all = builtin_commands();
  auto found = std::find_if(all.begin(), all.end(), [&](const auto& c) { return c.name == name; });
  if (found == all.end()) throw std::out_of_range("'" + name + "' is not a built-in command");
  return *found;
}

}  // namespace dtbus::cli
