// SPDX-License-Identifier: Apache-2.0
// Credentials for broker connections: static ones, or tokens from a token provider.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "dtbus/config/config.hpp"
#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::auth {

struct Credentials {
  std::string username;
  std::string password;  // secret
  // When the credentials stop being valid (token expiry); nullopt = never.
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

// Produces the credentials for each (re)connect. Implementations are thread-safe.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // May block (network); throws dtbus::Error (auth = 5 for 4xx, connect = 4 for network/5xx).
  virtual Credentials current() = 0;
  // Forces a fresh token on the next current() (no-op for static credentials).
  virtual void invalidate() {}
};

std::shared_ptr<CredentialSource> static_credentials(std::string username, std::string password);

// A token provider as a credential source: username = provider.username (default "jwt"), the
// access token in provider.token_field; cached per SPEC §4 `dtbus token`. A cached token is
// reused while more than `margin_seconds` (the broker's token_refresh_margin, default 30) from
// expiry; expires_at is the token's real expiry. invalidate() makes the next current() skip the
// token handed out last (the Connection calls it before renewing).
std::shared_ptr<CredentialSource> token_credentials(const config::TokenProviderSettings& provider);
std::shared_ptr<CredentialSource> token_credentials(const config::TokenProviderSettings& provider,
                                                    double margin_seconds);

}  // namespace dtbus::auth

DTBUS_PUBLIC_END
