// SPDX-License-Identifier: Apache-2.0
// dtbus replay: put recorded messages back on the bus, with their original timing or faster.
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/replay/replay_command.hpp"

int dtbus::tools::replay_main(int argc, char** argv) {
  dtbus::cli::Command command("replay");
  CLI::App& app = command.app();
  dtbus::commands::replay::Options options;
  auto& timing = options.timing;

  app.add_option("files", options.inputs,
                 "Recordings in the `sub -o json` shape; '-' or none = stdin")
      ->type_name("FILE");
  app.add_option("--speed", timing.speed,
                 "Time factor: 1 = original gaps, 10 = ten times faster, 0 = no waits")
      ->default_val(1.0)
      ->type_name("X");
  app.add_option("--rate", timing.rate, "Cap on messages per second")->type_name("N");
  app.add_option("--max-gap", timing.max_gap, "Cap on any single wait, in seconds")->type_name("S");
  app.add_option("--time-field", options.time_field,
                 "Time of a record without received_at: this dotted path into the payload "
                 "(e.g. timestamp), before created_at, timestamp, ts")
      ->type_name("PATH");
  app.add_option("--since", options.since, "Only records at or after TIME (RFC 3339 or epoch)")
      ->type_name("TIME");
  app.add_option("--until", options.until, "Only records before TIME (exclusive)")
      ->type_name("TIME");
  // Repeatable options take one value each, so `--topic a/# rec.jsonl` leaves the file alone.
  app.add_option("--topic", options.topics, "Only records whose topic matches FILTER (+, #)")
      ->allow_extra_args(false)
      ->type_name("FILTER");
  app.add_option("--kind", options.kinds, "Only payloads whose kind or @type is K")
      ->allow_extra_args(false)
      ->type_name("K");
  app.add_option("--where", options.wheres, "Only payloads where the dotted PATH equals VALUE")
      ->allow_extra_args(false)
      ->type_name("PATH=VALUE");
  app.add_option("--topic-map", options.topic_maps,
                 "Rewrite a topic prefix FROM to TO (first match wins)")
      ->allow_extra_args(false)
      ->type_name("FROM=TO");
  app.add_option("--qos", options.qos, "Publish at QoS Q (else the record's, else 1)")
      ->check(CLI::Range(0, 2))
      ->type_name("Q");
  app.add_option("--retain", options.retain,
                 "keep the recorded retain flags, or strip them (default: never overwrite "
                 "retained state)")
      ->check(CLI::IsMember({"keep", "strip"}))
      ->type_name("keep|strip");
  app.add_option("--loop", options.loops, "Play the input N times (0 = until interrupted)")
      ->type_name("N");
  app.add_flag("--dry-run", options.dry_run,
               "Print what would be sent (counts per topic, time span); connect to nothing");
  auto* progress = app.add_flag_function(
      "--progress", [&](std::int64_t) { options.progress = true; },
      "Show the progress bar even when stderr is not a terminal");
  app.add_flag_function(
         "--no-progress", [&](std::int64_t) { options.progress = false; },
         "Never show the progress bar")
      ->excludes(progress);
  app.add_option("--on-invalid", options.on_invalid,
                 "A bad line: fail (exit 2 after sending the lines before it) or skip it")
      ->check(CLI::IsMember({"fail", "skip"}))
      ->type_name("fail|skip");
  app.add_option("--failed-out", options.failed_out,
                 "Write unacknowledged messages here (default ./dtbus-replay-failed-<pid>.jsonl)")
      ->type_name("FILE");
  app.add_option("--timeout", options.timeout,
                 "Give up after S seconds without an acknowledgement (exit 7)")
      ->default_val(60.0)
      ->type_name("S");

  return command.run(argc, argv,
                     [&] { return dtbus::commands::replay::run(command.invocation(), options); });
}
