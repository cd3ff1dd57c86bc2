// SPDX-License-Identifier: Apache-2.0
#include "dtbus/auth/jwt.hpp"

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/json.hpp"

namespace dtbus::jwt {
namespace {

nlohmann::json decode_part(std::string_view part, const char* what) {
  auto bytes = base64url_decode(part);
  if (!bytes)
    throw Error(ExitCode::runtime, std::string("not a JWT: the ") + what + " is not base64url");
  bool too_deep = util::nested_deeper_than(*bytes, util::kMaxJsonDepth);
  nlohmann::json value = too_deep ? nlohmann::json(nlohmann::json::value_t::discarded)
                                  : nlohmann::json::parse(*bytes, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    throw Error(ExitCode::runtime, std::string("not a JWT: the ") + what + " is not a JSON object");
  }
  return value;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  // util::base64_decode accepts both alphabets and optional padding, as JWTs need.
  return util::base64_decode(text);
}

Decoded decode(std::string_view token) {
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    throw Error(ExitCode::runtime,
                "not a JWT: expected three dot-separated parts (header.claims.signature)");
  }
  Decoded decoded;
  decoded.header = decode_part(token.substr(0, first), "header");
  decoded.claims = decode_part(token.substr(first + 1, second - first - 1), "claims part");
  return decoded;
}

std::optional<std::chrono::system_clock::time_point> expiry(std::string_view token) {
  try {
    auto claims = decode(token).claims;
    auto exp = claims.find("exp");
    if (exp == claims.end() || !exp->is_number()) return std::nullopt;
    // The clock counts int64 nanoseconds: an exp before 1970 or past 2255 has no time point.
    if (!(exp->get<double>() >= 0 && exp->get<double>() < 9e9)) return std::nullopt;
    auto seconds = std::chrono::duration<double>(exp->get<double>());
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(seconds));
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace dtbus::jwt
