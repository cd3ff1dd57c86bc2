// SPDX-License-Identifier: Apache-2.0
// DLQ selection: time parsing, filters, ids, republished bytes and the replay count.
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/dlq/filter.hpp"
#include "dtbus/util/time.hpp"

using namespace dtbus::dlq;
using namespace std::chrono;

namespace {

TimePoint utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days(year{y} / month{mo} / day{d}) + hours(h) + minutes(mi) + seconds(s);
}

Entry make(const std::string& body, const std::string& received_at = "2024-05-01T00:00:00.000Z") {
  dtbus::ReceivedMessage m;
  m.topic = "tracker/dlq/x";
  m.payload = body;
  Entry e = entry_from_message(m);
  e.received_at = received_at;
  return e;
}

FilterOptions by_topic(const std::string& filter) {
  FilterOptions o;
  o.topic = filter;
  return o;
}

std::string dlq_body(const std::string& topic, const std::string& reason, const std::string& ts,
                     const std::string& payload = "{}") {
  return R"({"original_topic":")" + topic + R"(","failure_reason":")" + reason +
         R"(","failure_timestamp":")" + ts + R"(","payload":)" + payload + "}";
}

TEST(DlqTime, ParsesRfc3339AndIsoVariants) {
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15Z"), utc(2024, 5, 1, 12, 30, 15));
  EXPECT_EQ(parse_timestamp("2024-05-01t12:30:15z"), utc(2024, 5, 1, 12, 30, 15));
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15+02:00"), utc(2024, 5, 1, 10, 30, 15));
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15-0130"), utc(2024, 5, 1, 14, 0, 15));
  EXPECT_EQ(parse_timestamp("2024-05-01 12:30"), utc(2024, 5, 1, 12, 30));
  EXPECT_EQ(parse_timestamp("2024-05-01"), utc(2024, 5, 1));
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15.250Z"),
            utc(2024, 5, 1, 12, 30, 15) + milliseconds(250));
  // Python's isoformat(): microseconds and an offset, or no zone at all (taken as UTC).
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15.123456+00:00"),
            utc(2024, 5, 1, 12, 30, 15) + microseconds(123456));
  EXPECT_EQ(parse_timestamp("2024-05-01T12:30:15.5"),
            utc(2024, 5, 1, 12, 30, 15) + milliseconds(500));
}

TEST(DlqTime, RejectsWhatIsNotATime) {
  for (const char* bad :
       {"", "yesterday", "2024-13-01", "2024-02-30", "2024-05-01T25:00Z", "2024-05-01T12",
        "2024-05-01T12:00Zjunk", "2024-05-01T12:00:00.Z", "2024/05/01"}) {
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
  }
}

TEST(DlqTime, RelativeAgesCountBackFromNow) {
  TimePoint now = utc(2024, 5, 10, 12);
  EXPECT_EQ(parse_time_option("30s", now, "--since"), now - seconds(30));
  EXPECT_EQ(parse_time_option("15m", now, "--since"), now - minutes(15));
  EXPECT_EQ(parse_time_option("2h", now, "--since"), now - hours(2));
  EXPECT_EQ(parse_time_option("1d", now, "--since"), now - hours(24));
  EXPECT_EQ(parse_time_option("1w", now, "--since"), now - hours(24 * 7));
  EXPECT_EQ(parse_time_option("2024-05-01T00:00:00Z", now, "--since"), utc(2024, 5, 1));
  EXPECT_EQ(parse_time_option("1714564800", now, "--since"), utc(2024, 5, 1, 12))
      << "epoch seconds";
  for (const char* bad : {"h", "-2h", "2x", "2.5h", "soon", ""}) {
    try {
      parse_time_option(bad, now, "--until");
      FAIL() << bad;
    } catch (const dtbus::Error& e) {
      EXPECT_EQ(e.code(), dtbus::ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find("--until '"), std::string::npos);
    }
  }
}

