// `dtbus dlq`: capture dead letters in a durable session, keep them in the spool, list, recover
// and purge them (SPEC §4 `dtbus dlq`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "dtbus/core/global_options.hpp"
#include "dtbus/dlq/filter.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::dlq {

struct ListOptions {
  FilterOptions filters;
  bool all = false;
  bool no_pull = false;
};

struct RecoverOptions {
  FilterOptions filters;
  bool dry_run = false;
  std::optional<double> rate;
  std::optional<size_t> limit;
  std::string to_topic;
  int max_replays = 3;
  double timeout = 60.0;
  bool no_pull = false;
};

struct PurgeOptions {
  FilterOptions filters;
  bool yes = false;
  bool no_pull = false;
};

// Each returns the exit status; `format` is "text" or "json".
int attach(const GlobalOptions& globals, const std::string& format);
int list(const GlobalOptions& globals, const ListOptions& options, const std::string& format);
int recover(const GlobalOptions& globals, const RecoverOptions& options, const std::string& format);
int purge(const GlobalOptions& globals, const PurgeOptions& options, const std::string& format);

}  // namespace dtbus::dlq

DTBUS_PUBLIC_END
