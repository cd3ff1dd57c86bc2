// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/token/token_command.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "dtbus/auth/jwt.hpp"
#include "dtbus/auth/token.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/text.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::token {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

std::string utc_text(Clock::time_point t) {
  std::time_t seconds = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::optional<Selection> from_broker(const config::Config& cfg, const std::string& name,
                                     bool required) {
  auto broker = cfg.brokers.find(name);
  if (broker == cfg.brokers.end()) {
    if (!required) return std::nullopt;
    auto guess = util::closest_match(name, cfg.broker_order);
    throw Error(ExitCode::config, "no broker named '" + name + "' in " + cfg.file +
                                      (guess ? " (did you mean '" + *guess + "'?)" : ""));
  }
  if (broker->second.token_provider.empty()) {
    if (!required) return std::nullopt;
    throw Error(ExitCode::config, "broker '" + name + "' has no token_provider in " + cfg.file);
  }
  auto provider = cfg.token_providers.find(broker->second.token_provider);
  if (provider == cfg.token_providers.end()) {
    throw Error(ExitCode::config, "broker '" + name + "': token provider '" +
                                      broker->second.token_provider + "' is not defined in " +
                                      cfg.file);
  }
  return Selection{provider->second, broker->second.token_refresh_margin};
}

Selection from_env(const config::EnvLookup& env) {
  auto value = [&](const char* name) { return env(name).value_or(""); };
  Selection selection;
  auto& p = selection.provider;
  p.name = "OIDC_BASE_URL";
  p.base_url = value("OIDC_BASE_URL");
  p.client_id = value("OIDC_CLIENT_ID");
  p.client_secret = value("OIDC_CLIENT_SECRET");
  if (auto scope = env("OIDC_SCOPE")) p.scope = *scope;
  if (p.base_url.empty() || p.client_id.empty()) {
    throw Error(
        ExitCode::config,
        "no token provider: use --provider NAME, a broker with a token_provider (-b), or set "
        "OIDC_BASE_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET");
  }
  return selection;
}

void print_decoded(const dtbus::token::Token& token, const std::string& format) {
  jwt::Decoded decoded = jwt::decode(token.access_token);
  spdlog::warn("the JWT signature is not verified (decoded only)");
  json doc = {{"header", decoded.header}, {"claims", decoded.claims}};
  if (format == "json") {
    util::write_stdout(util::to_json_line(doc) + "\n");
    return;
  }
  std::string text = util::to_pretty_json(doc) + "\n";
  if (auto exp = jwt::expiry(token.access_token)) {
    text += describe_expiry(*exp, Clock::now()) + "\n";
  } else {
    text += "no exp claim\n";
  }
  util::write_stdout(text);
}

}  // namespace

std::string describe_expiry(Clock::time_point expires_at, Clock::time_point now) {
  auto left = std::chrono::duration_cast<std::chrono::seconds>(expires_at - now);
  std::string when = " (" + utc_text(expires_at) + ")";
  if (left.count() >= 0) return "expires in " + util::human_duration(left) + when;
  return "expired " + util::human_duration(-left) + " ago" + when;
}

Selection select_provider(const GlobalOptions& globals, const Options& options,
                          const config::EnvLookup& env) {
  if (options.provider) {
    config::Config cfg = target::load_config(globals, true);
    auto provider = cfg.token_providers.find(*options.provider);
    if (provider == cfg.token_providers.end()) {
      std::vector<std::string> names;
      for (const auto& entry : cfg.token_providers) names.push_back(entry.first);
      auto guess = util::closest_match(*options.provider, names);
      throw Error(ExitCode::config, "no token provider named '" + *options.provider + "' in " +
                                        cfg.file +
                                        (guess ? " (did you mean '" + *guess + "'?)" : ""));
    }
    Selection selection{provider->second, 30.0};
    // The default broker's margin applies when it uses this very provider.
    if (auto via_broker = from_broker(cfg, cfg.default_broker, false);
        via_broker && via_broker->provider.name == provider->second.name) {
      selection.margin_seconds = via_broker->margin_seconds;
    }
    return selection;
  }
  config::Config cfg = target::load_config(globals, globals.broker.has_value());
  std::string name = globals.broker.value_or(cfg.default_broker);
  if (!name.empty()) {
    if (auto selection = from_broker(cfg, name, globals.broker.has_value())) return *selection;
  }
  return from_env(env);
}

int run(const Invocation& invocation, const Options& options) {
  const GlobalOptions& globals = invocation.globals;
  const std::string& format = invocation.output;
  if (options.decode && format == "header") {
    throw Error(ExitCode::usage, "--decode prints JSON: use -o token (text) or -o json");
  }
  Selection selection = select_provider(globals, options, config::process_env());
  // SIGINT/SIGTERM while waiting for the endpoint or the cache lock: exit 130 (SPEC §2) with
  // one error line, instead of dying by the signal.
  interrupt::install();
  dtbus::token::GetOptions get_options;
  get_options.use_cache = !options.no_cache;
  get_options.refresh = options.refresh;
  get_options.margin_seconds = selection.margin_seconds;
  dtbus::token::Token token = dtbus::token::get(selection.provider, get_options);

  if (options.decode) {
    print_decoded(token, format);
  } else if (format == "json") {
    auto now = Clock::now();
    using ordered = nlohmann::ordered_json;  // keys in the SPEC's order
    ordered doc = {
        {"access_token", token.access_token},
        {"token_type", token.token_type},
        {"expires_at", token.expires_at ? ordered(utc_text(*token.expires_at)) : ordered(nullptr)},
        {"expires_in",
         token.expires_at
             ? ordered(std::max<long long>(
                   0, std::chrono::duration_cast<std::chrono::seconds>(*token.expires_at - now)
                          .count()))
             : ordered(nullptr)},
        {"scope", token.scope}};
    util::write_stdout(util::to_json_line(doc) + "\n");
  } else if (format == "header") {
    util::write_stdout("Authorization: Bearer " + token.access_token + "\n");
  } else {
    util::write_stdout(token.access_token + "\n");
  }
  return 0;
}

}  // namespace dtbus::commands::token
