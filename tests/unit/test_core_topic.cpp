// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"

using namespace dtbus;

TEST(TopicPublish, AcceptsOrdinaryTopics) {
  EXPECT_FALSE(topic::publish_topic_problem("tracker/events/created"));
  EXPECT_FALSE(topic::publish_topic_problem("/leading/slash"));
  EXPECT_FALSE(topic::publish_topic_problem("ünïcode/ok"));
}

TEST(TopicPublish, RejectsWildcardsEmptyNulAndBadUtf8) {
  EXPECT_TRUE(topic::publish_topic_problem("a/+/b"));
  EXPECT_TRUE(topic::publish_topic_problem("a/#"));
  EXPECT_TRUE(topic::publish_topic_problem(""));
  EXPECT_TRUE(topic::publish_topic_problem(std::string("a\0b", 3)));
  EXPECT_TRUE(topic::publish_topic_problem("bad\xff"));
  EXPECT_TRUE(topic::publish_topic_problem("\xc0\xaf"));      // overlong '/'
  EXPECT_TRUE(topic::publish_topic_problem("\xed\xa0\x80"));  // surrogate
  EXPECT_TRUE(topic::publish_topic_problem("trunc\xe2\x82"));
}

TEST(TopicPublish, LengthLimitIs65535Bytes) {
  EXPECT_FALSE(topic::publish_topic_problem(std::string(65535, 'a')));
  EXPECT_TRUE(topic::publish_topic_problem(std::string(65536, 'a')));
}

TEST(TopicPublish, RequireThrowsUsageError) {
  try {
    topic::require_publish_topic("a/#");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("a/#"), std::string::npos);
  }
}

TEST(TopicFilter, ValidatesWildcardPlacement) {
  EXPECT_FALSE(topic::filter_problem("#"));
  EXPECT_FALSE(topic::filter_problem("a/+/c"));
  EXPECT_FALSE(topic::filter_problem("a/b/#"));
  EXPECT_FALSE(topic::filter_problem("+"));
  EXPECT_FALSE(topic::filter_problem("$share/workers/a/#"));
  EXPECT_TRUE(topic::filter_problem("a/#/c"));
  EXPECT_TRUE(topic::filter_problem("a/b#"));
  EXPECT_TRUE(topic::filter_problem("a/b+/c"));
  EXPECT_TRUE(topic::filter_problem("$share/workers"));
  EXPECT_TRUE(topic::filter_problem("$share//a"));
  EXPECT_TRUE(topic::filter_problem(""));
}

TEST(TopicMatch, FollowsMqttRules) {
  EXPECT_TRUE(topic::matches("a/+/c", "a/b/c"));
  EXPECT_FALSE(topic::matches("a/+/c", "a/b/d"));
  EXPECT_TRUE(topic::matches("a/#", "a/b/c"));
  EXPECT_TRUE(topic::matches("a/#", "a"));
  EXPECT_TRUE(topic::matches("#", "x/y"));
  EXPECT_FALSE(topic::matches("#", "$SYS/x"));
  EXPECT_FALSE(topic::matches("+/x", "$SYS/x"));
  EXPECT_TRUE(topic::matches("$SYS/#", "$SYS/x"));
  EXPECT_FALSE(topic::matches("a/b", "a/b/c"));
  EXPECT_TRUE(topic::matches("+/+", "/x"));
  EXPECT_TRUE(topic::matches("$share/g/a/+", "a/b"));
}
