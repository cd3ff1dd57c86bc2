// SPDX-License-Identifier: Apache-2.0
#include "dtbus/target/target.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/proxy_url.hpp"
#include "dtbus/core/tls_psk.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/util/text.hpp"

namespace dtbus::target {
namespace {

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "host";
  return name;
}

std::string read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ExitCode::usage, "--password-file " + path + ": cannot read file");
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void require_readable(const std::string& flag, const std::string& path) {
  if (access(path.c_str(), R_OK) != 0) {
    throw Error(ExitCode::usage, flag + " " + path + ": " + std::strerror(errno));
  }
}

struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::optional<int> port;
  std::optional<std::string> username;
};

// The URL for an error message: a user:password part (even a malformed one) becomes ***.
std::string shown_url(const std::string& url) {
  auto at = url.rfind('@');
  if (at == std::string::npos) return url;
  auto scheme = url.find("://");
  size_t start = scheme == std::string::npos || scheme > at ? 0 : scheme + 3;
  if (url.find(':', start) >= at) return url;
  return url.substr(0, start) + "***" + url.substr(at);
}

ParsedUrl parse_url(const std::string& url) {
  ParsedUrl parsed;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    parsed.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("ws://") || url.starts_with("wss://")) {
    throw Error(ExitCode::usage,
                "--url " + shown_url(url) +
                    ": MQTT over WebSockets is not supported: libmosquitto 2.0.11, which dtbus "
                    "uses, has no client-side WebSocket transport; use the broker's MQTT listener "
                    "(mqtt:// or mqtts://)");
  } else {
    throw Error(ExitCode::usage,
                "--url " + shown_url(url) + ": expected mqtt://[user@]host[:port] or mqtts://...");
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string user = rest.substr(0, at);
    if (user.find(':') != std::string::npos) {
      throw Error(ExitCode::usage,
                  "--url must not carry a password; use --password-file or MQTT_PASSWORD");
    }
    parsed.username = user;
    rest = rest.substr(at + 1);
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:1883
    auto close = rest.find(']');
    if (close == std::string::npos)
      throw Error(ExitCode::usage, "--url " + shown_url(url) + ": unterminated IPv6 address");
    parsed.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port_text = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    parsed.host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  } else {
    parsed.host = rest;
  }
  if (parsed.host.empty())
    throw Error(ExitCode::usage, "--url " + shown_url(url) + ": missing host");
  if (!port_text.empty()) {
    try {
      size_t used = 0;
      int port = std::stoi(port_text, &used);
      if (used != port_text.size() || port < 1 || port > 65535) throw std::out_of_range("port");
      parsed.port = port;
    } catch (const std::exception&) {
      throw Error(ExitCode::usage, "--url " + shown_url(url) + ": port must be 1..65535");
    }
  }
  return parsed;
}

// "a, b" -> {"a", "b"}: the items of a comma-separated list, trimmed, empty ones dropped.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

// brokers.yaml `hosts: "b:1883, c"` -> failover nodes; a node without a port has the entry's.
std::vector<std::pair<std::string, int>> parse_hosts(const std::string& hosts, int default_port,
                                                     const std::string& broker) {
  std::vector<std::pair<std::string, int>> nodes;
  for (const std::string& item : split_list(hosts)) {
    auto colon = item.rfind(':');
    if (colon == std::string::npos || (item.front() == '[' && item.back() == ']')) {
      nodes.emplace_back(item, default_port);
      continue;
    }
    std::string port_text = item.substr(colon + 1);
    int port = 0;
    try {
      size_t used = 0;
      port = std::stoi(port_text, &used);
      if (used != port_text.size() || port < 1 || port > 65535) throw std::out_of_range("port");
    } catch (const std::exception&) {
      throw Error(ExitCode::config,
                  "broker '" + broker + "': hosts: '" + item + "': port must be 1..65535");
    }
    nodes.emplace_back(item.substr(0, colon), port);
  }
  return nodes;
}

