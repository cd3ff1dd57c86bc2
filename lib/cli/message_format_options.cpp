// SPDX-License-Identifier: Apache-2.0
#include "dtbus/cli/message_format_options.hpp"

namespace dtbus::cli {

void add_message_format_options(CLI::App& app, commands::MessageFormatOptions& options) {
  app.add_option("-F,--format", options.format_template,
                 "One line per message from a template: {topic} {payload} {qos} {retain} {mid} "
                 "{received_at} {payload.<path>}, {{ }} for braces, \\t \\n")
      ->type_name("TEMPLATE");
  app.add_flag("--pretty", options.pretty, "Indent JSON (text and json output)");
}

}  // namespace dtbus::cli
