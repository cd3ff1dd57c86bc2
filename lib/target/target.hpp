// SPDX-License-Identifier: Apache-2.0
// Which broker a command talks to and how: config entry + command-line overrides (SPEC §1, §3).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "dtbus/config/config.hpp"
#include "dtbus/core/global_options.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::target {

struct Target {
  config::Config config;                         // empty when no file
  std::optional<config::BrokerSettings> broker;  // the chosen entry
  mqtt::ConnectionSettings connection;
};

// Loads the config (lookup order of SPEC §1; none found is fine when flags give a host or the
// default localhost:1883 applies), picks -b or default_broker, applies the flags. Config errors
// throw Error(config) listing every diagnostic; warnings are logged.
Target resolve(const GlobalOptions& options, const std::string& command);
// The same with a config already loaded (and its diagnostics already shown).
Target resolve(const GlobalOptions& options, const std::string& command, config::Config loaded);

// Just the config part of resolve(), for commands that need no connection.
config::Config load_config(const GlobalOptions& options, bool required);

}  // namespace dtbus::target

DTBUS_PUBLIC_END
