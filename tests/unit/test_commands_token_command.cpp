// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/commands/token/token_command.hpp"
#include "dtbus/util/time.hpp"

using namespace dtbus;
using std::chrono::seconds;

TEST(AuthTokenCommand, HumanDuration) {
  EXPECT_EQ(util::human_duration(seconds(0)), "0s");
  EXPECT_EQ(util::human_duration(seconds(59)), "59s");
  EXPECT_EQ(util::human_duration(seconds(252)), "4m 12s");
  EXPECT_EQ(util::human_duration(seconds(3605)), "1h 0m 5s");
  EXPECT_EQ(util::human_duration(seconds(2 * 86400 + 3 * 3600 + 7)), "2d 3h");
}

TEST(AuthTokenCommand, DescribeExpiry) {
  auto exp = std::chrono::system_clock::from_time_t(1795428000);  // 2026-11-23T10:00:00Z
  EXPECT_EQ(commands::token::describe_expiry(exp, exp - seconds(252)),
            "expires in 4m 12s (2026-11-23T10:00:00Z)");
  EXPECT_EQ(commands::token::describe_expiry(exp, exp + seconds(3)),
            "expired 3s ago (2026-11-23T10:00:00Z)");
}
