// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/commands/top/model.hpp"

namespace dtbus::commands::top {
namespace {

using namespace std::chrono_literals;

const SteadyClock::time_point t0{std::chrono::seconds(1000)};

ReceivedMessage message(const std::string& topic, const std::string& payload, int qos = 0,
                        bool retain = false) {
  ReceivedMessage m;
  m.topic = topic;
  m.payload = payload;
  m.qos = qos;
  m.retain = retain;
  return m;
}

TEST(TopRateWindow, CountsPerSecondAndOverAMinute) {
  RateWindow w;
  for (int i = 0; i < 5; ++i) w.add(100, 10);
  w.add(101, 7);
  EXPECT_EQ(w.messages_in(100), 5u);
  EXPECT_EQ(w.bytes_in(100), 50u);
  EXPECT_EQ(w.messages_in(101), 1u);
  EXPECT_EQ(w.messages_in(102), 0u);
  EXPECT_EQ(w.messages_in_minute_to(101), 6u);
  EXPECT_EQ(w.messages_in_minute_to(159), 6u);
  EXPECT_EQ(w.messages_in_minute_to(160), 1u);  // second 100 left the window
  EXPECT_EQ(w.messages_in_minute_to(161), 0u);
  // A second reused after the ring wrapped starts from zero.
  w.add(160, 1);
  EXPECT_EQ(w.messages_in(160), 1u);
  EXPECT_EQ(w.messages_in(100), 0u);
}

TEST(TopModel, BuildsTheTreeWithSubtreeAggregates) {
  Model model;
  model.add(message("plant/a/temp", "21.5"), t0, SystemClock::now());
  model.add(message("plant/a/temp", "21.6", 1, true), t0 + 10ms, SystemClock::now());
  model.add(message("plant/b", R"({"on":true})"), t0 + 20ms, SystemClock::now());
  model.add(message("other", "x"), t0 + 30ms, SystemClock::now());
  EXPECT_EQ(model.messages(), 4u);
  EXPECT_EQ(model.topics(), 3u);
  const Node* plant = model.find("plant");
  ASSERT_NE(plant, nullptr);
  EXPECT_EQ(plant->messages, 3u);
  EXPECT_EQ(plant->topics, 2u);
  EXPECT_EQ(plant->own_messages, 0u);
  EXPECT_EQ(plant->children.size(), 2u);
  const Node* temp = model.find("plant/a/temp");
  ASSERT_NE(temp, nullptr);
  EXPECT_EQ(temp->name, "temp");
  EXPECT_EQ(temp->depth, 2);
  EXPECT_EQ(temp->own_messages, 2u);
  ASSERT_EQ(temp->history.size(), 2u);
  EXPECT_EQ(temp->history.back().payload, "21.6");
  EXPECT_EQ(temp->history.back().qos, 1);
  EXPECT_TRUE(temp->history.back().retain);
  EXPECT_EQ(plant->bytes, 4u + 4u + 11u);
  EXPECT_EQ(plant->rates.messages_in(Model::second_of(t0)), 3u);
}

TEST(TopModel, EmptyLevelsAndATopicThatIsAlsoAParent) {
  Model model;
  model.add(message("/a", "1"), t0, SystemClock::now());
  model.add(message("a", "1"), t0, SystemClock::now());
  model.add(message("a/b", "2"), t0, SystemClock::now());
  EXPECT_NE(model.find(""), nullptr);
  EXPECT_NE(model.find("/a"), nullptr);
  const Node* a = model.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->own_messages, 1u);
  EXPECT_EQ(a->messages, 2u);
  EXPECT_EQ(a->topics, 2u);
}

TEST(TopModel, HistoryIsCappedByCount) {
  Limits limits;
  limits.history = 3;
  Model model(limits);
  for (int i = 0; i < 10; ++i) model.add(message("t", std::to_string(i)), t0, SystemClock::now());
  const Node* t = model.find("t");
  ASSERT_EQ(t->history.size(), 3u);
  EXPECT_EQ(t->history.front().payload, "7");
  EXPECT_EQ(t->history.back().payload, "9");
  EXPECT_EQ(t->own_messages, 10u);
}

TEST(TopModel, HistoryIsCappedByBytesAndTheNewestIsCut) {
  Limits limits;
  limits.history_budget = 4096;  // one topic: 4096 bytes
  Model model(limits);
  model.add(message("t", std::string(3000, 'a')), t0, SystemClock::now());
  model.add(message("t", std::string(3000, 'b')), t0, SystemClock::now());
  const Node* t = model.find("t");
  ASSERT_EQ(t->history.size(), 1u);
  EXPECT_EQ(t->history.back().payload[0], 'b');
  model.add(message("t", std::string(10000, 'c')), t0, SystemClock::now());
  ASSERT_EQ(t->history.size(), 1u);
  EXPECT_EQ(t->history.back().payload.size(), 4096u);
  EXPECT_EQ(t->history.back().size, 10000u);
  EXPECT_TRUE(t->history.back().truncated());
  EXPECT_EQ(model.kept_bytes(), 4096u);
}

TEST(TopModel, KeptBytesStayWithinTheBudgetAsTopicsGrow) {
  Limits limits;
  limits.history_budget = 1 << 20;
  Model model(limits);
  std::string payload(2000, 'x');
  for (int i = 0; i < 5000; ++i) {
    model.add(message("s/" + std::to_string(i), payload), t0, SystemClock::now());
    model.add(message("s/" + std::to_string(i), payload), t0, SystemClock::now());
  }
  EXPECT_EQ(model.topics(), 5000u);
  // Each topic keeps at least 512 bytes; beyond that the shared budget (twice, at most, between
  // two re-budgets) holds.
  EXPECT_LE(model.kept_bytes(), 2 * limits.history_budget + 512u * 5000u);
}

TEST(TopModel, TopicsBeyondTheLimitAreOnlyCounted) {
  Limits limits;
  limits.max_topics = 2;
  Model model(limits);
  model.add(message("a", "1"), t0, SystemClock::now());
  model.add(message("b", "1"), t0, SystemClock::now());
  model.add(message("c", "1"), t0, SystemClock::now());
  model.add(message("a", "2"), t0, SystemClock::now());
  EXPECT_EQ(model.topics(), 2u);
  EXPECT_EQ(model.find("c"), nullptr);
  EXPECT_EQ(model.untracked(), 1u);
  EXPECT_EQ(model.messages(), 3u);
}

TEST(TopModel, PropertiesOnOneLine) {
  Model model;
  ReceivedMessage m = message("t", "{}");
  m.properties.content_type = "application/json";
  m.properties.user.push_back({"k", "v"});
  model.add(m, t0, SystemClock::now());
  EXPECT_EQ(model.find("t")->history.back().properties, "content-type=application/json  k=v");
}

TEST(TopSysSummary, KeepsTheKnownTopicsOnly) {
  SysSummary sys;
  EXPECT_EQ(sys.line(), "");
  EXPECT_TRUE(sys.add("$SYS/broker/version", "mosquitto version 2.0.11"));
  EXPECT_TRUE(sys.add("$SYS/broker/clients/connected", "3"));
  EXPECT_TRUE(sys.add("$SYS/broker/load/messages/received/1min", "12.50"));
  EXPECT_FALSE(sys.add("$SYS/broker/heap/current", "100"));
  EXPECT_EQ(sys.line(), "mosquitto version 2.0.11 · 3 clients · in 12.50/min");
}

}  // namespace
}  // namespace dtbus::commands::top
