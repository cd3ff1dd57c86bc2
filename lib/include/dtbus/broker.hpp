// Which broker a command talks to and how: config entry + command-line overrides (SPEC §1, §3).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "dtbus/auth.hpp"
#include "dtbus/cli.hpp"
#include "dtbus/config.hpp"

namespace dtbus::broker {

struct TlsSettings {
  bool enabled = false;
  std::string cafile;
  std::string capath;
  std::string certfile;
  std::string keyfile;
  bool insecure = false;  // skip certificate and hostname verification
};

struct ConnectionSettings {
  std::string broker_name;  // config entry, empty when given only by flags
  std::string host = "localhost";
  int port = 1883;
  std::string client_id;  // always set after resolve(): given or dtbus-<cmd>-<host>-<pid>
  TlsSettings tls;
  int protocol = 5;  // 5 or 311
  int keepalive = 60;
  bool clean_session = true;
  uint32_t session_expiry = 0;  // MQTT 5 session expiry when clean_session is false
  double connect_timeout = 10.0;
  double reconnect_interval = 5.0;  // base of the exponential backoff
  double token_refresh_margin = 30.0;
  std::string topic_prefix;                             // already empty when --no-prefix
  std::shared_ptr<auth::CredentialSource> credentials;  // null = anonymous
  std::string token_provider;                           // name, for messages only

  // Where to, for messages: "mqtt_local (localhost:1883)" / "localhost:1883"; no secrets.
  std::string describe() const;
  // topic_prefix + topic, unless topic already starts with the prefix or `$`.
  std::string prefixed(const std::string& topic) const;
};

struct Target {
  config::Config config;                         // empty when no file
  std::optional<config::BrokerSettings> broker;  // the chosen entry
  ConnectionSettings connection;
};

// Loads the config (lookup order of SPEC §1; none found is fine when flags give a host or the
// default localhost:1883 applies), picks -b or default_broker, applies the flags. Config errors
// throw Error(config) listing every diagnostic; warnings are logged.
Target resolve(const cli::GlobalOptions& options, const std::string& command);
// The same with a config already loaded (and its diagnostics already shown).
Target resolve(const cli::GlobalOptions& options, const std::string& command,
               config::Config loaded);

// Just the config part of resolve(), for commands that need no connection.
config::Config load_config(const cli::GlobalOptions& options, bool required);

}  // namespace dtbus::broker
