// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/topic_alias.hpp"

#include <gtest/gtest.h>

using dtbus::mqtt::TopicAliases;

TEST(TopicAliases, FirstUseCarriesTheTopicThenTheAliasAlone) {
  TopicAliases aliases;
  aliases.reset(2);
  auto first = aliases.use("a");
  EXPECT_EQ(first.alias, 1);
  EXPECT_FALSE(first.known);
  auto again = aliases.use("a");
  EXPECT_EQ(again.alias, 1);
  EXPECT_TRUE(again.known);
  EXPECT_EQ(aliases.use("b").alias, 2);
  // Every alias taken: a third topic goes without one.
  EXPECT_EQ(aliases.use("c").alias, 0);
  EXPECT_TRUE(aliases.use("b").known);
}

TEST(TopicAliases, NoneWhenTheBrokerAllowsNone) {
  TopicAliases aliases;
  EXPECT_EQ(aliases.use("a").alias, 0);
  aliases.reset(0);
  EXPECT_EQ(aliases.use("a").alias, 0);
}

TEST(TopicAliases, ResetAndForgetMakeTheTopicNewAgain) {
  TopicAliases aliases;
  aliases.reset(5);
  aliases.use("a");
  aliases.reset(5);  // a new connection
  EXPECT_FALSE(aliases.use("a").known);
  aliases.forget("a");  // that message was not sent
  auto use = aliases.use("a");
  EXPECT_EQ(use.alias, 1);
  EXPECT_FALSE(use.known);
}

TEST(TopicAliases, AForgottenAliasIsNotHandedOutTwice) {
  TopicAliases aliases;
  aliases.reset(3);
  EXPECT_EQ(aliases.use("a").alias, 1);
  EXPECT_EQ(aliases.use("b").alias, 2);
  aliases.forget("a");
  EXPECT_EQ(aliases.use("c").alias, 1);
  EXPECT_EQ(aliases.use("d").alias, 3);
  EXPECT_EQ(aliases.use("e").alias, 0);
  EXPECT_EQ(aliases.use("b").alias, 2);
}
