// SPDX-License-Identifier: Apache-2.0
// dtbus top: a live, full-screen view of a broker's topics.
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/top/top_command.hpp"

int main(int argc, char** argv) {
  dtbus::cli::Command command("top");
  CLI::App& app = command.app();
  dtbus::commands::top::Options o;
  app.add_option("-t,--topic", o.filters, "Topic filter, MQTT wildcards + and # (repeatable)")
      ->type_name("FILTER");
  // Own vector: CLI11 would let the positional values replace the -t values in a shared one.
  std::vector<std::string> positional_filters;
  app.add_option("filters", positional_filters, "More topic filters (default #)")
      ->type_name("FILTER");
  app.add_option("--history", o.history, "Messages kept per topic for the detail pane (default 10)")
      ->type_name("N");
  app.add_option("--max-topics", o.max_topics,
                 "Topics tracked at most (default 50000); messages on more are only counted")
      ->type_name("N");
  app.add_option("--validate", o.validate,
                 "Mark messages breaking the tracker or dt envelope rules in the detail pane")
      ->type_name("tracker|dt")
      ->check(CLI::IsMember({"tracker", "dt"}));
  return command.run(argc, argv, [&] {
    o.filters.insert(o.filters.end(), positional_filters.begin(), positional_filters.end());
    return dtbus::commands::top::run(command.invocation(), o);
  });
}