TEST(DlqTime, Ages) {
  // The dlq list's age column (util::compact_duration).
  using dtbus::util::compact_duration;
  EXPECT_EQ(compact_duration(seconds(5)), "5s");
  EXPECT_EQ(compact_duration(minutes(7)), "7m");
  EXPECT_EQ(compact_duration(hours(5)), "5h");
  EXPECT_EQ(compact_duration(hours(50)), "2d");
  EXPECT_EQ(compact_duration(-hours(1)), "0s");
}

TEST(DlqFilter, TopicWildcardsOnOriginalTopic) {
  TimePoint now = utc(2024, 5, 10);
  Entry a = make(dlq_body("tracker/projects/created", "r", "2024-05-01T00:00:00Z"));
  Entry b = make(dlq_body("tracker/users/1", "r", "2024-05-01T00:00:00Z"));
  Entry bad = make("junk");
  Filter projects(by_topic("tracker/projects/#"), now);
  EXPECT_TRUE(projects.matches(a));
  EXPECT_FALSE(projects.matches(b));
  EXPECT_FALSE(projects.matches(bad)) << "no original_topic, no topic match";
  Filter plus(by_topic("tracker/+/1"), now);
  EXPECT_TRUE(plus.matches(b));
  EXPECT_FALSE(plus.matches(a));
  Filter none({}, now);
  EXPECT_TRUE(none.matches(bad));
  EXPECT_THROW(Filter(by_topic("a/#/b"), now), dtbus::Error);
}

TEST(DlqFilter, TopicFilterAlsoMatchesWithTheBrokerPrefix) {
  TimePoint now = utc(2024, 5, 10);
  Entry a = make(dlq_body("celine/dt/tracker/projects", "r", "2024-05-01T00:00:00Z"));
  EXPECT_TRUE(Filter(by_topic("tracker/#"), now, "celine/dt/").matches(a));
  EXPECT_TRUE(Filter(by_topic("celine/dt/tracker/#"), now, "celine/dt/").matches(a));
  EXPECT_FALSE(Filter(by_topic("tracker/#"), now).matches(a));
}

TEST(DlqFilter, ReasonRegexIsSearchedAndInvalidRegexIsUsageError) {
  TimePoint now = utc(2024, 5, 10);
  Entry timeout = make(dlq_body("a", "upstream timeout after 30s", "2024-05-01T00:00:00Z"));
  Entry schema = make(dlq_body("a", "SchemaError: field x", "2024-05-01T00:00:00Z"));
  FilterOptions o;
  o.reason = "time(out)?";
  EXPECT_TRUE(Filter(o, now).matches(timeout));
  EXPECT_FALSE(Filter(o, now).matches(schema));
  o.reason = "^Schema";
  EXPECT_TRUE(Filter(o, now).matches(schema));
  o.reason = "malformed";
  EXPECT_TRUE(Filter(o, now).matches(make("junk"))) << "the malformed reason is searchable";
  o.reason = "(unclosed";
  try {
    Filter f(o, now);
    FAIL();
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::usage);
  }
}

TEST(DlqFilter, SinceInclusiveUntilExclusiveOnFailureTimeElseReceivedAt) {
  TimePoint now = utc(2024, 5, 10);
  Entry early = make(dlq_body("a", "r", "2024-05-01T00:00:00Z"));
  Entry late = make(dlq_body("a", "r", "2024-05-03T00:00:00Z"));
  Entry no_ts = make(R"({"original_topic":"a","payload":1})", "2024-05-02T00:00:00.000Z");
  Entry odd_ts = make(dlq_body("a", "r", "last tuesday"), "2024-05-02T12:00:00.000Z");
  FilterOptions o;
  o.since = "2024-05-01T00:00:00Z";
  o.until = "2024-05-03T00:00:00Z";
  Filter f(o, now);
  EXPECT_TRUE(f.matches(early));
  EXPECT_FALSE(f.matches(late));
  EXPECT_TRUE(f.matches(no_ts)) << "falls back to received_at";
  EXPECT_TRUE(f.matches(odd_ts)) << "unparseable failure_timestamp falls back to received_at";
  FilterOptions recent;
  recent.since = "8d";
  EXPECT_TRUE(Filter(recent, now).matches(late));
  EXPECT_FALSE(Filter(recent, now).matches(early));
}

