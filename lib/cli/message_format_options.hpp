// SPDX-License-Identifier: Apache-2.0
// The output flags of the commands that print received messages (sub, rr): one definition, so
// their spelling, help text and behaviour stay the same.
#pragma once

#include <CLI/CLI.hpp>

#include "dtbus/commands/message_format.hpp"

namespace dtbus::cli {

// -F,--format TEMPLATE and --pretty (rendered by commands::MessageWriter).
void add_message_format_options(CLI::App& app, commands::MessageFormatOptions& options);

}  // namespace dtbus::cli