// Whether a load warning concerns `broker` (empty: none is used): document-level warnings do,
// and those of that entry and its token provider; other entries' are left to `config test`.
bool concerns(const config::Diagnostic& d, const config::Config& cfg, const std::string& broker) {
  auto under = [&](const std::string& prefix) {
    return d.path == prefix || d.path.starts_with(prefix + ".");
  };
  if (!d.path.starts_with("brokers.") && !d.path.starts_with("token_providers.")) return true;
  if (broker.empty()) return false;
  if (under("brokers." + broker)) return true;
  auto it = cfg.brokers.find(broker);
  return it != cfg.brokers.end() && !it->second.token_provider.empty() &&
         under("token_providers." + it->second.token_provider);
}

void log_warnings(const std::vector<config::Diagnostic>& warnings, const config::Config& cfg,
                  const std::string& broker) {
  for (const auto& d : warnings) {
    if (!concerns(d, cfg, broker)) {
      spdlog::debug("config: {}", d.format());
      continue;
    }
    // spdlog adds "warning:" itself.
    std::string line = d.format();
    if (auto at = line.find(": warning: "); at != std::string::npos) line.replace(at, 11, ": ");
    spdlog::warn("{}", line);
  }
}

// The config with its errors thrown (exit 3) and its warnings returned, not yet shown.
config::LoadResult load_checked(const GlobalOptions& options, bool required) {
  auto env = config::process_env();
  auto lookup = config::find_config(options.config_file, env);
  if (!lookup.path) {
    if (required) {
      std::string searched;
      for (const auto& s : lookup.searched) searched += (searched.empty() ? "" : ", ") + s;
      throw Error(ExitCode::config, "no config file found (searched " + searched + ")");
    }
    return {};
  }
  spdlog::debug("config: {} ({})", *lookup.path, lookup.reason);
  auto result = config::load_file(*lookup.path);
  auto errors = result.errors();
  if (!errors.empty()) {
    // Every problem on its own line, then one summary error carrying the exit code.
    for (size_t i = 0; i + 1 < errors.size(); ++i) print_error("config", errors[i].format());
    std::string summary = errors.back().format();
    if (errors.size() > 1) summary += " (" + std::to_string(errors.size()) + " errors)";
    throw Error(ExitCode::config, summary);
  }
  return result;
}

// Certificate checks off is worth one warning per run, however many connections it makes.
void warn_insecure(const std::string& why) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  spdlog::warn("TLS certificate verification is off ({}): the broker's identity is not checked",
               why);
}

// --retry-for: 90, 90s, 2m, 1h, 1.5m.
double parse_retry_for(const std::string& text) {
  double seconds = -1;
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    std::string unit = text.substr(used);
    double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
    if (scale > 0 && std::isfinite(value) && value > 0) seconds = value * scale;
  } catch (const std::exception&) {
  }
  if (seconds <= 0) {
    throw Error(ExitCode::usage,
                "--retry-for " + text + ": expected a duration > 0 such as 30s, 2m or 1h");
  }
  return seconds;
}

// --session-expiry: 0, 90, 90s, 2m, 1h, 7d, never (= 0xFFFFFFFF, MQTT 5's "never expires").
uint32_t parse_session_expiry(const std::string& text) {
  constexpr double kNever = 4294967295.0;
  if (text == "never") return UINT32_MAX;
  double seconds = -1;
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    std::string unit = text.substr(used);
    double scale = unit.empty() || unit == "s" ? 1
                   : unit == "m"               ? 60
                   : unit == "h"               ? 3600
                   : unit == "d"               ? 86400
                                               : -1;
    if (scale > 0 && std::isfinite(value) && value >= 0) seconds = std::round(value * scale);
  } catch (const std::exception&) {
  }
  if (seconds < 0 || seconds >= kNever) {
    throw Error(ExitCode::usage, "--session-expiry " + text +
                                     ": expected a duration such as 30s, 2m, 1h or 7d (under 136 "
                                     "years), 0, or never");
  }
  return static_cast<uint32_t>(seconds);
}

mqtt::ProxySettings proxy_settings(const ProxyUrl& url) {
  return {.host = url.host,
          .port = url.port,
          .username = url.username,
          .password = url.password,
          .shown = url.shown()};
}

