// SPDX-License-Identifier: Apache-2.0
// dtbus config: validate, show and locate brokers.yaml.
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/config/config_command.hpp"

int dtbus::tools::config_main(int argc, char** argv) {
  dtbus::cli::Command command("config");
  CLI::App& app = command.app();
  app.require_subcommand(1);

  dtbus::commands::config::Options options;
  auto& test_options = options.test;
  auto* test =
      app.add_subcommand("test", "Validate the config; with --connect also reach each broker");
  test->add_flag("--all", test_options.all,
                 "Connect to every enabled broker, not only the default");
  test->add_flag("--connect", test_options.connect,
                 "Connect and report latency (exit 4/5 on failure)");
  test->add_flag("--strict", test_options.strict, "Treat warnings as errors");
  app.add_subcommand("show", "Print the effective config, secrets shown as ***");
  app.add_subcommand("path", "Print which config file would be used, and why");
  for (auto* sub : app.get_subcommands({})) sub->fallthrough();

  return command.run(argc, argv, [&] {
    using Action = dtbus::commands::config::Options::Action;
    options.action = app.got_subcommand("test")   ? Action::test
                     : app.got_subcommand("show") ? Action::show
                                                  : Action::path;
    // Each subcommand has its own default format: run() picks it when -o is not given.
    return dtbus::commands::config::run({command.globals(), command.globals().output}, options);
  });
}
