// SPDX-License-Identifier: Apache-2.0
// dtbus rr: publish a request, print the response(s) (issue 14; mosquitto_rr style).
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/cli/message_format_options.hpp"
#include "dtbus/commands/rr/rr_command.hpp"

int dtbus::tools::rr_main(int argc, char** argv) {
  dtbus::cli::Command command("rr");
  CLI::App& app = command.app();
  // -q is the QoS here (as in mosquitto_rr); quiet stays available as --quiet.
  app.remove_option(app.get_option("--quiet"));
  app.add_flag("--quiet", command.globals().quiet, "Only errors on stderr")
      ->group("Global options");
  dtbus::commands::rr::Options o;
  app.add_option("-t,--topic", o.request_topic, "Request topic")->type_name("TOPIC")->required();
  app.add_option("-e,--response-topic", o.response_topic,
                 "Response topic: subscribed before the request is sent (MQTT 5: also sent "
                 "with the request)")
      ->type_name("TOPIC")
      ->required();
  auto* input = app.add_option_group("Request", "The request payload (exactly one)");
  input->add_option("-m,--message", o.message, "Request payload")->type_name("MSG");
  input->add_option("-f,--file", o.file, "The whole file as the request payload")
      ->type_name("FILE");
  input->add_flag("-n,--null-message", o.null_message, "Empty request payload");
  input->require_option(1);
  app.add_option("-q,--qos", o.qos, "QoS of the request and the response subscription (default 0)")
      ->type_name("0|1|2")
      ->check(CLI::Range(0, 2));
  app.add_option("-C,--count", o.count, "Exit 0 after N responses (default 1)")->type_name("N");
  app.add_option("-W,--wait", o.wait_s,
                 "Wait at most S seconds for them; exit 6 after (default 30)")
      ->type_name("S");
  app.add_option("--correlation-data", o.correlation_data,
                 "MQTT 5 correlation data of the request (default random); responses carrying "
                 "other correlation data are ignored")
      ->type_name("DATA");
  dtbus::cli::add_message_format_options(app, o.format);
  return command.run(argc, argv, [&] {
    // -o as given: without it rr prints text on a terminal and JSON Lines elsewhere.
    return dtbus::commands::rr::run({command.globals(), command.globals().output}, o);
  });
}
