// SPDX-License-Identifier: Apache-2.0
// dtbus sub: subscribe and print messages (SPEC §4).
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/cli/message_format_options.hpp"
#include "dtbus/commands/sub/sub_command.hpp"

int dtbus::tools::sub_main(int argc, char** argv) {
  dtbus::cli::Command command("sub");
  CLI::App& app = command.app();
  // -q is the QoS here (as in mosquitto_pub/sub); quiet stays available as --quiet.
  app.remove_option(app.get_option("--quiet"));
  app.add_flag("--quiet", command.globals().quiet, "Only errors on stderr")
      ->group("Global options");
  dtbus::commands::sub::Options o;
  app.add_option("-t,--topic", o.filters, "Topic filter, MQTT wildcards + and # (repeatable)")
      ->type_name("FILTER");
  // Own vector: CLI11 would let the positional values replace the -t values in a shared one.
  std::vector<std::string> positional_filters;
  app.add_option("filters", positional_filters, "More topic filters")->type_name("FILTER");
  std::vector<int> qos_values;
  app.add_option("-q,--qos", qos_values,
                 "Subscription QoS (default 0; 1 with --session); once per filter to pair them in "
                 "order: -t a/# -q 1 -t b -q 0")
      ->type_name("0|1|2")
      ->check(CLI::Range(0, 2));
  app.add_option("-C,--count", o.count, "Exit 0 after N messages")->type_name("N");
  app.add_option("-W,--wait", o.wait_s,
                 "Stop after S seconds; exit 6 if -C was not reached or nothing arrived")
      ->type_name("S");
  dtbus::cli::add_message_format_options(app, o.format);
  auto* no_retained = app.add_flag("--no-retained", o.no_retained, "Skip retained messages");
  app.add_flag("--retained-only", o.retained_only,
               "Print retained messages, stop at the first live one")
      ->excludes(no_retained);
  app.add_option("--where", o.where,
                 "Only payloads whose dotted PATH equals VALUE (repeatable, all must match)")
      ->type_name("PATH=VALUE");
  app.add_option("--validate", o.validate,
                 "Mark (not drop) messages breaking the tracker or dt envelope rules")
      ->type_name("tracker|dt")
      ->check(CLI::IsMember({"tracker", "dt"}));
  app.add_option("--share", o.share, "Shared subscription: $share/GROUP/<filter>")
      ->type_name("GROUP");
  app.add_option(
         "--session", o.session,
         "Durable session NAME (client id): QoS>=1 messages published while away arrive on return")
      ->type_name("NAME");
  app.add_option("--record", o.record_file,
                 "Append every message in the json shape, flushed per message")
      ->type_name("FILE");
  app.add_flag("--stats", o.stats, "Print messages, rate and bytes on stderr at exit");
  app.add_option("--match", o.match,
                 "Only topics matching the glob (fnmatch: * ? [..], * spans '/'; repeatable, any "
                 "may match); client-side, after the MQTT filters")
      ->type_name("GLOB");
  app.add_option(
         "--max-queue", o.max_queue,
         "Bytes of received messages waiting for stdout at most (K, M, G suffixes = KiB, "
         "MiB, GiB; default 64M); beyond it sub stops reading and the broker holds the rest")
      ->transform(CLI::AsSizeValue(false).description(""))
      ->type_name("SIZE");
  return command.run(argc, argv, [&] {
    o.filters.insert(o.filters.end(), positional_filters.begin(), positional_filters.end());
    if (qos_values.size() == 1) o.qos = qos_values.front();
    if (qos_values.size() > 1) o.qos_per_filter = qos_values;
    // -o as given: without it sub prints text on a terminal and JSON Lines elsewhere.
    return dtbus::commands::sub::run({command.globals(), command.globals().output}, o);
  });
}
