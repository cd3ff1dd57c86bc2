// SPDX-License-Identifier: Apache-2.0
// What a broker told us when we connected: the MQTT 5 CONNACK properties it declared, the
// protocol actually used, and the TLS session (protocol, cipher, server certificate). Filled by
// Connection on every CONNACK; `dtbus probe` and `config test --connect` report it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtbus/util/export.hpp"

struct mqtt5__property;  // libmosquitto's mosquitto_property
struct ssl_st;           // OpenSSL's SSL

DTBUS_PUBLIC_BEGIN

namespace dtbus::mqtt {

// The TLS session as negotiated, read right after the CONNACK.
struct TlsFacts {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;    // "TLS_AES_256_GCM_SHA384"
  // The server certificate (empty strings when the server sent none, e.g. TLS-PSK).
  std::string subject;                 // one line, RFC 2253: "CN=localhost"
  std::string issuer;                  // "CN=dtbus test CA"
  std::vector<std::string> alt_names;  // "DNS:localhost", "IP:127.0.0.1"
  std::optional<std::chrono::system_clock::time_point> not_after;
  bool verified = false;  // the chain and host name were checked (not --insecure)

  // Whole days from `now` to not_after (negative once expired); nullopt without a certificate.
  std::optional<int> days_left(std::chrono::system_clock::time_point now) const;
};

// Each field is what the broker declared; nullopt = it did not say, and MQTT 5 (§3.2.2.3) then
// means the default named beside it. An MQTT 3.1.1/3.1 CONNACK declares nothing.
struct BrokerInfo {
  int protocol = 0;  // actually used: 5, 311 or 31 (0 before the first CONNACK)
  bool session_present = false;
  std::optional<uint16_t> receive_maximum;              // default 65535
  std::optional<int> maximum_qos;                       // default 2
  std::optional<bool> retain_available;                 // default true
  std::optional<uint32_t> maximum_packet_size;          // default: no limit beyond the protocol's
  std::optional<uint16_t> topic_alias_maximum;          // default 0 (no topic aliases)
  std::optional<bool> wildcard_subscription_available;  // default true
  std::optional<bool> subscription_identifiers_available;  // default true
  std::optional<bool> shared_subscription_available;       // default true
  std::optional<uint16_t> server_keep_alive;               // default: the keepalive we asked for
  std::optional<std::string> assigned_client_identifier;   // only when we sent none
  std::optional<uint32_t> session_expiry_interval;         // default: the expiry we asked for
  std::optional<std::string> reason_string;
  std::optional<std::string> server_reference;
  std::optional<std::string> response_information;
  std::vector<std::pair<std::string, std::string>> user_properties;
  std::optional<TlsFacts> tls;  // nullopt on a plain TCP connection

  // The values in force: what was declared, else the MQTT 5 default.
  uint16_t effective_receive_maximum() const { return receive_maximum.value_or(65535); }
  int effective_maximum_qos() const { return maximum_qos.value_or(2); }
  bool effective_retain_available() const { return retain_available.value_or(true); }
  bool effective_wildcards() const { return wildcard_subscription_available.value_or(true); }
  bool effective_shared() const { return shared_subscription_available.value_or(true); }
};

}  // namespace dtbus::mqtt

DTBUS_PUBLIC_END

namespace dtbus::mqtt {

// The CONNACK properties of `properties` (null: none) on a connection using `protocol`.
// Unknown properties are ignored; a repeated one keeps its first value.
BrokerInfo parse_connack(const mqtt5__property* properties, int protocol, bool session_present);

// The TLS facts of a live OpenSSL session (null: not TLS → nullopt).
std::optional<TlsFacts> read_tls_facts(const ssl_st* ssl, bool verified);

// The JSON shape reports use (stable keys, documented in dtbus-probe(1)): every CONNACK field by
// its MQTT 5 name in snake_case, null when not declared; `tls` is left out (see tls_json).
nlohmann::ordered_json broker_info_json(const BrokerInfo& info);
// {"protocol","cipher","subject","issuer","alt_names","not_after","days_left","verified"}.
nlohmann::ordered_json tls_json(const TlsFacts& facts, std::chrono::system_clock::time_point now);

}  // namespace dtbus::mqtt
