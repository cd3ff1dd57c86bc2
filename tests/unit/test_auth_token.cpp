// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dtbus/auth/token.hpp"

using namespace dtbus;
using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

config::TokenProviderSettings provider() {
  config::TokenProviderSettings p;
  p.name = "kc";
  p.base_url = "https://sso.example.org/realms/celine";
  p.client_id = "ops";
  p.client_secret = "s3cret";
  return p;
}

int mode_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return static_cast<int>(info.st_mode & 0777);
}

class AuthTokenCache : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dtbus-token-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

}  // namespace

TEST(AuthTokenForm, EncodesPerRfc6749AppendixB) {
  EXPECT_EQ(token::form_encode("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(token::form_encode("a b"), "a+b");
  EXPECT_EQ(token::form_encode("a+b&c=d/e:f%"), "a%2Bb%26c%3Dd%2Fe%3Af%25");
  EXPECT_EQ(token::form_encode("é"), "%C3%A9");
  EXPECT_EQ(token::form_encode(""), "");
}

TEST(AuthTokenForm, BasicAuthorizationEncodesIdAndSecretFirst) {
  // base64("ops:s3cret")
  EXPECT_EQ(token::basic_authorization("ops", "s3cret"), "Basic b3BzOnMzY3JldA==");
  // "a:b" id and "p w+" secret: form-encoded to "a%3Ab:p+w%2B" before base64.
  EXPECT_EQ(token::basic_authorization("a:b", "p w+"), "Basic YSUzQWI6cCt3JTJC");
}

TEST(AuthTokenKey, DependsOnEndpointClientScopeAudienceNotSecret) {
  auto base = provider();
  std::string key = token::cache_key(base);
  EXPECT_EQ(key.size(), 16u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);

  auto other_secret = base;
  other_secret.client_secret = "different";
  EXPECT_EQ(token::cache_key(other_secret), key);
  auto other_name = base;
  other_name.name = "renamed";
  EXPECT_EQ(token::cache_key(other_name), key);

  for (auto change : {+[](config::TokenProviderSettings& p) { p.client_id = "ops2"; },
                      +[](config::TokenProviderSettings& p) { p.scope = "openid mqtt"; },
                      +[](config::TokenProviderSettings& p) { p.audience = "broker"; },
                      +[](config::TokenProviderSettings& p) { p.base_url += "x"; },
                      +[](config::TokenProviderSettings& p) { p.token_url = "https://t/token"; }}) {
    auto changed = base;
    change(changed);
    EXPECT_NE(token::cache_key(changed), key);
  }
}

TEST(AuthTokenExpiry, ExpiresInNumberOrStringElseJwtExpElseUnknown) {
  auto now = Clock::from_time_t(1'800'000'000);
  EXPECT_EQ(token::response_expiry(json{{"expires_in", 300}}, now),
            now + std::chrono::seconds(300));
  EXPECT_EQ(token::response_expiry(json{{"expires_in", "60"}}, now),
            now + std::chrono::seconds(60));
  // expires_in wins over exp; an unusable expires_in falls back to exp.
  std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.c2ln";  // exp 1900000000
  EXPECT_EQ(token::response_expiry(json{{"expires_in", 10}, {"access_token", jwt}}, now),
            now + std::chrono::seconds(10));
  EXPECT_EQ(token::response_expiry(json{{"expires_in", "soon"}, {"access_token", jwt}}, now),
            Clock::from_time_t(1'900'000'000));
  EXPECT_EQ(token::response_expiry(json{{"access_token", jwt}}, now),
            Clock::from_time_t(1'900'000'000));
  EXPECT_FALSE(token::response_expiry(json{{"access_token", "opaque"}}, now));
  EXPECT_FALSE(token::response_expiry(json{{"expires_in", -5}, {"access_token", "opaque"}}, now));
  // A lifetime past the clock's range is capped at ten years instead of overflowing it.
  EXPECT_EQ(token::response_expiry(json{{"expires_in", 1e300}}, now),
            now + std::chrono::hours(24 * 365 * 10));
  EXPECT_EQ(token::response_expiry(json{{"expires_in", "1e30"}}, now),
            now + std::chrono::hours(24 * 365 * 10));
}

TEST(AuthTokenExpiry, UsableUntilTheMarginBeforeExpiry) {
  auto now = Clock::from_time_t(1'800'000'000);
  token::Token t;
  EXPECT_FALSE(token::usable(t, 30, now));  // unknown expiry
  t.expires_at = now + std::chrono::seconds(31);
  EXPECT_TRUE(token::usable(t, 30, now));
  EXPECT_FALSE(token::usable(t, 31, now));
  EXPECT_FALSE(token::usable(t, 30, now + std::chrono::seconds(2)));
}

TEST(AuthTokenUrl, RedactsUserinfo) {
  EXPECT_EQ(token::redact_url("https://u:p@idp/realms/x?a=b@c"), "https://idp/realms/x?a=b@c");
  EXPECT_EQ(token::redact_url("https://idp/token"), "https://idp/token");
  EXPECT_EQ(token::redact_url("http://idp/path@x"), "http://idp/path@x");
}

TEST(AuthTokenCacheDir, XdgElseHome) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  EXPECT_EQ(token::cache_dir(env({{"XDG_CACHE_HOME", "/x/cache"}, {"HOME", "/h"}})),
            "/x/cache/dtbus/tokens");
  EXPECT_EQ(token::cache_dir(env({{"XDG_CACHE_HOME", ""}, {"HOME", "/h"}})),
            "/h/.cache/dtbus/tokens");
  EXPECT_EQ(token::cache_dir(env({{"XDG_CACHE_HOME", "relative"}, {"HOME", "/h"}})),
            "/h/.cache/dtbus/tokens");
}

TEST_F(AuthTokenCache, CacheRoundTripPrivateAndWithoutSecret) {
  token::Cache cache(root_ / "cache" / "dtbus" / "tokens");
  auto p = provider();
  EXPECT_FALSE(cache.load(p));
  token::Token t;
  t.access_token = "tok-123";
  t.scope = "openid";
  t.expires_at = Clock::now() + std::chrono::hours(1);
  cache.store(p, t);

  auto file = cache.file_for(p);
  EXPECT_EQ(mode_of(file), 0600);
  EXPECT_EQ(mode_of(file.parent_path()), 0700);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_NE(text.find("tok-123"), std::string::npos);

  auto loaded = cache.load(p);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->access_token, "tok-123");
  EXPECT_EQ(loaded->scope, "openid");
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::seconds>(*loaded->expires_at - *t.expires_at).count(),
      0);

  // Another client id never sees it; a token of unknown expiry is never written.
  auto other = p;
  other.client_id = "someone-else";
  EXPECT_FALSE(cache.load(other));
  token::Token forever;
  forever.access_token = "x";
  cache.store(other, forever);
  EXPECT_FALSE(std::filesystem::exists(cache.file_for(other)));
}

TEST_F(AuthTokenCache, CacheTightensALooseFileAndIgnoresGarbage) {
  auto dir = root_ / "tokens";
  token::Cache cache(dir);
  auto p = provider();
  token::Token t;
  t.access_token = "tok";
  t.expires_at = Clock::now() + std::chrono::hours(1);
  cache.store(p, t);
  chmod(cache.file_for(p).c_str(), 0644);
  chmod(dir.c_str(), 0755);
  ASSERT_TRUE(cache.load(p));
  EXPECT_EQ(mode_of(cache.file_for(p)), 0600);

  std::ofstream(cache.file_for(p)) << "{not json";
  EXPECT_FALSE(cache.load(p));
  cache.store(p, t);  // replaces the garbage, and re-tightens the directory
  EXPECT_TRUE(cache.load(p));
  EXPECT_EQ(mode_of(dir), 0700);
}
