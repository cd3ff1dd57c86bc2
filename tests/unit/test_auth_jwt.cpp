// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/auth/jwt.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/util/base64.hpp"

using namespace dtbus;

namespace {
// {"alg":"HS256","typ":"JWT"} . {"sub":"svc","exp":1900000000} . signature
constexpr const char* kToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMiLCJleHAiOjE5MDAwMDAwMDB9.c2lnbmF0dXJl";
}  // namespace

TEST(AuthJwtBase64url, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(jwt::base64url_decode("").value(), "");
  EXPECT_EQ(jwt::base64url_decode("Zg").value(), "f");
  EXPECT_EQ(jwt::base64url_decode("Zg==").value(), "f");
  EXPECT_EQ(jwt::base64url_decode("Zm8").value(), "fo");
  EXPECT_EQ(jwt::base64url_decode("Zm8=").value(), "fo");
  EXPECT_EQ(jwt::base64url_decode("Zm9v").value(), "foo");
  EXPECT_EQ(jwt::base64url_decode("Zm9vYg").value(), "foob");
}

TEST(AuthJwtBase64url, UrlAlphabetAndStandardAlphabet) {
  // 0xfb 0xff 0xbf encodes as "-_-_" in base64url and "+/+/" in standard base64.
  EXPECT_EQ(jwt::base64url_decode("-_-_").value(), "\xfb\xff\xbf");
  EXPECT_EQ(jwt::base64url_decode("+/+/").value(), "\xfb\xff\xbf");
}

TEST(AuthJwtBase64url, RejectsInvalidCharactersAndLengths) {
  EXPECT_FALSE(jwt::base64url_decode("Zm9v!"));
  EXPECT_FALSE(jwt::base64url_decode("Zm 9v"));
  EXPECT_FALSE(jwt::base64url_decode("Z"));      // one character cannot hold a byte
  EXPECT_FALSE(jwt::base64url_decode("Zm9vY"));  // 4n+1
  EXPECT_FALSE(jwt::base64url_decode("Z=g"));    // padding in the middle
}

TEST(AuthJwtDecode, HeaderAndClaims) {
  auto decoded = jwt::decode(kToken);
  EXPECT_EQ(decoded.header["alg"], "HS256");
  EXPECT_EQ(decoded.header["typ"], "JWT");
  EXPECT_EQ(decoded.claims["sub"], "svc");
  EXPECT_EQ(decoded.claims["exp"], 1900000000);
}

TEST(AuthJwtDecode, MalformedTokensThrowWithoutEchoingTheToken) {
  for (const char* bad :
       {"opaque-token", "a.b", "a.b.c.d", "!!!.eyJ9.x", "eyJhIjoxfQ.bm90IGpzb24.x",
        "WzFd.eyJhIjoxfQ.x" /* header is an array */}) {
    try {
      jwt::decode(bad);
      ADD_FAILURE() << bad << " decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::runtime);
      EXPECT_EQ(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(AuthJwtExpiry, FromExpClaim) {
  auto exp = jwt::expiry(kToken);
  ASSERT_TRUE(exp);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*exp), 1900000000);
  EXPECT_FALSE(jwt::expiry("opaque-token"));
  // {"alg":"none"} . {"exp":"soon"}: not numeric
  EXPECT_FALSE(jwt::expiry("eyJhbGciOiJub25lIn0.eyJleHAiOiJzb29uIn0."));
}

TEST(AuthJwtExpiry, ExpOutsideTheClockRangeIsIgnored) {
  // Found by tests/fuzz/fuzz_jwt: converting exp to the nanosecond clock overflowed (UB).
  auto token = [](const std::string& claims) {
    return util::base64_encode(R"({"alg":"none"})") + "." + util::base64_encode(claims) + ".";
  };
  EXPECT_FALSE(jwt::expiry(token(R"({"exp":1e300})")));
  EXPECT_FALSE(jwt::expiry(token(R"({"exp":4.4419e21})")));
  EXPECT_FALSE(jwt::expiry(token(R"({"exp":-1e300})")));
  EXPECT_FALSE(jwt::expiry(token(R"({"exp":-1})")));
  auto late = jwt::expiry(token(R"({"exp":8000000000})"));  // year 2223
  ASSERT_TRUE(late);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*late), 8000000000);
}

TEST(AuthJwtDecode, DeeplyNestedClaimsAreNotAJsonObject) {
  // The decoded claims are printed (token --decode): nesting must stay within the stack.
  std::string deep = R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  std::string token =
      util::base64_encode(R"({"alg":"none"})") + "." + util::base64_encode(deep) + ".";
  EXPECT_THROW(jwt::decode(token), Error);
  EXPECT_FALSE(jwt::expiry(token));
}
