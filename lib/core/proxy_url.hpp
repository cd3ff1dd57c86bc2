// SPDX-License-Identifier: Apache-2.0
// A SOCKS5 proxy URL (--proxy, brokers.yaml `proxy:`), as mosquitto_pub takes it:
// socks5h://[user[:password]@]host[:port] (port 1080 by default), and socks5:// alike. %XX in the
// user and password are decoded (%40 = @, %3A = :, %25 = %). The password is a secret: no
// message and no shown() form carries it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dtbus {

struct ProxyUrl {
  std::string scheme;  // "socks5h" or "socks5"
  std::string host;
  int port = 1080;
  std::string username;  // empty: no authentication offered
  std::string password;  // secret
  bool has_password = false;

  // socks5h://user:***@host:port (the password masked), for messages and `config show`.
  std::string shown() const;
};

// Throws std::invalid_argument naming the problem; the message never holds the password.
ProxyUrl parse_proxy_url(std::string_view text);

// `text` with a password part masked as ***, whether or not it parses (for `config show`).
std::string mask_proxy_url(std::string_view text);

}  // namespace dtbus
