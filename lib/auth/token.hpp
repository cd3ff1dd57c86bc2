// SPDX-License-Identifier: Apache-2.0
// OAuth2 client-credentials tokens (SPEC §3 token_providers, §4 `dtbus token`): the token
// endpoint client and the on-disk cache shared between dtbus processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "dtbus/config/config.hpp"

namespace dtbus::token {

using TimePoint = std::chrono::system_clock::time_point;

struct Token {
  std::string access_token;  // secret
  std::string token_type = "Bearer";
  std::string scope;
  std::optional<TimePoint> expires_at;  // nullopt = unknown (then never cached)
};

// ---- pieces, public for tests ------------------------------------------------
// application/x-www-form-urlencoded (RFC 6749 appendix B): unreserved kept, space as '+'.
std::string form_encode(std::string_view text);
// HTTP Basic credentials of client_secret_basic (RFC 6749 §2.3.1): form-encoded id and secret.
std::string basic_authorization(std::string_view client_id, std::string_view client_secret);
// Expiry of a token response: `expires_in` (number or numeric string) from `now`, else the
// access token's JWT `exp`, else nullopt.
std::optional<TimePoint> response_expiry(const nlohmann::json& response, TimePoint now);
// Cache file name (hex, no secret) for token endpoint or base_url, client_id, scope, audience.
std::string cache_key(const config::TokenProviderSettings& provider);
// $XDG_CACHE_HOME/dtbus/tokens, default ~/.cache/dtbus/tokens.
std::filesystem::path cache_dir(const config::EnvLookup& env);
// True while `token` may still be used: known expiry more than `margin_seconds` away.
bool usable(const Token& token, double margin_seconds, TimePoint now);
// `url` with any user:password@ removed, for messages.
std::string redact_url(const std::string& url);

// ---- the endpoint ------------------------------------------------------------
// One client-credentials request (after discovery when token_url is empty). Throws
// dtbus::Error: auth (5) for 4xx with the server's error/error_description, connect (4) for
// 5xx, network, timeout and an answer over 1 MiB ("response too large"), runtime (1) for a non-JSON
// or token-less answer, config (3) for an incomplete provider. Messages name the provider and URL,
// never the secret.
Token fetch(const config::TokenProviderSettings& provider);

// ---- the cache ---------------------------------------------------------------
// Files are 0600 in a 0700 directory, written atomically (temp + fsync + rename), and hold the
// token and its expiry, never the client secret.
class Cache {
 public:
  explicit Cache(std::filesystem::path dir);
  // The cached token for `provider`, if any (permissions are re-tightened on the way).
  std::optional<Token> load(const config::TokenProviderSettings& provider) const;
  void store(const config::TokenProviderSettings& provider, const Token& token) const;
  std::filesystem::path file_for(const config::TokenProviderSettings& provider) const;
  // Holds an exclusive lock per provider while fetching, so concurrent processes hit the
  // endpoint once; released on destruction.
  class Lock {
   public:
    explicit Lock(const std::filesystem::path& path);
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();

   private:
    int fd_ = -1;
  };
  Lock lock(const config::TokenProviderSettings& provider) const;

 private:
  void ensure_dir() const;
  std::filesystem::path dir_;
};

struct GetOptions {
  bool use_cache = true;       // --no-cache: neither read nor write
  bool refresh = false;        // --refresh: ignore the cached token, store the new one
  double margin_seconds = 30;  // broker's token_refresh_margin
  // A token the caller saw rejected or about to expire: never returned from the cache.
  std::optional<std::string> reject;
};

// The provider's token: from the cache while usable, else fetched (and cached when its expiry
// is known).
Token get(const config::TokenProviderSettings& provider, const GetOptions& options);

}  // namespace dtbus::token
