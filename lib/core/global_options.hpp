// SPDX-License-Identifier: Apache-2.0
// The options every command takes (SPEC §1 global options), as parsed: which config and broker,
// output and logging, and the connection overrides merged over the config entry by
// dtbus/target/target.hpp. A plain struct: the command line that fills it lives in cli/.
#pragma once

#include <optional>
#include <string>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus {

struct GlobalOptions {
  std::optional<std::string> config_file;
  std::optional<std::string> broker;
  std::string output;  // empty = command default
  int verbosity = 0;
  bool quiet = false;
  bool no_color = false;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> url;
  std::optional<std::string> username;
  std::optional<std::string> password_file;
  std::optional<std::string> password;
  std::optional<std::string> client_id;
  bool tls = false;
  std::optional<std::string> cafile;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  bool insecure = false;
  std::optional<std::string> tls_version;  // tlsv1.2 | tlsv1.3
  std::optional<std::string> ciphers;
  std::optional<std::string> alpn;
  std::optional<std::string> key_password_file;  // passphrase of an encrypted --key
  std::optional<std::string> psk;                // TLS-PSK key, hex (secret)
  std::optional<std::string> psk_identity;
  std::optional<std::string> proxy;  // socks5h://[user[:password]@]host[:port] (password secret)
  std::optional<int> protocol;
  std::optional<int> keepalive;
  double connect_timeout = 10.0;
  std::optional<int> retry;                   // --retry N: attempts after a failed first connect
  std::optional<std::string> retry_for;       // --retry-for DURATION ("30s", "2m", "1h", "45")
  std::optional<std::string> session_expiry;  // --session-expiry DURATION or "never"
  std::optional<std::string> will_topic;
  std::optional<std::string> will_payload;
  std::optional<int> will_qos;
  bool will_retain = false;
  bool no_prefix = false;

  // Colour decision for stdout, after --no-color / NO_COLOR / TTY.
  bool color_stdout() const;
  bool color_stderr() const;
};

}  // namespace dtbus

DTBUS_PUBLIC_END