// --psk/--psk-identity over the entry's psk/psk_identity; a PSK replaces certificates.
void apply_psk_flags(const GlobalOptions& options, mqtt::TlsSettings& tls) {
  if (options.psk) {
    if (auto problem = psk_problem(*options.psk))
      throw Error(ExitCode::usage, "--psk: " + *problem);
    if (options.cafile || options.cert || options.key) {
      throw Error(ExitCode::usage,
                  "--psk replaces certificates: it cannot be combined with --cafile, --cert or "
                  "--key");
    }
    tls.psk = *options.psk;
    tls.enabled = true;
    tls.cafile.clear();  // the entry's certificates do not apply to a PSK connection
    tls.certfile.clear();
    tls.keyfile.clear();
  }
  if (options.psk_identity) {
    if (tls.psk.empty()) throw Error(ExitCode::usage, "--psk-identity needs --psk");
    tls.psk_identity = *options.psk_identity;
  }
  if (tls.psk.empty()) return;
  if (tls.psk_identity.empty()) {
    throw Error(ExitCode::usage,
                "--psk needs --psk-identity (the name the broker's psk_file lists the key under)");
  }
  if (!tls.cafile.empty() || !tls.certfile.empty()) {
    throw Error(ExitCode::usage,
                "the broker entry's psk replaces certificates: --cafile, --cert and --key cannot "
                "be combined with it");
  }
}

void apply_will_flags(const GlobalOptions& options, mqtt::WillSettings& will) {
  bool other_will_flags = options.will_payload || options.will_qos || options.will_retain;
  if (options.will_topic) {
    topic::require_publish_topic(*options.will_topic);
    will = mqtt::WillSettings{};
    will.topic = *options.will_topic;
  } else if (other_will_flags && will.topic.empty()) {
    throw Error(ExitCode::usage, "--will-payload/--will-qos/--will-retain need --will-topic");
  }
  if (options.will_payload) will.payload = *options.will_payload;
  if (options.will_qos) will.qos = *options.will_qos;
  if (options.will_retain) will.retain = true;
}

void apply_broker_entry(const config::BrokerSettings& b, mqtt::ConnectionSettings& c) {
  c.broker_name = b.name;
  c.host = b.host;
  c.port = b.port;
  if (b.client_id) c.client_id = *b.client_id;
  c.tls.enabled = b.use_tls;
  c.tls.cafile = b.ca_certs;
  c.tls.certfile = b.certfile;
  c.tls.keyfile = b.keyfile;
  c.tls.insecure = !b.verify_cert;
  c.tls.version = b.tls_version;
  c.tls.psk = b.psk;
  c.tls.psk_identity = b.psk_identity;
  if (!b.psk.empty()) c.tls.enabled = true;
  // (The loader checked the URL.)
  if (!b.proxy.empty()) c.proxy = proxy_settings(parse_proxy_url(b.proxy));
  c.protocol = b.protocol;
  c.keepalive = b.keepalive;
  c.clean_session = b.clean_session;
  c.reconnect_interval = b.reconnect_interval;
  c.connect_retries = b.connect_retries;
  if (b.will) {
    c.will = {.topic = b.will->topic,
              .payload = b.will->payload,
              .qos = b.will->qos,
              .retain = b.will->retain};
  }
  c.token_refresh_margin = b.token_refresh_margin;
  c.topic_prefix = b.topic_prefix;
  c.token_provider = b.token_provider;
}

}  // namespace

config::Config load_config(const GlobalOptions& options, bool required) {
  auto result = load_checked(options, required);
  log_warnings(result.warnings(), result.config,
               options.broker.value_or(result.config.default_broker));
  return std::move(result.config);
}

Target resolve(const GlobalOptions& options, const std::string& command) {
  auto result = load_checked(options, options.broker.has_value());
  auto warnings = result.warnings();
  Target target = resolve(options, command, std::move(result.config));
  log_warnings(warnings, target.config, target.broker ? target.broker->name : "");
  return target;
}

