// SPDX-License-Identifier: Apache-2.0
// dtbus dlq: capture, inspect and recover dead-lettered events (SPEC §4 `dtbus dlq`).
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/dlq/dlq_command.hpp"

namespace {

void add_filters(CLI::App* app, dtbus::dlq::FilterOptions& f, bool with_ids) {
  const char* group = "Filters";
  app->add_option("--topic", f.topic, "Only entries whose original_topic matches this MQTT filter")
      ->type_name("FILTER")
      ->group(group);
  app->add_option("--reason", f.reason,
                  "Only entries whose failure_reason matches this regex (ECMAScript)")
      ->type_name("REGEX")
      ->group(group);
  app->add_option("--since", f.since, "Failed at or after TIME: RFC 3339 or an age (30m, 2h, 1d)")
      ->type_name("TIME")
      ->group(group);
  app->add_option("--until", f.until, "Failed before TIME: RFC 3339 or an age (30m, 2h, 1d)")
      ->type_name("TIME")
      ->group(group);
  if (with_ids) {
    app->add_option("--id", f.ids, "Only this entry (repeatable; a unique prefix is enough)")
        ->type_name("ID")
        ->group(group);
  }
}

}  // namespace

int dtbus::tools::dlq_main(int argc, char** argv) {
  dtbus::cli::Command command("dlq");
  CLI::App& app = command.app();
  app.require_subcommand(1);

  app.add_subcommand("attach",
                     "Create the durable DLQ subscription (idempotent) and pull what is queued");

  dtbus::commands::dlq::Options options;
  auto& list_options = options.list;
  auto* list = app.add_subcommand("list", "Pull from the broker, then show pending dead letters");
  add_filters(list, list_options.filters, true);
  list->add_flag("--all", list_options.all, "Show every entry: pending, recovered and purged");
  list->add_flag("--no-pull", list_options.no_pull,
                 "Only read the spool; do not contact the broker");

  auto& recover_options = options.recover;
  auto* recover =
      app.add_subcommand("recover", "Republish pending dead letters to their original topic");
  add_filters(recover, recover_options.filters, true);
  recover->add_flag("--dry-run", recover_options.dry_run,
                    "Show what would be sent where; publish nothing");
  recover->add_option("--rate", recover_options.rate, "At most N messages per second")
      ->type_name("N");
  recover->add_option("--limit", recover_options.limit, "Recover at most N entries")
      ->type_name("N");
  recover
      ->add_option("--to-topic", recover_options.to_topic,
                   "Send every payload to this retry topic instead")
      ->type_name("TOPIC");
  recover
      ->add_option("--max-replays", recover_options.max_replays,
                   "Skip entries already replayed N times (default 3)")
      ->type_name("N");
  recover
      ->add_option("--timeout", recover_options.timeout,
                   "Give up after S seconds without an acknowledgement (default 60)")
      ->type_name("S")
      ->check(CLI::PositiveNumber);
  recover->add_flag("--no-pull", recover_options.no_pull, "Do not pull from the broker first");

  auto& purge_options = options.purge;
  auto* purge = app.add_subcommand("purge", "Drop pending dead letters for good (needs --yes)");
  add_filters(purge, purge_options.filters, true);
  purge->add_flag("--yes", purge_options.yes, "Confirm the purge");
  purge->add_flag("--no-pull", purge_options.no_pull, "Do not pull from the broker first");

  // Global options are accepted after the subcommand too.
  for (auto* sub : app.get_subcommands({})) sub->fallthrough();

  return command.run(argc, argv, [&] {
    using Action = dtbus::commands::dlq::Options::Action;
    options.action = app.got_subcommand("attach")    ? Action::attach
                     : app.got_subcommand("list")    ? Action::list
                     : app.got_subcommand("recover") ? Action::recover
                                                     : Action::purge;
    return dtbus::commands::dlq::run(command.invocation(), options);
  });
}
