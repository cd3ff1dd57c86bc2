// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/replay/replay.hpp"
#include "dtbus/util/time.hpp"

using dtbus::util::epoch_to_ns;
using dtbus::util::format_time;
using dtbus::util::parse_time;
using dtbus::util::parse_time_json;

namespace {
constexpr int64_t kSecond = 1'000'000'000;
// 2026-11-23T08:37:28Z
constexpr int64_t kBase = 1795423048LL * kSecond;
}  // namespace

TEST(ReplayTime, Rfc3339Forms) {
  EXPECT_EQ(parse_time("2026-11-23T08:37:28Z"), kBase);
  EXPECT_EQ(parse_time("2026-11-23T08:37:28.123Z"), kBase + 123'000'000);
  EXPECT_EQ(parse_time("2026-11-23T08:37:28.123456789Z"), kBase + 123'456'789);
  EXPECT_EQ(parse_time("2026-11-23T08:37:28.1234567891Z"), kBase + 123'456'789);
  EXPECT_EQ(parse_time("2026-11-23t08:37:28z"), kBase);
  EXPECT_EQ(parse_time("2026-11-23 08:37:28"), kBase);  // no offset = UTC
  EXPECT_EQ(parse_time("2026-11-23T08:37Z"), kBase - 28 * kSecond);
  EXPECT_EQ(parse_time("2026-11-23"), kBase - (8 * 3600 + 37 * 60 + 28) * kSecond);
}

TEST(ReplayTime, Offsets) {
  EXPECT_EQ(parse_time("2026-11-23T10:37:28+02:00"), kBase);
  EXPECT_EQ(parse_time("2026-11-23T10:37:28.5+0200"), kBase + kSecond / 2);
  EXPECT_EQ(parse_time("2026-11-23T05:07:28-03:30"), kBase);
  EXPECT_EQ(parse_time("2026-11-23T09:37:28+01"), kBase);
}

TEST(ReplayTime, RejectsMalformed) {
  for (const char* bad :
       {"", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30", "2026-11-23T24:00:00Z",
        "2026-11-23T08:37:28.Z", "2026-11-23T08:37:28Zjunk", "2026-11-23T08", "2026/11/23", "12abc",
        "nan", "inf"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
  EXPECT_TRUE(parse_time("2024-02-29"));  // leap day
  EXPECT_FALSE(parse_time("2023-02-29"));
}

TEST(ReplayTime, EpochUnitByMagnitude) {
  EXPECT_EQ(epoch_to_ns(1795423048), kBase);  // seconds
  EXPECT_EQ(epoch_to_ns(1795423048.25), kBase + kSecond / 4);
  EXPECT_EQ(epoch_to_ns(1795423048123.0), kBase + 123'000'000);     // milliseconds
  EXPECT_EQ(epoch_to_ns(1795423048123456.0), kBase + 123'456'000);  // microseconds
  EXPECT_EQ(epoch_to_ns(0), 0);
  EXPECT_EQ(parse_time("1795423048"), kBase);
  EXPECT_EQ(parse_time("1795423048123"), kBase + 123'000'000);
  EXPECT_EQ(parse_time_json(nlohmann::json(1795423048123456789LL)), kBase + 123'456'789);  // ns
  EXPECT_FALSE(epoch_to_ns(1e12 * 1e7));        // past year 2255 in ms
  EXPECT_FALSE(epoch_to_ns(99'999'999'999.0));  // seconds, year 5138: beyond int64 ns
  EXPECT_FALSE(parse_time_json(nlohmann::json(18'000'000'000'000'000'000ULL)));
}

TEST(ReplayTime, DatesOutsideTheNanosecondRangeAreNotTimes) {
  // Found by tests/fuzz/fuzz_envelope: the nanosecond product overflowed int64 (UB).
  EXPECT_FALSE(parse_time("0226-11-23 08:37:28.5z"));
  EXPECT_FALSE(parse_time("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_time_json(nlohmann::json("0001-01-01")));
  EXPECT_TRUE(parse_time("1700-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_time("2250-12-31T23:59:59Z"));
}

TEST(ReplayTime, JsonValues) {
  EXPECT_EQ(parse_time_json(nlohmann::json("2026-11-23T08:37:28Z")), kBase);
  EXPECT_EQ(parse_time_json(nlohmann::json(1795423048)), kBase);
  EXPECT_EQ(parse_time_json(nlohmann::json(1795423048123LL)), kBase + 123'000'000);
  EXPECT_EQ(parse_time_json(nlohmann::json(1795423048.5)), kBase + kSecond / 2);
  EXPECT_FALSE(parse_time_json(nlohmann::json(true)));
  EXPECT_FALSE(parse_time_json(nlohmann::json::object()));
  EXPECT_FALSE(parse_time_json(nlohmann::json(nullptr)));
}

TEST(ReplayTime, FormatRoundTrips) {
  EXPECT_EQ(format_time(kBase + 123'456'789), "2026-11-23T08:37:28.123Z");
  EXPECT_EQ(format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time(-1), "1969-12-31T23:59:59.999Z");
  for (const char* text :
       {"2000-02-29T23:59:59.999Z", "2026-01-01T00:00:00.000Z", "1999-12-31T12:00:00.500Z"}) {
    auto ns = parse_time(text);
    ASSERT_TRUE(ns) << text;
    EXPECT_EQ(format_time(*ns), text);
  }
}
