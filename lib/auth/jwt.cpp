#include "dtbus/jwt.hpp"

#include "dtbus/error.hpp"

namespace dtbus::jwt {
namespace {

// Maps a base64/base64url character to its 6-bit value; -1 for anything else.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

nlohmann::json decode_part(std::string_view part, const char* what) {
  auto bytes = base64url_decode(part);
  if (!bytes)
    throw Error(ExitCode::runtime, std::string("not a JWT: the ") + what + " is not base64url");
  nlohmann::json value = nlohmann::json::parse(*bytes, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    throw Error(ExitCode::runtime, std::string("not a JWT: the ") + what + " is not a JSON object");
  }
  return value;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  // 4 characters carry 3 bytes; a lone trailing character cannot encode a whole byte.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = sextet(c);
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
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
    auto seconds = std::chrono::duration<double>(exp->get<double>());
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(seconds));
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace dtbus::jwt
