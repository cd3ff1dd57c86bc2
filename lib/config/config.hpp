// SPDX-License-Identifier: Apache-2.0
// brokers.yaml: lookup, env expansion (SPEC §3), parsing and validation.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dtbus/core/envelope.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::config {

// Looks up an environment variable; std::nullopt when unset. Injected so tests need no real env.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();

struct Location {
  std::string file;
  int line = 0;    // 1-based, 0 = unknown
  int column = 0;  // 1-based, 0 = unknown
};

struct Diagnostic {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string path;  // field path, e.g. brokers.mqtt_local.config.port
  Location where;
  std::string message;
  // "file:line:col: error: path: message" (SPEC §4 config text form)
  std::string format() const;
};

// ---- env expansion ---------------------------------------------------------
struct Expansion {
  std::string value;
  std::vector<std::string> unset_without_default;  // ${VAR}/$VAR that were unset (warnings)
  std::optional<std::string> error;                // ${VAR:?msg} failures, syntax errors
};
Expansion expand_env(std::string_view text, const EnvLookup& env);

// ---- schema ----------------------------------------------------------------
struct DlqSettings {
  std::string topic = "tracker/dlq/#";
  std::string client_id;  // default "dtbus-dlq-<broker name>"
  std::string spool;      // default "${XDG_STATE_HOME:-~/.local/state}/dtbus/dlq/<name>.jsonl"
};

// `will:` of a broker entry: published by the broker when a client vanishes without DISCONNECT.
struct WillConfig {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct BrokerSettings {
  std::string name;
  std::string class_name;  // `class:` or `type:` as written
  bool enabled = true;
  std::string host = "localhost";
  int port = 1883;
  std::optional<std::string> client_id;
  std::string username;
  std::string password;  // secret: never print
  bool use_tls = false;
  std::string ca_certs;
  std::string certfile;
  std::string keyfile;
  bool verify_cert = true;
  std::string tls_version;  // "" = 1.2 or newer; tlsv1.2 | tlsv1.3
  std::string psk;          // secret: TLS-PSK key, hex
  std::string psk_identity;
  std::string proxy;  // socks5h://[user[:password]@]host[:port]; the password is a secret
  int keepalive = 60;
  bool clean_session = true;
  double reconnect_interval = 5.0;
  int connect_retries = 0;  // first connect: retries after a failure, 0 = fail fast
  std::string topic_prefix;
  double token_refresh_margin = 30.0;
  int protocol = 5;
  std::string hosts;              // more nodes of the cluster for failover: "host[:port], ..."
  std::string token_provider;     // empty = none
  std::string envelope = "none";  // none | dt | tracker
  envelope::Source source;
  std::optional<DlqSettings> dlq;
  std::optional<WillConfig> will;
  // Seed 002's subscription defaults: `dtbus sub -q` and `--share` (flags override them).
  std::optional<int> qos;
  bool use_shared_subscriptions = false;
  std::string shared_group;
  Location location;                       // where the entry's key is
  std::map<std::string, Location> set_at;  // config: keys with a non-empty value, and where
  std::map<std::string, std::string>
      from_env;  // config: keys CELINE's environment filled → variable
};

struct TokenProviderSettings {
  std::string name;
  std::string type = "oidc_client_credentials";
  std::string base_url;
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // secret: never print
  std::string scope = "openid";
  std::string audience;
  std::string auth_method = "client_secret_basic";  // or client_secret_post
  std::string ca_certs;
  double timeout = 10.0;
  std::string username = "jwt";
  std::string token_field = "password";  // or username
  Location location;
  std::map<std::string, std::string> from_env;  // keys the OIDC_* environment filled → variable
};

struct Config {
  std::string file;                       // empty when no file was used
  std::vector<std::string> broker_order;  // names in file order
  std::map<std::string, BrokerSettings> brokers;
  std::map<std::string, TokenProviderSettings> token_providers;
  std::string default_broker;
};

struct LoadResult {
  Config config;
  std::vector<Diagnostic> diagnostics;  // every problem found, in document order
  bool ok() const;                      // no error diagnostics
  std::vector<Diagnostic> errors() const;
  std::vector<Diagnostic> warnings() const;
};

struct LoadOptions {
  bool strict = false;  // warnings become errors
  EnvLookup env;        // default: process_env()
};

LoadResult load_file(const std::string& path, const LoadOptions& options = {});
LoadResult load_string(std::string_view yaml, const std::string& file_label,
                       const LoadOptions& options = {});

// Configs larger than this are refused (exit 3) before parsing: the YAML node tree takes about
// fifty times the file's size, and a real brokers.yaml is a few kilobytes.
inline constexpr size_t kMaxConfigBytes = 1024 * 1024;
// The shortest keepalive libmosquitto takes (0 turns it off; it refuses 1..4 seconds).
inline constexpr int kMinKeepalive = 5;

// CELINE's environment (seed 000) fills what a broker entry leaves unset (no key, or empty after
// expansion): MQTT_HOST, MQTT_PORT, and, without a token_provider, MQTT_USERNAME and
// MQTT_PASSWORD. Empty variables count as unset. Returns the problems (a bad MQTT_PORT), located
// at the entry. The loader applies it to every entry; target applies it when no entry is used.
std::vector<Diagnostic> apply_celine_env(BrokerSettings& broker, const std::string& path,
                                         const EnvLookup& env);

// ---- lookup ----------------------------------------------------------------
struct ConfigLookup {
  std::optional<std::string> path;  // chosen file, if any
  std::string reason;               // e.g. "from -c", "from $DTBUS_CONFIG", "./brokers.yaml exists"
  std::vector<std::string> searched;  // candidates in order
};
// -c FILE > $DTBUS_CONFIG > ./config/brokers.yaml > ./brokers.yaml >
// $XDG_CONFIG_HOME/dtbus/brokers.yaml (~/.config) > /etc/dtbus/brokers.yaml
ConfigLookup find_config(const std::optional<std::string>& explicit_path, const EnvLookup& env);

}  // namespace dtbus::config

DTBUS_PUBLIC_END
