// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/error.hpp"

#include <cstdio>

#include "dtbus/util/terminal.hpp"

namespace dtbus {

const std::vector<ExitCodeMeaning>& exit_code_meanings() {
  static const std::vector<ExitCodeMeaning> meanings = {
      {ExitCode::ok, "ok", "Success."},
      {ExitCode::runtime, "runtime", "Runtime error not covered below."},
      {ExitCode::usage, "usage", "Usage error: bad flag, missing argument, invalid topic."},
      {ExitCode::config, "config", "Config error: file, YAML, env expansion, schema."},
      {ExitCode::connect, "connect",
       "Cannot connect: DNS, refused, TLS handshake, connect timeout."},
      {ExitCode::auth, "auth",
       "Authentication or authorization refused (CONNACK, token endpoint 4xx)."},
      {ExitCode::timeout, "timeout", "Timeout waiting for messages (sub -W)."},
      {ExitCode::incomplete, "incomplete delivery",
       "Incomplete delivery: some QoS 1/2 messages were not acknowledged."},
      {ExitCode::interrupted, "interrupted", "Interrupted by SIGINT while work was pending."},
  };
  return meanings;
}

void print_error(const std::string& command, const std::string& message) {
  std::string line = (command.empty() ? std::string("dtbus: ") : "dtbus " + command + ": ") +
                     util::paint("error", util::Color::red, util::use_color(stderr, false)) + ": " +
                     message + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace dtbus
