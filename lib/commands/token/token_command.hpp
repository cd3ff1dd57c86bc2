// SPDX-License-Identifier: Apache-2.0
// `dtbus token` (SPEC §4): print, decode or refresh the access token of a token provider.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "dtbus/commands/invocation.hpp"
#include "dtbus/config/config.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::commands::token {

struct Options {
  std::optional<std::string> provider;  // --provider NAME
  bool decode = false;                  // --decode
  bool no_cache = false;                // --no-cache
  bool refresh = false;                 // --refresh
};

// Prints in `format` (token | json | header) and returns the exit status.
int run(const Invocation& invocation, const Options& options);

// Which provider and refresh margin: --provider, else the broker's token_provider (-b or
// default_broker), else OIDC_BASE_URL / OIDC_CLIENT_ID / OIDC_CLIENT_SECRET / OIDC_SCOPE.
struct Selection {
  config::TokenProviderSettings provider;
  double margin_seconds = 30.0;
};
Selection select_provider(const GlobalOptions& globals, const Options& options,
                          const config::EnvLookup& env);

// "4m 12s", "1h 0m 5s", "2d 3h": for expiry messages.
// "expires in 4m 12s (2026-11-23T10:00:00Z)" / "expired 3s ago (...)".
std::string describe_expiry(std::chrono::system_clock::time_point expires_at,
                            std::chrono::system_clock::time_point now);

}  // namespace dtbus::commands::token

DTBUS_PUBLIC_END
