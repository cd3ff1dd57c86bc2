// SPDX-License-Identifier: Apache-2.0
// JWT decoding (lib/auth/jwt.cpp) of an access token from a token endpoint, as `dtbus token
// --decode` prints it and as the token lifetime is read from its exp claim. The input is tried
// as a token, and, split at its first '\n', as the JSON of a header and of the claims (so the
// fuzzer reaches the claims without having to discover base64).
#include <chrono>
#include <string>

#include "dtbus/auth/jwt.hpp"
#include "dtbus/commands/token/token_command.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "fuzz_util.hpp"

namespace {

using dtbus::fuzz::check;
namespace jwt = dtbus::jwt;

void decode(std::string_view token) {
  try {
    jwt::Decoded decoded = jwt::decode(token);
    nlohmann::json doc = {{"header", decoded.header}, {"claims", decoded.claims}};
    (void)dtbus::util::to_json_line(doc);
    (void)dtbus::util::to_pretty_json(doc);
  } catch (const dtbus::Error& e) {
    // The token is a secret: messages never quote it. (Messages hold no digit, so a token with
    // one cannot be a mere coincidence of the fixed text.)
    bool has_digit = token.find_first_of("0123456789") != std::string_view::npos;
    check(!has_digit || std::string_view(e.what()).find(token) == std::string_view::npos,
          "the error message does not contain the token");
  }
  if (auto exp = jwt::expiry(token)) {
    (void)dtbus::commands::token::describe_expiry(*exp, std::chrono::system_clock::now());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = dtbus::fuzz::as_text(data, size);
  decode(text);

  if (size_t newline = text.find('\n'); newline != std::string_view::npos) {
    decode(dtbus::util::base64_encode(text.substr(0, newline)) + "." +
           dtbus::util::base64_encode(text.substr(newline + 1)) + ".c2lnbmF0dXJl");
  }

  // The decoder reads back what the encoder writes.
  if (auto bytes = jwt::base64url_decode(text)) {
    check(jwt::base64url_decode(dtbus::util::base64_encode(*bytes)) == bytes, "base64 round trip");
  }
  return 0;
}
