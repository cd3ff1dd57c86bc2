// SPDX-License-Identifier: Apache-2.0
// The TLS-PSK key as given (--psk, brokers.yaml `psk:`): hex digits, as mosquitto_pub and the
// broker's psk_file take it. The key is a secret: the problem text never quotes it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dtbus {

// OpenSSL takes PSKs of up to 256 bytes (PSK_MAX_PSK_LEN).
inline constexpr size_t kMaxPskHexDigits = 512;

inline std::optional<std::string> psk_problem(std::string_view hex) {
  if (hex.empty()) return "empty key";
  if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
    return "expected the key as hex digits (0-9, a-f) only (the value is not shown)";
  if (hex.size() > kMaxPskHexDigits) return "key longer than 256 bytes (512 hex digits)";
  return std::nullopt;
}

}  // namespace dtbus
