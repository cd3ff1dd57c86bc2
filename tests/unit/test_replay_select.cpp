// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/replay/replay.hpp"

using dtbus::replay::InvalidRecord;
using dtbus::replay::parse_record;
using dtbus::replay::Record;
using dtbus::replay::Selection;
using dtbus::replay::TopicMap;

namespace {

Record make(const std::string& topic, const dtbus::record::Json& payload, int64_t ts_s = 100) {
  dtbus::record::Json line = {{"topic", topic}, {"payload", payload}, {"ts", ts_s}};
  return parse_record(line.dump(), true);
}

constexpr int64_t kSecond = 1'000'000'000;

}  // namespace

TEST(ReplaySelection, WindowIsHalfOpen) {
  Selection selection;
  selection.since_ns = 100 * kSecond;
  selection.until_ns = 200 * kSecond;
  EXPECT_FALSE(selection.matches(make("a", 1, 99)));
  EXPECT_TRUE(selection.matches(make("a", 1, 100)));  // since: inclusive
  EXPECT_TRUE(selection.matches(make("a", 1, 199)));
  EXPECT_FALSE(selection.matches(make("a", 1, 200)));  // until: exclusive
}

TEST(ReplaySelection, TopicFiltersUseMqttWildcards) {
  Selection selection;
  selection.topics = {"sensors/+/temp", "alerts/#"};
  EXPECT_TRUE(selection.matches(make("sensors/k1/temp", 1)));
  EXPECT_TRUE(selection.matches(make("alerts", 1)));
  EXPECT_TRUE(selection.matches(make("alerts/x/y", 1)));
  EXPECT_FALSE(selection.matches(make("sensors/k1/hum", 1)));
  EXPECT_FALSE(selection.matches(make("sensors/temp", 1)));
}

TEST(ReplaySelection, KindMatchesTrackerKindOrDtType) {
  Selection selection;
  selection.kinds = {"project_created", "dt.Alarm"};
  EXPECT_TRUE(selection.matches(make("t", {{"kind", "project_created"}})));
  EXPECT_TRUE(selection.matches(make("t", {{"@type", "dt.Alarm"}})));
  EXPECT_FALSE(selection.matches(make("t", {{"kind", "other"}})));
  EXPECT_FALSE(selection.matches(make("t", "project_created")));  // a string payload has no kind
  // A UTF-8 string payload that is JSON text still counts.
  dtbus::record::Json line = {{"topic", "t"},
                              {"payload", R"({"kind":"project_created"})"},
                              {"payload_encoding", "utf8"},
                              {"ts", 1}};
  EXPECT_TRUE(selection.matches(parse_record(line.dump(), true)));
}

TEST(ReplaySelection, WhereConditionsMustAllMatch) {
  Selection selection;
  selection.wheres = dtbus::where::parse_all({"payload.status=active", "n=3"});
  EXPECT_TRUE(selection.matches(make("t", {{"payload", {{"status", "active"}}}, {"n", 3}})));
  EXPECT_FALSE(selection.matches(make("t", {{"payload", {{"status", "idle"}}}, {"n", 3}})));
  EXPECT_FALSE(selection.matches(make("t", {{"payload", {{"status", "active"}}}, {"n", 4}})));
  EXPECT_FALSE(selection.matches(make("t", {{"n", 3}})));
  EXPECT_FALSE(selection.matches(make("t", "not json")));
}

TEST(ReplaySelection, FiltersCombine) {
  Selection selection;
  selection.topics = {"a/#"};
  selection.kinds = {"k"};
  selection.since_ns = 50 * kSecond;
  EXPECT_TRUE(selection.matches(make("a/1", {{"kind", "k"}}, 60)));
  EXPECT_FALSE(selection.matches(make("b/1", {{"kind", "k"}}, 60)));
  EXPECT_FALSE(selection.matches(make("a/1", {{"kind", "x"}}, 60)));
  EXPECT_FALSE(selection.matches(make("a/1", {{"kind", "k"}}, 40)));
}

TEST(ReplayTopicMap, FirstMatchingPrefixWins) {
  TopicMap map;
  map.add("prod/eu/=staging/eu-copy/");
  map.add("prod/=staging/");
  map.add("=replayed/");  // empty FROM prefixes everything: a catch-all
  EXPECT_EQ(map.apply("prod/eu/a"), "staging/eu-copy/a");
  EXPECT_EQ(map.apply("prod/us/a"), "staging/us/a");
  EXPECT_EQ(map.apply("other/x"), "replayed/other/x");
}

TEST(ReplayTopicMap, UnmappedTopicsPassThroughAndResultsAreValidated) {
  TopicMap map;
  map.add("a/=");
  EXPECT_EQ(map.apply("b/c"), "b/c");
  EXPECT_EQ(map.apply("a/c"), "c");
  EXPECT_THROW(map.apply("a/"), InvalidRecord);  // maps to an empty topic
  EXPECT_THROW(map.apply("x/#"), InvalidRecord);
}

TEST(ReplayTopicMap, RejectsMalformedMappings) {
  TopicMap map;
  EXPECT_THROW(map.add("noequals"), dtbus::Error);
  EXPECT_THROW(map.add("a/=b/#"), dtbus::Error);
  EXPECT_THROW(map.add("a/=b/+/c"), dtbus::Error);
  EXPECT_THROW(map.add("a/+/=b/"), dtbus::Error);  // FROM is a literal prefix, not a filter
}
