// SPDX-License-Identifier: Apache-2.0
// dtbus pub: publish messages (SPEC §4).
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/pub/pub_command.hpp"

int dtbus::tools::pub_main(int argc, char** argv) {
  dtbus::cli::Command command("pub");
  CLI::App& app = command.app();
  // -q is the QoS here (as in mosquitto_pub/sub); quiet stays available as --quiet.
  app.remove_option(app.get_option("--quiet"));
  app.add_flag("--quiet", command.globals().quiet, "Only errors on stderr")
      ->group("Global options");
  dtbus::commands::pub::Options o;
  app.add_option("-t,--topic", o.topic,
                 "Topic (the broker's topic_prefix is prepended); optional with --jsonl")
      ->type_name("TOPIC");
  auto* input = app.add_option_group("Input", "What to publish (exactly one)");
  input->add_option("-m,--message", o.message, "Publish MSG as one message")->type_name("MSG");
  input->add_option("-f,--file", o.file, "Publish the whole file as one message")
      ->type_name("FILE");
  input->add_flag("-s,--stdin", o.stdin_all, "Publish all of stdin as one message");
  input->add_flag("-l,--stdin-lines", o.stdin_lines,
                  "Publish each stdin line as one message (empty lines skipped)");
  input->add_flag(
      "--jsonl", o.jsonl,
      "Each stdin line is a record in the `sub -o json` shape, published to its own topic");
  app.add_option("-q,--qos", o.qos, "QoS 0, 1 or 2 (default 0; --jsonl: each record's qos)")
      ->type_name("0|1|2")
      ->check(CLI::Range(0, 2));
  app.add_flag("-r,--retain", o.retain, "Retain the message(s)");
  app.add_option("-x,--property", o.user_properties, "MQTT 5 user property (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--content-type", o.content_type, "MQTT 5 content type")->type_name("CT");
  app.add_option("--expiry", o.expiry, "MQTT 5 message expiry in seconds")->type_name("S");
  app.add_option("--repeat", o.repeat, "Publish the message N times (-m, -f, -s)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", o.rate, "At most N messages per second")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--envelope", o.envelope,
                 "Wrap JSON payloads: none, dt or tracker (default: the broker's envelope)")
      ->type_name("none|dt|tracker")
      ->check(CLI::IsMember({"none", "dt", "tracker"}));
  app.add_option("--kind", o.kind, "Event kind of the tracker envelope")->type_name("K");
  app.add_option("--type", o.type, "Event @type of the dt envelope")->type_name("T");
  app.add_option("--trace-id", o.trace_id,
                 "trace_id of the tracker envelope (default: a new UUID v4)")
      ->type_name("ID");
  app.add_option("--correlation-id", o.correlation_id, "correlation_id of the dt envelope")
      ->type_name("ID");
  app.add_option("--on-invalid", o.on_invalid,
                 "Invalid JSON where JSON is required: fail (exit 2 naming the line) or skip "
                 "(report, go on)")
      ->type_name("fail|skip")
      ->check(CLI::IsMember({"fail", "skip"}));
  app.add_option("--failed-out", o.failed_out,
                 "Where messages not delivered go, as --jsonl records, mode 0600; created "
                 "before publishing (default ./dtbus-pub-failed-<pid>.jsonl)")
      ->type_name("FILE");
  app.add_option("--timeout", o.timeout,
                 "Give up after S seconds without acknowledgement progress (exit 7)")
      ->type_name("S")
      ->check(CLI::PositiveNumber);
  app.add_option("--window", o.window,
                 "QoS 1/2 messages in flight before waiting for acknowledgements (default " +
                     std::to_string(dtbus::delivery::kDefaultWindow) + ")")
      ->type_name("N")
      ->check(CLI::Range(1, 16384));
  app.add_flag("--topic-alias", o.topic_alias,
               "MQTT 5: send a topic once, then only its alias (QoS 0 streams: -l, --jsonl, "
               "--repeat), when the broker allows aliases");
  return command.run(argc, argv,
                     [&] { return dtbus::commands::pub::run(command.invocation(), o); });
}
