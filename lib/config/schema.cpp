// SPDX-License-Identifier: Apache-2.0
// The brokers.yaml key tables (SPEC §3), and their key list for dtbus-brokers.yaml(5).
#include "dtbus/config/schema.hpp"

#include <functional>
#include <map>

// The tables name only what differs from KeyInfo's defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace dtbus::config::schema {

const Section<Config>& document() {
  static const Section<Config> section{
      "",
      ".SH FORMAT",
      {
          {.info = {.name = "brokers",
                    .kind = Kind::mapping,
                    .description = "Mapping of broker name to broker entry."}},
          {.info = {.name = "token_providers",
                    .kind = Kind::mapping,
                    .description = "Mapping of provider name to token provider entry."}},
          {.info = {.name = "default_broker",
                    .arg = "NAME",
                    .optional = true,
                    .description = "Broker used without -b; it must be enabled."},
           .member = &Config::default_broker},
      }};
  return section;
}

const Section<BrokerSettings>& broker() {
  static const Section<BrokerSettings> section{
      "brokers.<name>",
      ".SS Broker entry",
      {
          {.info = {.name = "class",
                    .arg = "STRING",
                    .description = "Accepted as written, for compatibility with CELINE services."},
           .member = &BrokerSettings::class_name},
          {.info = {.name = "type",
                    .kind = Kind::choice,
                    .choices = {"mqtt"},
                    .description =
                        "Alternative to class; an entry with neither is an MQTT broker."}},
          {.info = {.name = "enabled",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "Disabled entries are validated, but cannot be used."},
           .member = &BrokerSettings::enabled},
          {.info = {.name = "config",
                    .kind = Kind::mapping,
                    .arg = "MAPPING",
                    .description = "Connection settings (Broker config)."}},
          {.info = {.name = "token_provider",
                    .arg = "NAME",
                    .optional = true,
                    .description = "Authenticate with a token from this entry of token_providers."},
           .member = &BrokerSettings::token_provider},
          {.info = {.name = "envelope",
                    .kind = Kind::choice,
                    .choices = {"none", "dt", "tracker"},
                    .description = "Default envelope for dtbus pub."},
           .member = &BrokerSettings::envelope},
          {.info = {.name = "source",
                    .kind = Kind::mapping,
                    .arg = "MAPPING",
                    .description = "Source of the dt envelope."}},
          {.info = {.name = "dlq",
                    .kind = Kind::mapping,
                    .arg = "MAPPING",
                    .description = "Dead-letter settings; absent, the broker has no DLQ."}},
          {.info = {.name = "will",
                    .kind = Kind::mapping,
                    .arg = "MAPPING",
                    .description = "Will message the broker publishes when a dtbus client of "
                                   "this entry vanishes; --will-topic overrides it."}},
      }};
  return section;
}

