// SPDX-License-Identifier: Apache-2.0
// `dtbus dlq`: capture dead letters in a durable session, keep them in the spool, list, recover
// and purge them (SPEC §4 `dtbus dlq`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/dlq/filter.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::dlq {

struct ListOptions {
  dtbus::dlq::FilterOptions filters;
  bool all = false;
  bool no_pull = false;
};

struct RecoverOptions {
  dtbus::dlq::FilterOptions filters;
  bool dry_run = false;
  std::optional<double> rate;
  std::optional<size_t> limit;
  std::string to_topic;
  int max_replays = 3;
  double timeout = 60.0;
  bool no_pull = false;
};

struct PurgeOptions {
  dtbus::dlq::FilterOptions filters;
  bool yes = false;
  bool no_pull = false;
};

struct Options {
  enum class Action { attach, list, recover, purge } action = Action::list;
  ListOptions list;
  RecoverOptions recover;
  PurgeOptions purge;
};

// Runs the chosen subcommand; returns the exit status.
int run(const Invocation& invocation, const Options& options);

// The subcommands run() calls. Each returns the exit status; `format` is "text" or "json".
int attach(const GlobalOptions& globals, const std::string& format);
int list(const GlobalOptions& globals, const ListOptions& options, const std::string& format);
int recover(const GlobalOptions& globals, const RecoverOptions& options, const std::string& format);
int purge(const GlobalOptions& globals, const PurgeOptions& options, const std::string& format);

}  // namespace dtbus::commands::dlq

DTBUS_PUBLIC_END
