// SPDX-License-Identifier: Apache-2.0
#include <nlohmann/json.hpp>

#include "dtbus/commands/dlq/dlq_command.hpp"
#include "dtbus/dlq/session.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"

namespace dtbus::commands::dlq {

using namespace dtbus::dlq;

int attach(const GlobalOptions& globals, const std::string& format) {
  Setup setup = resolve_setup(globals);
  auto open = detail::open_spool(setup, false);
  Spool& spool = *open.spool;
  auto report = detail::pull(setup, spool, true);
  spool.compact();
  if (format == "json") {
    nlohmann::json out = {{"client_id", setup.client_id},
                          {"filter", setup.filter},
                          {"broker", setup.target.connection.describe()},
                          {"session_present", report.session_present},
                          {"pulled", report.spooled},
                          {"spool", spool.path()}};
    util::write_stdout(util::to_json_line(out) + "\n");
  } else {
    util::write_stdout("attached session '" + setup.client_id + "' to '" + setup.filter + "' on " +
                       setup.target.connection.describe() + " (" +
                       (report.session_present ? "existing session" : "new session") + "); " +
                       std::to_string(report.spooled) + " new dead letter(s) in " + spool.path() +
                       "\n");
  }
  return 0;
}

}  // namespace dtbus::commands::dlq