const Section<BrokerSettings>& broker_config() {
  static const Section<BrokerSettings> section{
      "brokers.<name>.config",
      ".SS Broker config",
      {
          {.info = {.name = "host", .arg = "HOST", .description = "Broker host name or address."},
           .member = &BrokerSettings::host},
          {.info = {.name = "port",
                    .kind = Kind::integer,
                    .arg = "N",
                    .min = 1,
                    .max = 65535,
                    .description = "Broker port, 1..65535."},
           .member = &BrokerSettings::port},
          {.info = {.name = "client_id",
                    .arg = "ID",
                    .computed_default = "dtbus-<command>-<hostname>-<pid>",
                    .description = "MQTT client id."},
           .member = &BrokerSettings::client_id},
          {.info = {.name = "username",
                    .arg = "STRING",
                    .optional = true,
                    .description = "Static user name."},
           .member = &BrokerSettings::username},
          {.info = {.name = "password",
                    .arg = "STRING",
                    .optional = true,
                    .secret = true,
                    .description = "Static password; never printed."},
           .member = &BrokerSettings::password},
          {.info = {.name = "use_tls",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "Connect with TLS."},
           .member = &BrokerSettings::use_tls},
          {.info = {.name = "ca_certs",
                    .kind = Kind::path,
                    .arg = "PATH",
                    .optional = true,
                    .description = "CA bundle; must exist when use_tls is true."},
           .member = &BrokerSettings::ca_certs},
          {.info = {.name = "certfile",
                    .kind = Kind::path,
                    .arg = "PATH",
                    .optional = true,
                    .description = "Client certificate for mutual TLS, with keyfile."},
           .member = &BrokerSettings::certfile},
          {.info = {.name = "keyfile",
                    .kind = Kind::path,
                    .arg = "PATH",
                    .optional = true,
                    .description = "Client key for mutual TLS, with certfile."},
           .member = &BrokerSettings::keyfile},
          {.info = {.name = "verify_cert",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "Verify the broker certificate and host name."},
           .member = &BrokerSettings::verify_cert},
          {.info = {.name = "tls_version",
                    .kind = Kind::choice,
                    .optional = true,
                    .choices = {"tlsv1.2", "tlsv1.3"},
                    .description = "Only this TLS version; unset, 1.2 or newer (--tls-version "
                                   "overrides it)."},
           .member = &BrokerSettings::tls_version},
          {.info = {.name = "psk",
                    .arg = "HEX",
                    .optional = true,
                    .secret = true,
                    .description = "TLS-PSK key in hex, with psk_identity, instead of "
                                   "certificates; never printed (--psk overrides it)."},
           .member = &BrokerSettings::psk},
          {.info = {.name = "psk_identity",
                    .arg = "ID",
                    .optional = true,
                    .description = "TLS-PSK identity (--psk-identity overrides it)."},
           .member = &BrokerSettings::psk_identity},
          {.info = {.name = "proxy",
                    .kind = Kind::proxy,
                    .arg = "URL",
                    .optional = true,
                    .description = "SOCKS5 proxy, socks5h://[user[:password]@]host[:port]; its "
                                   "password is never printed (--proxy overrides it)."},
           .member = &BrokerSettings::proxy},
          {.info = {.name = "keepalive",
                    .kind = Kind::integer,
                    .arg = "SECONDS",
                    .min = 0,
                    .max = 65535,
                    .description = "Keepalive interval, 0 (off) or 5..65535."},
           .member = &BrokerSettings::keepalive},
          {.info = {.name = "clean_session",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "Start without the broker's stored session."},
           .member = &BrokerSettings::clean_session},
          {.info = {.name = "reconnect_interval",
                    .kind = Kind::number,
                    .arg = "SECONDS",
                    .description = "Number > 0, base of the exponential reconnect backoff."},
           .member = &BrokerSettings::reconnect_interval},
          {.info = {.name = "connect_retries",
                    .kind = Kind::integer,
                    .arg = "N",
                    .min = 0,
                    .max = 1000000,
                    .description = "Retries of a failed first connect, with the reconnect backoff; "
                                   "0 fails at once (--retry overrides it)."},
           .member = &BrokerSettings::connect_retries},
          {.info = {.name = "topic_prefix",
                    .arg = "PREFIX",
                    .description = "Prepended to every topic unless --no-prefix."},
           .member = &BrokerSettings::topic_prefix},
          {.info = {.name = "token_refresh_margin",
                    .kind = Kind::number_or_zero,
                    .arg = "SECONDS",
                    .description = "Number >= 0: fetch a new token this long before expiry."},
           .member = &BrokerSettings::token_refresh_margin},
          {.info = {.name = "hosts",
                    .arg = "HOST[:PORT],...",
                    .description = "More nodes of the same cluster, tried in turn after host:port "
                                   "when the connection is lost (failover)."},
           .member = &BrokerSettings::hosts},
          {.info = {.name = "protocol",
                    .kind = Kind::choice,
                    .choices = {"5", "311", "31"},
                    .description = "MQTT version."},
           .member = &BrokerSettings::protocol},
          {.info = {.name = "qos",
                    .kind = Kind::integer,
                    .arg = "Q",
                    .optional = true,
                    .min = 0,
                    .max = 2,
                    .computed_default = "0 (1 with --session)",
                    .description = "Default subscription QoS of dtbus sub (its -q overrides it)."},
           .member = &BrokerSettings::qos},
          {.info = {.name = "use_shared_subscriptions",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "dtbus sub subscribes as $share/<shared_group>/<filter> unless "
                                   "--share names another group."},
           .member = &BrokerSettings::use_shared_subscriptions},
          {.info = {.name = "shared_group",
                    .arg = "GROUP",
                    .optional = true,
                    .description = "Group of the shared subscriptions; no '/', '+' or '#'."},
           .member = &BrokerSettings::shared_group},
      }};
  return section;
}

