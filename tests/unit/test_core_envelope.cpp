// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <regex>

#include "dtbus/core/envelope.hpp"
#include "dtbus/core/error.hpp"

namespace dtbus::envelope {
namespace {

TEST(Envelope, TrackerFields) {
  Options o;
  o.kind = Kind::tracker;
  o.event_kind = "project_created";
  Json e = wrap(o, Json::parse(R"({"b":1,"a":2})"));
  EXPECT_TRUE(is_uuid(e["trace_id"].get<std::string>()));
  EXPECT_EQ(e["trace_id"].get<std::string>()[14], '4');
  EXPECT_TRUE(is_iso8601(e["ts"].get<std::string>()));
  EXPECT_EQ(e["kind"], "project_created");
  EXPECT_TRUE(std::regex_match(e["idempotency_key"].get<std::string>(),
                               std::regex("project_created_[0-9]{13}_[0-9a-f]{8}")));
  EXPECT_EQ(e["payload"].dump(), R"({"b":1,"a":2})");
  EXPECT_TRUE(validate(Kind::tracker, e).empty());
  o.trace_id = "given";
  EXPECT_EQ(wrap(o, 1)["trace_id"], "given");
}

TEST(Envelope, DtFields) {
  Options o;
  o.kind = Kind::dt;
  o.event_type = "MeterReading";
  o.source = {"ops.cli", "1.0.0", "ops"};
  o.correlation_id = "c-1";
  Json e = wrap(o, Json::parse(R"({"v":1})"));
  EXPECT_EQ(e["@context"], kDtContext);
  EXPECT_EQ(e["@type"], "MeterReading");
  EXPECT_TRUE(is_uuid(e["id"].get<std::string>()));
  EXPECT_EQ(e["source"]["app_key"], "ops.cli");
  EXPECT_TRUE(is_iso8601(e["timestamp"].get<std::string>()));
  EXPECT_EQ(e["correlation_id"], "c-1");
  EXPECT_EQ(e["metadata"], Json::object());
  EXPECT_TRUE(validate(Kind::dt, e).empty());
  EXPECT_EQ(event_kind(e).value(), "MeterReading");
}

TEST(Envelope, RequiredOptions) {
  Options o;
  o.kind = Kind::tracker;
  EXPECT_THROW(check_options(o), Error);
  o.kind = Kind::dt;
  EXPECT_THROW(check_options(o), Error);
  EXPECT_THROW(parse_kind("xml"), Error);
}

TEST(Envelope, ValidationNamesProblems) {
  auto errors =
      validate(Kind::tracker, Json::parse(R"({"trace_id":"nope","ts":"yesterday","kind":""})"));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0], "\"trace_id\" is not a UUID");
  EXPECT_NE(errors[1].find("ISO 8601"), std::string::npos);
  EXPECT_NE(errors[2].find("kind"), std::string::npos);
  EXPECT_EQ(errors[3], "missing \"payload\"");
  EXPECT_FALSE(validate(Kind::dt, Json::parse(R"({"@type":"x"})")).empty());
  EXPECT_FALSE(validate(Kind::tracker, Json::parse("[1]")).empty());
}

TEST(Envelope, Iso8601) {
  EXPECT_TRUE(is_iso8601("2026-11-23T08:37:28.123Z"));
  EXPECT_TRUE(is_iso8601("2026-11-23T08:37:28+01:00"));
  EXPECT_TRUE(is_iso8601("2026-11-23 08:37:28.5-05:30"));
  EXPECT_FALSE(is_iso8601("2026-11-23T08:37:28"));
  EXPECT_FALSE(is_iso8601("2026-13-23T08:37:28Z"));
  EXPECT_FALSE(is_iso8601("1700000000"));
}

TEST(Envelope, Iso8601RejectsOutOfRangeFields) {
  // Found by tests/fuzz/fuzz_envelope: minutes, seconds, offsets and month lengths were unchecked.
  EXPECT_FALSE(is_iso8601("2026-11-23 08:37:82.5z"));
  EXPECT_FALSE(is_iso8601("2026-11-23T08:60:00Z"));
  EXPECT_FALSE(is_iso8601("2026-02-30T08:37:28Z"));
  EXPECT_FALSE(is_iso8601("2026-11-23T08:37:28+24:00"));
  EXPECT_FALSE(is_iso8601("2026-11-23T08:37:28+01:60"));
  EXPECT_TRUE(is_iso8601("2024-02-29T23:59:60Z"));  // leap day, leap second
  EXPECT_TRUE(is_iso8601("2026-11-23T08:37:28-23:59"));
}

TEST(Envelope, EventKind) {
  EXPECT_EQ(event_kind(Json::parse(R"({"kind":"a","@type":"b"})")).value(), "a");
  EXPECT_EQ(event_kind(nlohmann::json::parse(R"({"@type":"b"})")).value(), "b");
  EXPECT_FALSE(event_kind(Json::parse(R"({"kind":""})")).has_value());
  EXPECT_FALSE(event_kind(Json::parse("3")).has_value());
}

}  // namespace
}  // namespace dtbus::envelope
