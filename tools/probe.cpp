// SPDX-License-Identifier: Apache-2.0
// dtbus probe: what a broker is and how it behaves, as a report or one JSON object.
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/probe/probe_command.hpp"

int dtbus::tools::probe_main(int argc, char** argv) {
  dtbus::cli::Command command("probe");
  CLI::App& app = command.app();
  dtbus::commands::probe::Options options;
  app.add_option("--check", options.checks, "Run only this check (repeatable)")
      ->type_name("NAME")
      ->check(CLI::IsMember(dtbus::commands::probe::check_names()));
  app.add_option("--count", options.count, "Messages per latency series, QoS 0 and 1 (default 50)")
      ->type_name("N")
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-payload-check", options.max_payload_check,
                 "Largest payload to try when bisecting the limit (default 1048576)")
      ->type_name("BYTES")
      ->check(CLI::Range(size_t{1}, size_t{256} << 20));
  app.add_option("--cert-warn-days", options.cert_warn_days,
                 "Warn when the server certificate expires within N days (default 30)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", options.timeout,
                 "Seconds to wait for each message to come back (default 5)")
      ->type_name("S")
      ->check(CLI::PositiveNumber);
  app.add_option("--topic", options.topic,
                 "Base of the unique test topics (default dtbus/probe; topic_prefix applies)")
      ->type_name("TOPIC");
  return command.run(argc, argv,
                     [&] { return dtbus::commands::probe::run(command.invocation(), options); });
}