const Section<envelope::Source>& source() {
  // All strings: app_version 1.0 must stay "1.0".
  static const Section<envelope::Source> section{
      "brokers.<name>.source",
      "",
      {
          {.info = {.name = "app_key", .arg = "STRING", .description = "Application key."},
           .member = &envelope::Source::app_key},
          {.info = {.name = "app_version",
                    .arg = "STRING",
                    .description = "Application version, as text."},
           .member = &envelope::Source::app_version},
          {.info = {.name = "module", .arg = "STRING", .description = "Module name."},
           .member = &envelope::Source::module},
      }};
  return section;
}

const Section<DlqSettings>& dlq() {
  static const Section<DlqSettings> section{
      "brokers.<name>.dlq",
      "",
      {
          {.info = {.name = "topic",
                    .arg = "FILTER",
                    .description = "MQTT filter that captures DLQ messages."},
           .member = &DlqSettings::topic},
          {.info = {.name = "client_id",
                    .arg = "ID",
                    .computed_default = "dtbus-dlq-<name>",
                    .description = "Client id of the durable session that queues them."},
           .member = &DlqSettings::client_id},
          {.info = {.name = "spool",
                    .kind = Kind::path,
                    .arg = "PATH",
                    .computed_default = "$XDG_STATE_HOME/dtbus/dlq/<name>.jsonl",
                    .description = "Local JSON Lines spool."},
           .member = &DlqSettings::spool},
      }};
  return section;
}

const Section<WillConfig>& will() {
  static const Section<WillConfig> section{
      "brokers.<name>.will",
      "",
      {
          {.info = {.name = "topic", .arg = "TOPIC", .description = "Will topic; required."},
           .member = &WillConfig::topic},
          {.info = {.name = "payload", .arg = "STRING", .description = "Will payload."},
           .member = &WillConfig::payload},
          {.info = {.name = "qos",
                    .kind = Kind::integer,
                    .arg = "Q",
                    .min = 0,
                    .max = 2,
                    .description = "Will QoS, 0..2."},
           .member = &WillConfig::qos},
          {.info = {.name = "retain",
                    .kind = Kind::boolean,
                    .arg = "BOOL",
                    .description = "Retain the will message."},
           .member = &WillConfig::retain},
      }};
  return section;
}

