// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/proxy_url.hpp"

#include <gtest/gtest.h>

#include <string>

using dtbus::mask_proxy_url;
using dtbus::parse_proxy_url;

TEST(ProxyUrl, HostPortAndDefaults) {
  auto url = parse_proxy_url("socks5h://proxy.example:1081");
  EXPECT_EQ(url.scheme, "socks5h");
  EXPECT_EQ(url.host, "proxy.example");
  EXPECT_EQ(url.port, 1081);
  EXPECT_TRUE(url.username.empty());
  EXPECT_EQ(parse_proxy_url("socks5://p").port, 1080);
  EXPECT_EQ(parse_proxy_url("socks5h://[::1]:9050").host, "::1");
  EXPECT_EQ(parse_proxy_url("socks5h://[::1]:9050").shown(), "socks5h://[::1]:9050");
}

TEST(ProxyUrl, LoginWithEscapes) {
  auto url = parse_proxy_url("socks5h://a%40b:p%3Ass%25w@h:1");
  EXPECT_EQ(url.username, "a@b");
  EXPECT_EQ(url.password, "p:ss%w");
  EXPECT_TRUE(url.has_password);
  EXPECT_EQ(url.shown(), "socks5h://a@b:***@h:1");
  auto user_only = parse_proxy_url("socks5h://bob@h");
  EXPECT_EQ(user_only.username, "bob");
  EXPECT_FALSE(user_only.has_password);
  EXPECT_EQ(user_only.shown(), "socks5h://bob@h:1080");
}

TEST(ProxyUrl, ProblemsNeverQuoteThePassword) {
  for (const char* bad :
       {"http://u:s3cret@h:1", "u:s3cret@h:1", "socks5h://u:s3cret@", "socks5h://u:s3cret@h:0",
        "socks5h://u:s3cret@h:70000", "socks5h://u:s3cret@h:", "socks5h://u:s3%zzcret@h",
        "socks5h://:s3cret@h", "socks5h://u:s3cret@h/path", "socks5h://u:s3cret@[::1"}) {
    try {
      parse_proxy_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("s3"), std::string::npos) << e.what();
    }
  }
}

TEST(ProxyUrl, MaskHidesThePasswordOfAnyText) {
  EXPECT_EQ(mask_proxy_url("socks5h://u:pw@h:1"), "socks5h://u:***@h:1");
  EXPECT_EQ(mask_proxy_url("socks5h://u@h:1"), "socks5h://u@h:1");
  EXPECT_EQ(mask_proxy_url("socks5h://h:1"), "socks5h://h:1");
  EXPECT_EQ(mask_proxy_url("u:pw@h"), "u:***@h");
}