Target resolve(const GlobalOptions& options, const std::string& command, config::Config loaded) {
  Target target;
  std::optional<ParsedUrl> url;
  std::vector<ParsedUrl> more_urls;  // --url A,B: failover nodes after the first
  if (options.url) {
    std::vector<std::string> parts = split_list(*options.url);
    if (parts.empty()) throw Error(ExitCode::usage, "--url: expected mqtt://[user@]host[:port]");
    url = parse_url(parts.front());
    for (size_t i = 1; i < parts.size(); ++i) {
      more_urls.push_back(parse_url(parts[i]));
      if (more_urls.back().tls != url->tls) {
        throw Error(ExitCode::usage, "--url: the nodes of a list must all be mqtt:// or mqtts://");
      }
    }
  }
  bool flags_name_host = options.host.has_value() || url.has_value();

  target.config = std::move(loaded);
  const auto& cfg = target.config;
  mqtt::ConnectionSettings& c = target.connection;

  // -H/--url without -b replace the config's broker; with -b they override that entry.
  std::string name = options.broker.value_or(flags_name_host ? std::string() : cfg.default_broker);
  if (!name.empty()) {
    auto it = cfg.brokers.find(name);
    if (it == cfg.brokers.end()) {
      std::vector<std::string> names(cfg.broker_order.begin(), cfg.broker_order.end());
      auto guess = util::closest_match(name, names);
      throw Error(ExitCode::config, "no broker named '" + name + "' in " + cfg.file +
                                        (guess ? " (did you mean '" + *guess + "'?)" : ""));
    }
    if (!it->second.enabled) {
      throw Error(ExitCode::config, "broker '" + name + "' is disabled in " + cfg.file);
    }
    target.broker = it->second;
    apply_broker_entry(it->second, c);
  } else if (!cfg.file.empty() && !flags_name_host && cfg.brokers.size() > 1) {
    throw Error(ExitCode::config,
                cfg.file + ": several brokers and no default_broker; choose one with -b");
  }
  // Without an entry, CELINE's environment fills what the built-in defaults leave open, as it
  // fills an entry's gaps (the loader did that).
  config::BrokerSettings environment_entry;
  if (!target.broker) {
    auto problems =
        config::apply_celine_env(environment_entry, "environment", config::process_env());
    if (!problems.empty()) throw Error(ExitCode::config, problems.front().message);
    c.host = environment_entry.host;
    c.port = environment_entry.port;
  }
  const config::BrokerSettings& entry = target.broker ? *target.broker : environment_entry;
  for (const auto& [key, variable] : entry.from_env) spdlog::debug("{} from ${}", key, variable);

  if (!entry.hosts.empty()) c.failover = parse_hosts(entry.hosts, c.port, c.broker_name);
  if (url) {
    c.host = url->host;
    c.tls.enabled = c.tls.enabled || url->tls;
    c.port = url->port.value_or(url->tls ? 8883 : 1883);
    c.failover.clear();  // the command line names the nodes
    for (const ParsedUrl& more : more_urls) {
      c.failover.emplace_back(more.host, more.port.value_or(more.tls ? 8883 : 1883));
    }
  }
  if (options.host) {
    c.host = *options.host;
    c.failover.clear();  // -H names one node
  }
  if (options.port) c.port = *options.port;
  if (options.tls) c.tls.enabled = true;
  if (options.cafile) {
    require_readable("--cafile", *options.cafile);
    c.tls.cafile = *options.cafile;
    c.tls.enabled = true;
  }
  if (options.cert) {
    require_readable("--cert", *options.cert);
    c.tls.certfile = *options.cert;
  }
  if (options.key) {
    require_readable("--key", *options.key);
    c.tls.keyfile = *options.key;
  }
  if (c.tls.certfile.empty() != c.tls.keyfile.empty()) {
    throw Error(ExitCode::usage, "a client certificate needs both --cert and --key");
  }
  apply_psk_flags(options, c.tls);
  if (options.insecure) c.tls.insecure = true;
  if (options.tls_version) c.tls.version = *options.tls_version;
  if (options.ciphers) c.tls.ciphers = *options.ciphers;
  if (options.alpn) c.tls.alpn = *options.alpn;
  if (options.key_password_file) {
    // The same file rules as --password-file: the first line, a trailing CR dropped.
    try {
      c.tls.key_password = read_password_file(*options.key_password_file);
    } catch (const Error&) {
      throw Error(ExitCode::usage,
                  "--key-password-file " + *options.key_password_file + ": cannot read file");
    }
  }
  if (c.tls.enabled && c.tls.insecure) {
    warn_insecure(options.insecure ? "--insecure"
                                   : "verify_cert: false in broker '" + c.broker_name + "'");
  }
  if (options.proxy) {
    try {
      c.proxy = proxy_settings(parse_proxy_url(*options.proxy));
    } catch (const std::invalid_argument& e) {
      throw Error(ExitCode::usage, std::string("--proxy: ") + e.what());
    }
  }
  if (options.protocol) c.protocol = *options.protocol;
  // Unforced, MQTT 5 is tried first and 3.1.1 after a refusal (RabbitMQ 3.10 speaks only 3.1.1).
  c.protocol_fallback = c.protocol == 5 && !options.protocol && !entry.set_at.count("protocol");
  if (options.keepalive) c.keepalive = *options.keepalive;
  c.connect_timeout = options.connect_timeout;
  if (options.retry) c.connect_retries = *options.retry;
  if (options.retry_for) c.connect_retry_for = parse_retry_for(*options.retry_for);
  if (options.session_expiry) {
    c.requested_session_expiry = parse_session_expiry(*options.session_expiry);
    if (c.protocol != 5) {
      throw Error(ExitCode::usage, "--session-expiry needs MQTT 5; with protocol " +
                                       std::to_string(c.protocol) +
                                       " the broker decides how long a session lives (mosquitto: "
                                       "persistent_client_expiration)");
    }
  }
  apply_will_flags(options, c.will);
  if (options.no_prefix) c.topic_prefix.clear();
  c.client_id = options.client_id.value_or(c.client_id);
  if (c.client_id.empty()) {
    c.client_id = "dtbus-" + command + "-" + hostname() + "-" + std::to_string(getpid());
    // MQTT 3.1 brokers may refuse a client id over 23 bytes: the host name goes first.
    if (c.protocol == 31 && c.client_id.size() > 23)
      c.client_id = ("dtbus-" + command + "-" + std::to_string(getpid())).substr(0, 23);
  }

  // Credentials: command line > token provider > the entry's username/password (CELINE's
  // environment filling its gaps) > MQTT_PASSWORD.
  std::optional<std::string> username = options.username;
  if (!username && url && url->username) username = url->username;
  std::optional<std::string> password = options.password;
  if (options.password_file) password = read_password_file(*options.password_file);
  bool flags_give_credentials = username.has_value() || password.has_value();
  bool password_from_flags = password.has_value();
  if (target.broker && !target.broker->token_provider.empty() && !flags_give_credentials) {
    auto provider = cfg.token_providers.find(target.broker->token_provider);
    if (provider == cfg.token_providers.end()) {
      throw Error(ExitCode::config,
                  "token provider '" + target.broker->token_provider + "' is not defined");
    }
    c.credentials = auth::token_credentials(provider->second, c.token_refresh_margin);
    return target;
  }
  c.token_provider.clear();
  if (!username && !entry.username.empty()) username = entry.username;
  std::string password_source = "the password of broker '" + entry.name + "'";
  if (!password && !entry.password.empty()) password = entry.password;
  if (entry.from_env.contains("password")) password_source = "MQTT_PASSWORD";
  if (!password) {
    // An entry whose token_provider the flags replaced: the environment was not applied to it.
    if (const char* env = std::getenv("MQTT_PASSWORD"); env != nullptr && *env != '\0') {
      password = env;
      password_source = "MQTT_PASSWORD";
    }
  }
  if (password && !username) {
    if (password_from_flags) {
      throw Error(ExitCode::usage, "a password was given without a username (-u)");
    }
    // CELINE sets MQTT_PASSWORD for every service, login or not: without a user name it does
    // not apply (MqttConfig ignores it too).
    spdlog::info("{} ignored: no username (-u, the entry's username or MQTT_USERNAME)",
                 password_source);
    password.reset();
  }
  if (username) c.credentials = auth::static_credentials(*username, password.value_or(""));
  return target;
}

}  // namespace dtbus::target
