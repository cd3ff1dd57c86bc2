// SPDX-License-Identifier: Apache-2.0
// Token providers as credentials: the cache-or-fetch policy and the CredentialSource that
// mqtt::Connection asks on every (re)connect.
#include <mutex>

#include <spdlog/spdlog.h>

#include "dtbus/auth/credentials.hpp"
#include "dtbus/auth/token.hpp"
#include "dtbus/core/error.hpp"

namespace dtbus {
namespace token {

Token get(const config::TokenProviderSettings& provider, const GetOptions& options) {
  if (!options.use_cache) return fetch(provider);
  Cache cache(cache_dir(config::process_env()));
  auto reusable = [&](const std::optional<Token>& token) {
    return token && usable(*token, options.margin_seconds, std::chrono::system_clock::now()) &&
           token->access_token != options.reject;
  };
  if (!options.refresh) {
    if (auto cached = cache.load(provider); reusable(cached)) {
      spdlog::debug("token provider '{}': cached token reused", provider.name);
      return *cached;
    }
  }
  // One fetch at a time per provider across processes; whoever waited reuses the fresh token.
  auto lock = cache.lock(provider);
  if (!options.refresh) {
    if (auto cached = cache.load(provider); reusable(cached)) {
      spdlog::debug("token provider '{}': token fetched meanwhile by another process reused",
                    provider.name);
      return *cached;
    }
  }
  Token token = fetch(provider);
  if (token.expires_at &&
      !usable(token, options.margin_seconds, std::chrono::system_clock::now())) {
    spdlog::warn(
        "token provider '{}': the token lifetime is not longer than token_refresh_margin "
        "({:g} s); every use fetches a new one",
        provider.name, options.margin_seconds);
  }
  try {
    cache.store(provider, token);
  } catch (const Error& e) {
    spdlog::warn("{}", e.what());  // the token is good; only its reuse is lost
  }
  return token;
}

}  // namespace token

namespace auth {
namespace {

class TokenCredentials : public CredentialSource {
 public:
  TokenCredentials(config::TokenProviderSettings provider, double margin_seconds)
      : provider_(std::move(provider)), margin_seconds_(margin_seconds) {}

  Credentials current() override {
    std::lock_guard lock(mutex_);
    token::GetOptions options;
    options.margin_seconds = margin_seconds_;
    options.reject = rejected_;
    token::Token token = token::get(provider_, options);
    handed_out_ = token.access_token;
    rejected_.reset();
    Credentials credentials;
    credentials.username = provider_.username.empty() ? "jwt" : provider_.username;
    if (provider_.token_field == "username") {
      credentials.username = token.access_token;
    } else {
      credentials.password = token.access_token;
    }
    credentials.expires_at = token.expires_at;
    return credentials;
  }

  // The token handed out last is expiring or was refused: the next current() must not get it
  // back from the cache (a token another process already renewed is still welcome).
  void invalidate() override {
    std::lock_guard lock(mutex_);
    rejected_ = handed_out_;
  }

 private:
  const config::TokenProviderSettings provider_;
  const double margin_seconds_;
  std::mutex mutex_;
  std::optional<std::string> handed_out_;
  std::optional<std::string> rejected_;
};

}  // namespace

std::shared_ptr<CredentialSource> token_credentials(const config::TokenProviderSettings& provider) {
  return token_credentials(provider, 30.0);
}

std::shared_ptr<CredentialSource> token_credentials(const config::TokenProviderSettings& provider,
                                                    double margin_seconds) {
  return std::make_shared<TokenCredentials>(provider, margin_seconds);
}

}  // namespace auth
}  // namespace dtbus
