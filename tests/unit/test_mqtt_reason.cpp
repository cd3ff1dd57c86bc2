// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/mqtt/reason.hpp"

using namespace dtbus::mqtt;

TEST(ReasonText, NamesAndHexCodes) {
  EXPECT_EQ(reason_text(0x87), "not authorized (0x87)");
  EXPECT_EQ(reason_text(0x86), "bad user name or password (0x86)");
  EXPECT_EQ(reason_text(0x8E), "session taken over (0x8e)");
  EXPECT_EQ(reason_text(0x97), "quota exceeded (0x97)");
  EXPECT_EQ(reason_text(0x95), "packet too large (0x95)");
  EXPECT_EQ(reason_text(0x10), "no matching subscribers (0x10)");
  EXPECT_EQ(reason_text(0x80), "unspecified error (0x80)");
  EXPECT_EQ(reason_text(0xA2), "wildcard subscriptions not supported (0xa2)");
  EXPECT_EQ(reason_text(0xFE), "unknown reason code (0xfe)");
}

TEST(ReasonText, ConnackCodesDependOnTheProtocol) {
  EXPECT_EQ(connack_reason_text(5, 311), "not authorized (0x05)");
  EXPECT_EQ(connack_reason_text(4, 311), "bad user name or password (0x04)");
  EXPECT_EQ(connack_reason_text(9, 311), "unknown return code (0x09)");
  EXPECT_EQ(connack_reason_text(0x87, 5), "not authorized (0x87)");
}
