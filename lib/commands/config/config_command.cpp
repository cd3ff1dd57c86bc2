// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/config/config_command.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "dtbus/config/config.hpp"
#include "dtbus/config/schema.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/mqtt/broker_info.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"

namespace dtbus::commands::config {
namespace {

// ordered: reports keep the field order of SPEC §4.
using json = nlohmann::ordered_json;

json diagnostic_json(const dtbus::config::Diagnostic& d) {
  return {
      {"path", d.path}, {"line", d.where.line}, {"column", d.where.column}, {"message", d.message}};
}

// Key order and masking come from the schema tables (config/schema.hpp).
json broker_json(const dtbus::config::BrokerSettings& b) {
  json entry = {
      {"class", b.class_name},
      {"enabled", b.enabled},
      {"config", dtbus::config::schema::shown(dtbus::config::schema::broker_config(), b)}};
  if (!b.token_provider.empty()) entry["token_provider"] = b.token_provider;
  entry["envelope"] = b.envelope;
  if (!b.source.app_key.empty() || !b.source.module.empty())
    entry["source"] = dtbus::config::schema::shown(dtbus::config::schema::source(), b.source);
  if (b.dlq) entry["dlq"] = dtbus::config::schema::shown(dtbus::config::schema::dlq(), *b.dlq);
  if (b.will) entry["will"] = dtbus::config::schema::shown(dtbus::config::schema::will(), *b.will);
  return entry;
}

struct ConnectOutcome {
  bool ok = false;
  double latency_ms = 0;
  std::string error;
  ExitCode code = ExitCode::ok;
  std::optional<std::string> host;  // the address actually used, once resolved
  int port = 0;
  json broker_info = nullptr;
};

// `broker` nullopt: the address the flags (-H/-p/--url) give, without an entry.
ConnectOutcome try_connect(const GlobalOptions& globals, const dtbus::config::Config& cfg,
                           const std::optional<std::string>& broker) {
  ConnectOutcome outcome;
  GlobalOptions options = globals;
  options.broker = broker;
  try {
    auto target = target::resolve(options, "config", cfg);
    outcome.host = target.connection.host;
    outcome.port = target.connection.port;
    mqtt::Connection connection(target.connection, {});
    connection.connect();
    outcome.latency_ms = static_cast<double>(connection.connect_latency().count()) / 1000.0;
    auto info = connection.broker_info();
    outcome.broker_info = mqtt::broker_info_json(info);
    if (info.tls) {
      outcome.broker_info["tls"] = mqtt::tls_json(*info.tls, std::chrono::system_clock::now());
    }
    connection.disconnect();
    outcome.ok = true;
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;  // the run ends, not just this broker's check
    outcome.error = e.what();
    outcome.code = e.code();
  }
  return outcome;
}

// Every TLS entry that skips certificate checks is reported (commands warn once, for the broker
// they use); --strict makes it an error like any warning.
void add_insecure_warnings(dtbus::config::LoadResult& result, bool strict) {
  using Severity = dtbus::config::Diagnostic::Severity;
  auto& all = result.diagnostics;
  for (const auto& name : result.config.broker_order) {
    const auto& b = result.config.brokers.at(name);
    if (!b.use_tls || b.verify_cert) continue;
    auto at = b.set_at.find("verify_cert");
    all.push_back({strict ? Severity::error : Severity::warning,
                   "brokers." + name + ".config.verify_cert",
                   at != b.set_at.end() ? at->second : b.location,
                   "TLS certificate verification is off: the broker's identity is not checked"});
  }
  // Keep document order (lines without a number last), as the loader does.
  auto key = [](const dtbus::config::Diagnostic& d) {
    return std::make_pair(d.where.line == 0 ? std::numeric_limits<int>::max() : d.where.line,
                          d.where.column);
  };
  std::stable_sort(all.begin(), all.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
}

}  // namespace

int test(const GlobalOptions& globals, const TestOptions& options, const std::string& format) {
  auto env = dtbus::config::process_env();
  auto lookup = dtbus::config::find_config(globals.config_file, env);
  // -H/-p/--url without -b name the broker themselves: no config file is needed (SPEC §1).
  // (-p alone does too when there is no file: it applies to localhost or MQTT_HOST.)
  bool flags_name_host =
      (globals.host || globals.url || (!lookup.path && globals.port)) && !globals.broker;
  if (!lookup.path && !(flags_name_host && options.connect)) {
    std::string searched;
    for (const auto& s : lookup.searched) searched += (searched.empty() ? "" : ", ") + s;
    throw Error(ExitCode::config, "no config file found (searched " + searched + ")");
  }
  dtbus::config::LoadOptions load_options;
  load_options.strict = options.strict;
  dtbus::config::LoadResult result;
  if (lookup.path) result = dtbus::config::load_file(*lookup.path, load_options);
  std::string file = lookup.path.value_or("(no config file)");
  const auto& cfg = result.config;
  add_insecure_warnings(result, options.strict);
  bool valid = result.ok();
  bool color = globals.color_stdout();

  // Which brokers to connect to: -b, --all, else the default (or all enabled when none).
  std::vector<std::string> selected;
  if (globals.broker) {
    if (!cfg.brokers.count(*globals.broker)) {
      throw Error(ExitCode::config, "no broker named '" + *globals.broker + "' in " + file);
    }
    selected.push_back(*globals.broker);
  } else {
    for (const auto& name : cfg.broker_order) {
      bool wanted = options.all || cfg.default_broker.empty() || name == cfg.default_broker;
      if (wanted) selected.push_back(name);
    }
  }

  if (options.connect) interrupt::install();  // SIGINT/SIGTERM while connecting: 130, one line
  ExitCode exit = valid ? ExitCode::ok : ExitCode::config;
  json report = {{"file", lookup.path ? json(*lookup.path) : json(nullptr)},
                 {"valid", valid},
                 {"errors", json::array()},
                 {"warnings", json::array()},
                 {"brokers", json::array()}};
  for (const auto& d : result.errors()) report["errors"].push_back(diagnostic_json(d));
  for (const auto& d : result.warnings()) report["warnings"].push_back(diagnostic_json(d));

  std::string text;
  for (const auto& d : result.diagnostics) {
    std::string line = d.format();
    bool is_error = d.severity == dtbus::config::Diagnostic::Severity::error;
    auto label = is_error ? std::string(": error: ") : std::string(": warning: ");
    if (auto at = line.find(label); at != std::string::npos && color) {
      line.replace(at, label.size(),
                   ": " +
                       util::paint(is_error ? "error" : "warning",
                                   is_error ? util::Color::red : util::Color::yellow, true) +
                       ": ");
    }
    text += line + "\n";
  }

  // With -H/--url and no -b the flags' address is the one tested, entries are only listed.
  std::vector<std::optional<std::string>> rows;
  if (flags_name_host && options.connect) rows.push_back(std::nullopt);
  for (const auto& name : cfg.broker_order) rows.push_back(name);
  for (const auto& row : rows) {
    static const dtbus::config::BrokerSettings command_line_entry;
    const auto& b = row ? cfg.brokers.at(*row) : command_line_entry;
    const std::string name = row ? *row : "(command line)";
    json entry = {{"name", row ? json(name) : json(nullptr)},
                  {"enabled", b.enabled},
                  {"host", b.host},
                  {"port", b.port}};
    bool want_connect = options.connect && valid && b.enabled &&
                        (row ? !flags_name_host && std::find(selected.begin(), selected.end(),
                                                             name) != selected.end()
                             : true);
    std::string status;
    std::string host = b.host;
    int port = b.port;
    if (want_connect) {
      auto outcome = try_connect(globals, cfg, row);
      if (outcome.host) {  // the report shows the address actually used, not the file's
        host = *outcome.host;
        port = outcome.port;
        entry["host"] = host;
        entry["port"] = port;
      }
      entry["connect"] = {{"ok", outcome.ok},
                          {"latency_ms", outcome.ok ? json(outcome.latency_ms) : json(nullptr)},
                          {"error", outcome.ok ? json(nullptr) : json(outcome.error)},
                          {"broker_info", outcome.broker_info}};
      if (outcome.ok) {
        char latency[64];
        std::snprintf(latency, sizeof(latency), "connected in %.1f ms", outcome.latency_ms);
        status = util::paint(latency, util::Color::green, color);
      } else {
        status = util::paint("cannot connect: " + outcome.error, util::Color::red, color);
        // Refused credentials outrank an unreachable broker: both need fixing, auth is specific.
        if (exit == ExitCode::ok || (exit == ExitCode::connect && outcome.code == ExitCode::auth)) {
          exit = outcome.code == ExitCode::auth ? ExitCode::auth : ExitCode::connect;
        }
      }
    } else {
      status = b.enabled ? "" : util::paint("disabled", util::Color::gray, color);
    }
    report["brokers"].push_back(entry);
    char line[512];
    std::snprintf(line, sizeof(line), "  %-20s %s:%d%s%s", name.c_str(), host.c_str(), port,
                  row && name == cfg.default_broker ? " (default)" : "",
                  status.empty() ? "" : "  ");
    text += line + status + "\n";
  }
  auto errors = result.errors().size();
  auto warnings = result.warnings().size();
  text += file + ": " +
          (valid ? util::paint("valid", util::Color::green, color)
                 : util::paint("invalid", util::Color::red, color)) +
          " (" + std::to_string(errors) + " error" + (errors == 1 ? "" : "s") + ", " +
          std::to_string(warnings) + " warning" + (warnings == 1 ? "" : "s") + ")\n";

  // A closed stdout must not turn an invalid config or a failed connect into exit 0.
  util::write_result(format == "json" ? util::to_json_line(report) + "\n" : text);
  return static_cast<int>(exit);
}

int show(const GlobalOptions& globals, const std::string& format) {
  auto cfg = target::load_config(globals, true);
  json doc = {{"file", cfg.file}, {"brokers", json::object()}};
  for (const auto& name : cfg.broker_order) {
    if (globals.broker && name != *globals.broker) continue;
    doc["brokers"][name] = broker_json(cfg.brokers.at(name));
  }
  if (globals.broker && doc["brokers"].empty()) {
    throw Error(ExitCode::config, "no broker named '" + *globals.broker + "' in " + cfg.file);
  }
  if (!cfg.token_providers.empty()) {
    doc["token_providers"] = json::object();
    for (const auto& [name, provider] : cfg.token_providers)
      doc["token_providers"][name] =
          dtbus::config::schema::shown(dtbus::config::schema::token_provider(), provider);
  }
  doc["default_broker"] = cfg.default_broker.empty() ? json(nullptr) : json(cfg.default_broker);
  util::write_stdout(format == "json" ? util::to_pretty_json(doc) + "\n" : util::to_yaml(doc));
  return 0;
}

int path(const GlobalOptions& globals, const std::string& format) {
  auto lookup = dtbus::config::find_config(globals.config_file, dtbus::config::process_env());
  if (format == "json") {
    json doc = {{"path", lookup.path ? json(*lookup.path) : json(nullptr)},
                {"reason", lookup.reason},
                {"searched", lookup.searched}};
    util::write_stdout(util::to_json_line(doc) + "\n");
  } else if (lookup.path) {
    util::write_stdout(*lookup.path + "\t" + lookup.reason + "\n");
  } else {
    std::string text = "no config file found; searched:\n";
    for (const auto& s : lookup.searched) text += "  " + s + "\n";
    util::write_stdout(text);
  }
  return lookup.path ? 0 : static_cast<int>(ExitCode::config);
}

int run(const Invocation& invocation, const Options& options) {
  const std::string& output = invocation.output;  // empty: the subcommand's default
  switch (options.action) {
    case Options::Action::test:
      return test(invocation.globals, options.test,
                  output.empty() || output == "yaml" ? "text" : output);
    case Options::Action::show:
      return show(invocation.globals, output == "json" ? "json" : "yaml");
    case Options::Action::path:
      return path(invocation.globals, output == "json" ? "json" : "text");
  }
  return 2;
}

}  // namespace dtbus::commands::config
