// SPDX-License-Identifier: Apache-2.0
// How to reach a broker: address, TLS, protocol, session and credentials, resolved (see
// dtbus/target/target.hpp for where they come from).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dtbus/auth/credentials.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::mqtt {

struct TlsSettings {
  bool enabled = false;
  std::string cafile;
  std::string capath;
  std::string certfile;
  std::string keyfile;
  bool insecure = false;     // skip certificate and hostname verification
  std::string version;       // "" (1.2 or newer), "tlsv1.2", "tlsv1.3": exactly that version
  std::string ciphers;       // OpenSSL cipher list; TLS_* names are TLS 1.3 suites
  std::string alpn;          // ALPN protocol offered, e.g. "mqtt"
  std::string key_password;  // secret: passphrase of an encrypted client key
  // TLS-PSK instead of certificates (the broker's psk_hint listener): key in hex, identity.
  std::string psk;  // secret
  std::string psk_identity;
};

// A SOCKS5 proxy between us and the broker (--proxy, brokers.yaml `proxy:`). libmosquitto asks
// the proxy to connect to the broker's host name as given (the proxy resolves it).
struct ProxySettings {
  std::string host;  // empty = no proxy
  int port = 1080;
  std::string username;  // empty = no authentication offered
  std::string password;  // secret
  std::string shown;     // socks5h://user:***@host:port, for messages
};

// The message the broker publishes for us when the link dies without a DISCONNECT.
struct WillSettings {
  std::string topic;  // empty = no will
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct ConnectionSettings {
  std::string broker_name;  // config entry, empty when given only by flags
  std::string host = "localhost";
  int port = 1883;
  std::string client_id;  // always set after resolve(): given or dtbus-<cmd>-<host>-<pid>
  TlsSettings tls;
  int protocol = 5;  // 5, 311 (3.1.1) or 31 (3.1)
  // Not forced (-V, `protocol:`): a broker that refuses MQTT 5 is asked again with 3.1.1.
  bool protocol_fallback = false;
  // More nodes of the same cluster (host, port), tried in turn after host:port when the link is
  // lost or cannot be made (brokers.yaml `hosts:`, --url A,B).
  std::vector<std::pair<std::string, int>> failover;
  int keepalive = 60;
  bool clean_session = true;
  uint32_t session_expiry = 0;  // MQTT 5 session expiry when clean_session is false
  // --session-expiry: replaces both defaults (the one above, and the reconnect grace of a clean
  // session); 0xFFFFFFFF = never expires.
  std::optional<uint32_t> requested_session_expiry;
  // pub --topic-alias: QoS 0 messages to a topic already sent on this connection carry only its
  // MQTT 5 topic alias (when the broker's CONNACK allows aliases).
  bool topic_alias = false;
  ProxySettings proxy;
  double connect_timeout = 10.0;
  double reconnect_interval = 5.0;  // base of the exponential backoff
  // The first connect: attempts after the first that failed with Error(connect), and/or for how
  // long to keep trying (seconds); both 0 = fail at once.
  int connect_retries = 0;
  double connect_retry_for = 0.0;
  WillSettings will;
  double token_refresh_margin = 30.0;
  std::string topic_prefix;                             // already empty when --no-prefix
  std::shared_ptr<auth::CredentialSource> credentials;  // null = anonymous
  std::string token_provider;                           // name, for messages only

  // Where to, for messages: "mqtt_local (localhost:1883)" / "localhost:1883"; no secrets.
  std::string describe() const;
  // topic_prefix + topic, unless topic already starts with the prefix or `$`.
  std::string prefixed(const std::string& topic) const;
};

}  // namespace dtbus::mqtt

DTBUS_PUBLIC_END
