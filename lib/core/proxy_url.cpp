// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/proxy_url.hpp"

#include <cctype>

namespace dtbus {
namespace {

constexpr const char* kForm = "expected socks5h://[user[:password]@]host[:port]";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text, const char* what) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      throw std::invalid_argument(std::string("bad %-escape in the proxy ") + what + " (" + kForm +
                                  ", %XX for special characters)");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

std::string ProxyUrl::shown() const {
  std::string text = scheme + "://";
  if (!username.empty()) text += username + (has_password ? ":***" : "") + "@";
  text += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return text + ":" + std::to_string(port);
}

ProxyUrl parse_proxy_url(std::string_view text) {
  ProxyUrl url;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) throw std::invalid_argument(kForm);
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme != "socks5h" && url.scheme != "socks5") {
    // The scheme holds no credentials: it can be named.
    throw std::invalid_argument("unsupported proxy scheme '" + url.scheme +
                                "': only SOCKS5 proxies (" + kForm + " or socks5://...)");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view login = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = login.find(':');
    url.username = percent_decode(login.substr(0, colon), "user");
    if (colon != std::string_view::npos) {
      url.password = percent_decode(login.substr(colon + 1), "password");
      url.has_password = true;
    }
    if (url.username.empty())
      throw std::invalid_argument("empty proxy user name (" + std::string(kForm) + ")");
    // RFC 1929: one length byte each.
    if (url.username.size() > 255 || url.password.size() > 255) {
      throw std::invalid_argument("proxy user name and password are limited to 255 bytes each");
    }
  }
  if (rest.find('/') != std::string_view::npos) {
    throw std::invalid_argument(std::string("a proxy URL has no path (") + kForm + ")");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:1080
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      throw std::invalid_argument("unterminated IPv6 address in the proxy URL");
    url.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument(kForm);
      port_text = rest.substr(close + 2);
      if (port_text.empty()) throw std::invalid_argument("proxy port must be 1..65535");
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    url.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    if (port_text.empty()) throw std::invalid_argument("proxy port must be 1..65535");
  } else {
    url.host = std::string(rest);
  }
  if (url.host.empty())
    throw std::invalid_argument(std::string("missing proxy host (") + kForm + ")");
  if (url.host.size() > 255) throw std::invalid_argument("proxy host name longer than 255 bytes");
  if (!port_text.empty()) {
    int port = 0;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        port = -1;
        break;
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) throw std::invalid_argument("proxy port must be 1..65535");
    url.port = port;
  }
  return url;
}

std::string mask_proxy_url(std::string_view text) {
  auto scheme_end = text.find("://");
  size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto at = text.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(text);
  auto colon = text.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(text);
  return std::string(text.substr(0, colon + 1)) + "***" + std::string(text.substr(at));
}

}  // namespace dtbus
