// SPDX-License-Identifier: Apache-2.0
// Decoding (not verifying) JSON Web Tokens, for `dtbus token --decode` and token expiry.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dtbus::jwt {

// base64url (RFC 4648 §5) with or without '=' padding; nullopt on any invalid character or
// impossible length. Standard base64 ('+', '/') is accepted too: some issuers mix them up.
std::optional<std::string> base64url_decode(std::string_view text);

struct Decoded {
  nlohmann::json header;  // JSON object
  nlohmann::json claims;  // JSON object
};

// Splits header.claims.signature and decodes the first two parts. The signature is NOT
// verified. Throws dtbus::Error(runtime) naming what is wrong; the message never contains the
// token itself.
Decoded decode(std::string_view token);

// The `exp` claim of a JWT as a time point; nullopt when `token` is not a JWT or has no
// numeric `exp` between 1970 and 2255 (what the clock can hold).
std::optional<std::chrono::system_clock::time_point> expiry(std::string_view token);

}  // namespace dtbus::jwt
