// SPDX-License-Identifier: Apache-2.0
// dtbus token: print an OAuth2 access token of a token provider.
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/token/token_command.hpp"

int dtbus::tools::token_main(int argc, char** argv) {
  dtbus::cli::Command command("token");
  CLI::App& app = command.app();
  dtbus::commands::token::Options options;
  auto* provider =
      app.add_option(
             "--provider", options.provider,
             "Token provider in the config (default: the broker's token_provider, else OIDC_* env)")
          ->type_name("NAME");
  provider->excludes(app.get_option("--broker"));
  app.add_flag("--decode", options.decode,
               "Print the JWT header and claims (signature not verified)");
  auto* no_cache =
      app.add_flag("--no-cache", options.no_cache, "Neither read nor write the token cache");
  app.add_flag("--refresh", options.refresh,
               "Fetch a new token even if the cached one is still valid")
      ->excludes(no_cache);
  return command.run(argc, argv,
                     [&] { return dtbus::commands::token::run(command.invocation(), options); });
}