TEST(DlqFilter, EpochNumbersAsFailureTimestamp) {
  Entry seconds_ts = make(R"({"original_topic":"a","payload":1,"failure_timestamp":1714564800})");
  Entry millis_ts = make(R"({"original_topic":"a","payload":1,"failure_timestamp":1714564800500})");
  EXPECT_EQ(entry_time(seconds_ts), utc(2024, 5, 1, 12));
  EXPECT_EQ(entry_time(millis_ts), utc(2024, 5, 1, 12) + milliseconds(500));
}

TEST(DlqPayload, JsonValuesKeepTheirKeyOrderAndStringsAreTheirBytes) {
  EXPECT_EQ(payload_bytes(make(R"({"original_topic":"a","payload":{"b":1, "a":[1,2.5,"x"]}})")),
            R"({"b":1,"a":[1,2.5,"x"]})");
  EXPECT_EQ(payload_bytes(make(R"({"original_topic":"a","payload":"plain text\nline"})")),
            "plain text\nline");
  EXPECT_EQ(payload_bytes(make(R"({"original_topic":"a","payload":42})")), "42");
  EXPECT_EQ(payload_bytes(make(R"({"original_topic":"a","payload":null})")), "null");
  EXPECT_EQ(
      payload_bytes(make(R"({"original_topic":"a","payload":"AAH/","payload_encoding":"base64"})")),
      std::string("\x00\x01\xff", 3));
}

TEST(DlqPayload, ReplayCountFromPropertiesBodyOrPayload) {
  EXPECT_EQ(previous_replay_count(make(R"({"original_topic":"a","payload":1})")), 0);
  EXPECT_EQ(
      previous_replay_count(make(R"({"original_topic":"a","payload":1,"dtbus-replay-count":2})")),
      2);
  EXPECT_EQ(
      previous_replay_count(make(R"({"original_topic":"a","payload":{"dtbus-replay-count":"3"}})")),
      3);
  Entry with_property = make(R"({"original_topic":"a","payload":1})");
  with_property.user_properties = {{"dtbus-replay-count", "4"}, {"other", "9"}};
  EXPECT_EQ(previous_replay_count(with_property), 4);
}

TEST(DlqSelect, IdsExactOrUniquePrefixAndStates) {
  std::string path = testing::TempDir() + "dtbus-select-" + std::to_string(getpid()) + ".jsonl";
  std::remove(path.c_str());
  {
    Spool spool(path, Spool::Mode::read_write);
    const char* ids[] = {"AAAA1", "AAAA2", "BBBB1"};
    for (int i = 0; i < 3; ++i) {
      Entry e = make(dlq_body("t/" + std::to_string(i), "r", "2024-05-01"));
      e.id = ids[i];
      spool.append(std::move(e));
    }
    spool.change({{"AAAA2", State::recovered, "t/1"}});
    TimePoint now = utc(2024, 5, 10);
    EXPECT_EQ(select(spool, Filter({}, now), {State::pending}).size(), 2u);
    EXPECT_EQ(select(spool, Filter({}, now), {State::pending, State::recovered}).size(), 3u);
    FilterOptions by_id;
    by_id.ids = {"AAAA1"};
    auto one = select(spool, Filter(by_id, now), {State::pending});
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0]->id, "AAAA1");
    by_id.ids = {"BB"};
    one = select(spool, Filter(by_id, now), {State::pending});
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0]->id, "BBBB1");
    by_id.ids = {"AAAA2"};
    EXPECT_TRUE(select(spool, Filter(by_id, now), {State::pending}).empty()) << "not pending";
    by_id.ids = {"ZZZZ"};
    EXPECT_THROW(select(spool, Filter(by_id, now), {State::pending}), dtbus::Error);
    by_id.ids = {"AAAA"};
    EXPECT_THROW(select(spool, Filter(by_id, now), {State::pending}), dtbus::Error);
  }
  std::remove(path.c_str());
}

}  // namespace