const Section<TokenProviderSettings>& token_provider() {
  static const Section<TokenProviderSettings> section{
      "token_providers.<name>",
      ".SS Token provider entry",
      {
          {.info = {.name = "type",
                    .kind = Kind::choice,
                    .choices = {"oidc_client_credentials"},
                    .description = "The only type."},
           .member = &TokenProviderSettings::type},
          {.info = {.name = "base_url",
                    .kind = Kind::url,
                    .arg = "URL",
                    .optional = true,
                    .description = "Issuer URL; the token endpoint is found by discovery."},
           .member = &TokenProviderSettings::base_url},
          {.info = {.name = "token_url",
                    .kind = Kind::url,
                    .arg = "URL",
                    .optional = true,
                    .description = "Token endpoint; when set, discovery is skipped."},
           .member = &TokenProviderSettings::token_url},
          {.info = {.name = "client_id",
                    .arg = "STRING",
                    .optional = true,
                    .description = "Client id; required."},
           .member = &TokenProviderSettings::client_id},
          {.info = {.name = "client_secret",
                    .arg = "STRING",
                    .optional = true,
                    .secret = true,
                    .description = "Client secret; never printed nor cached."},
           .member = &TokenProviderSettings::client_secret},
          {.info = {.name = "scope", .arg = "SCOPES", .description = "Requested scopes."},
           .member = &TokenProviderSettings::scope},
          {.info = {.name = "audience",
                    .arg = "STRING",
                    .optional = true,
                    .description = "Sent as the audience parameter when set."},
           .member = &TokenProviderSettings::audience},
          {.info = {.name = "auth_method",
                    .kind = Kind::choice,
                    .choices = {"client_secret_basic", "client_secret_post"},
                    .description = "How the client credentials are sent."},
           .member = &TokenProviderSettings::auth_method},
          {.info = {.name = "ca_certs",
                    .kind = Kind::path,
                    .arg = "PATH",
                    .optional = true,
                    .description = "CA bundle for the token endpoint."},
           .member = &TokenProviderSettings::ca_certs},
          {.info = {.name = "timeout",
                    .kind = Kind::number,
                    .arg = "SECONDS",
                    .description = "Number > 0: how long a token request may take."},
           .member = &TokenProviderSettings::timeout},
          {.info = {.name = "username",
                    .arg = "STRING",
                    .description = "MQTT user name sent with the token."},
           .member = &TokenProviderSettings::username},
          {.info = {.name = "token_field",
                    .kind = Kind::choice,
                    .choices = {"password", "username"},
                    .description = "Which CONNECT field carries the token."},
           .member = &TokenProviderSettings::token_field},
      }};
  return section;
}

namespace {

std::string roff_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else {
      if (c == '-') out += '\\';
      out += c;
    }
  }
  return out;
}

// The documented default: computed, else the field's initial value; nullopt when there is none.
std::optional<std::string> default_text(const KeyInfo& key, const nlohmann::ordered_json& initial) {
  if (!key.computed_default.empty()) return std::string(key.computed_default);
  auto value = initial.find(std::string(key.name));
  if (key.secret || value == initial.end() || value->is_null()) return std::nullopt;
  return value->is_string() ? value->get<std::string>() : value->dump();
}

// One .TP paragraph per key, and the headless section under a key (`nested`, by path) after it.
template <class T>
std::string keys_roff(const Section<T>& section,
                      const std::map<std::string, std::string, std::less<>>& nested) {
  auto initial = shown(section, T{});
  std::string out;
  for (const auto& key : section.keys) {
    const KeyInfo& info = key.info;
    out += ".TP\n\\fB" + roff_escape(info.name) + "\\fR";
    if (info.kind == Kind::choice) {
      for (size_t i = 0; i < info.choices.size(); ++i)
        out += (i == 0 ? " \\fB" : "|\\fB") + roff_escape(info.choices[i]) + "\\fR";
    } else if (!info.arg.empty()) {
      out += " \\fI" + roff_escape(info.arg) + "\\fR";
    }
    out += "\n" + roff_escape(info.description) + "\n";
    if (auto value = default_text(info, initial))
      out += value->empty() ? "Default empty.\n" : "Default \\fB" + roff_escape(*value) + "\\fR.\n";
    auto inner = nested.find(std::string(section.path) + "." + std::string(info.name));
    if (inner != nested.end()) out += ".RS\n" + inner->second + ".RE\n";
  }
  return out;
}

}  // namespace

std::string key_list_roff() {
  std::map<std::string, std::string, std::less<>> nested;
  nested.emplace(source().path, keys_roff(source(), {}));
  nested.emplace(dlq().path, keys_roff(dlq(), {}));
  nested.emplace(will().path, keys_roff(will(), {}));
  std::string out;
  auto add = [&](const auto& section) {
    out += std::string(section.heading) + "\n" + keys_roff(section, nested);
  };
  add(document());
  add(broker());
  add(broker_config());
  add(token_provider());
  return out;
}

}  // namespace dtbus::config::schema
