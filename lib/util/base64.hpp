// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648) for payloads that are not UTF-8 and for JWT parts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dtbus::util {

std::string base64_encode(std::string_view bytes);
// Accepts the standard and the URL-safe alphabet, with or without padding; nullopt when `text`
// is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace dtbus::util
