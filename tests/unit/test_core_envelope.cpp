// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "dtbus/core/envelope.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/util/json.hpp"

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
  EXPECT_EQ(errors[0], "missing required field(s): idempotency_key");
  EXPECT_EQ(errors[1], "\"trace_id\" is not a UUID");
  EXPECT_NE(errors[2].find("ISO 8601"), std::string::npos);
  EXPECT_NE(errors[3].find("kind"), std::string::npos);
  EXPECT_FALSE(validate(Kind::dt, Json::parse(R"({"@type":"x"})")).empty());
  EXPECT_FALSE(validate(Kind::tracker, Json::parse("[1]")).empty());
}

// ---- One test per rule of the table (envelope.cpp), each citing the seed behaviour it mirrors.

const Json kTracker = Json::parse(R"({"trace_id":"550e8400-e29b-41d4-a716-446655440000",
  "ts":"2025-01-15T10:30:00Z","kind":"project_created",
  "idempotency_key":"project_created_1642247400_a1b2c3d4","payload":{"a":1}})");

Json tracker_with(const char* field, const Json& value) {
  Json e = kTracker;
  e[field] = value;
  return e;
}
Json tracker_without(const char* field) {
  Json e = kTracker;
  e.erase(field);
  return e;
}
bool valid(Kind kind, const Json& e) { return validate(kind, e).empty(); }
bool processing_error(const std::vector<std::string>& errors) {
  return errors.size() == 1 && errors[0].rfind(kProcessingError, 0) == 0;
}

TEST(EnvelopeRules, TableNamesEveryRuleAndItsSeedBehaviour) {
  std::vector<std::string> names;
  for (const auto& rule : rules()) {
    names.emplace_back(rule.name);
    EXPECT_GT(std::string(rule.mirrors).size(), 20u) << rule.name;
  }
  for (const char* name :
       {"json", "object", "tracker.required", "tracker.trace_id.type", "tracker.trace_id.uuid",
        "tracker.ts.type", "tracker.ts.isoformat", "tracker.kind", "dt.required", "dt.timestamp"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

// json: `payload = json.loads(message.payload.decode())` raising goes to the DLQ as
// "Processing error" (seed 001 _process_message).
TEST(EnvelopeRules, JsonPythonJsonLoadsOrProcessingError) {
  std::string good = kTracker.dump();
  EXPECT_TRUE(validate_payload(Kind::tracker, good, Json::parse(good)).empty());
  for (std::string bytes :
       {std::string("project created"), std::string("\xff\xfe{}"), "\xEF\xBB\xBF" + good}) {
    auto parsed = util::parse_json(bytes);
    EXPECT_TRUE(processing_error(validate_payload(Kind::tracker, bytes, parsed))) << bytes;
  }
  // json.dumps writes NaN/Infinity for such floats and json.loads reads them back.
  std::string nan = R"({"trace_id":"550e8400-e29b-41d4-a716-446655440000","ts":"2025-01-15",
    "kind":"k","idempotency_key":"i","payload":{"v":NaN,"w":-Infinity,"s":"NaN"}})";
  EXPECT_TRUE(validate_payload(Kind::tracker, nan, util::parse_json(nan)).empty());
  std::string nan_ts = R"({"trace_id":"550e8400-e29b-41d4-a716-446655440000","ts":NaN,
    "kind":"k","idempotency_key":"i"})";
  EXPECT_TRUE(processing_error(validate_payload(Kind::tracker, nan_ts, util::parse_json(nan_ts))));
}

// object: validate_event's `f not in payload` / `payload.get` raise on a list, str, number or
// None (TypeError/AttributeError, not ValueError): "Processing error".
TEST(EnvelopeRules, ObjectOrProcessingError) {
  for (const char* text : {"[1]", "\"trace_id ts kind\"", "42", "null", "true"}) {
    auto errors = validate(Kind::tracker, Json::parse(text));
    EXPECT_TRUE(processing_error(errors)) << text;
    EXPECT_EQ(errors[0], std::string(kProcessingError) + "payload is not a JSON object");
  }
  EXPECT_TRUE(processing_error(validate(Kind::dt, Json::parse("[]"))));
}

// tracker.required: required_fields = ['trace_id', 'ts', 'kind', 'idempotency_key'] with
// `f not in payload`: any value counts as present, and payload is not required.
TEST(EnvelopeRules, TrackerRequiredFields) {
  EXPECT_TRUE(valid(Kind::tracker, tracker_without("payload")));
  EXPECT_TRUE(valid(Kind::tracker, tracker_with("idempotency_key", nullptr)));
  EXPECT_TRUE(valid(Kind::tracker, tracker_with("idempotency_key", 42)));
  auto errors = validate(Kind::tracker, tracker_without("idempotency_key"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "missing required field(s): idempotency_key");
  EXPECT_FALSE(valid(Kind::tracker, Json::object()));
}

// tracker.trace_id.type: uuid.UUID(12345) raises AttributeError, uuid.UUID(None) TypeError;
// neither is the ValueError validate_event catches, so the processor reports a processing error.
TEST(EnvelopeRules, TrackerTraceIdNotAStringIsAProcessingError) {
  for (const Json& id : {Json(12345), Json(nullptr), Json::array(), Json(true)}) {
    EXPECT_TRUE(processing_error(validate(Kind::tracker, tracker_with("trace_id", id))));
  }
  // It wins over validation errors found before it (the exception ends validate_event).
  Json e = tracker_with("trace_id", 1);
  e.erase("idempotency_key");
  EXPECT_TRUE(processing_error(validate(Kind::tracker, e)));
}

// tracker.trace_id.uuid: uuid.UUID(str) must not raise ValueError.
TEST(EnvelopeRules, TrackerTraceIdAsPythonUuid) {
  for (const char* id :
       {"550e8400-e29b-41d4-a716-446655440000", "{550e8400-e29b-41d4-a716-446655440000}",
        "550e8400e29b41d4a716446655440000", "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "550E8400-E29B-41D4-A716-446655440000", "0x0e8400e29b41d4a716446655440000",
        "550e8400_29b41d4a716446655440000", "{{550e8400e29b41d4a716446655440000}",
        " 50e8400e29b41d4a716446655440000", "+50e8400e29b41d4a716446655440000",
        "\u0665\u0665\u0660e8400-e29b-41d4-a716-446655440000",
        "5-5-0-e8400e29b41d4a716446655440000", "uurn:uid:550e8400e29b41d4a716446655440000"}) {
    EXPECT_TRUE(python_uuid_accepts(id)) << id;
    EXPECT_TRUE(valid(Kind::tracker, tracker_with("trace_id", id))) << id;
  }
  for (const char* id :
       {"", "nope", "550e8400-e29b-41d4-a716-44665544000", "550e8400-e29b-41d4-a716-4466554400000",
        "550e8400_e29b41d4a716446655440000", "g50e8400e29b41d4a716446655440000",
        "__0e8400e29b41d4a716446655440000", "550e8400e29b41d4a71644665544000_",
        "0x_e8400e29b41d4a716446655440000x", "\u00e950e8400e29b41d4a71644665544000"}) {
    EXPECT_FALSE(python_uuid_accepts(id)) << id;
  }
  auto errors = validate(Kind::tracker, tracker_with("trace_id", "nope"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "\"trace_id\" is not a UUID");
}

// tracker.ts.type: payload.get('ts', '').replace(...) raises AttributeError for a non-string.
TEST(EnvelopeRules, TrackerTsNotAStringIsAProcessingError) {
  for (const Json& ts : {Json(1700000000), Json(nullptr), Json::object()}) {
    EXPECT_TRUE(processing_error(validate(Kind::tracker, tracker_with("ts", ts))));
  }
}

// tracker.ts.isoformat: datetime.fromisoformat(ts.replace('Z', '+00:00')), Python 3.11.
TEST(EnvelopeRules, TrackerTsAsPython311FromIsoformat) {
  for (const char* ts :
       {"2025-01-15T10:30:00Z", "2025-01-15", "2025-01-15T10:30:00", "2025-01-15 10:30:00.123456",
        "2025-01-15T10:30:00.123+01:00", "20250115T103000", "2025-W03-3", "2025W03",
        "2025-01-15T10:30:00,5Z", "2025-01-15T10", "2025-01-15T10:30:00.1234567",
        "2025-01-15x10:30", "2025-01-15T10:00+00:99", "2025-01-15T10:30:00:00", "2020-W53-7",
        "2025-01-15T10:00-23:59:59.999999"}) {
    EXPECT_TRUE(valid(Kind::tracker, tracker_with("ts", ts))) << ts;
  }
  for (const char* ts :
       {"", "yesterday", "2025-01-15T10:30:00ZZ", "2025-02-30", "2025-01-15T24:00:00",
        "2025-01-15T10:30:00+24:00", "2024-12-31T23:59:60Z", "2025-01-15T", "2025-01-15T10:30:00.",
        "2025-W01-", "2025-001", "0000-01-01", "9999-W52-6", "2025-W53-1", "2025-01",
        "2025-01-15T10:3", "2025-0115", "1700000000"}) {
    EXPECT_FALSE(valid(Kind::tracker, tracker_with("ts", ts))) << ts;
  }
  EXPECT_FALSE(valid(Kind::tracker, tracker_without("ts")));
}

// tracker.kind: `not isinstance(payload.get('kind'), str) or not payload.get('kind')`.
TEST(EnvelopeRules, TrackerKindNonEmptyString) {
  EXPECT_TRUE(valid(Kind::tracker, tracker_with("kind", "x")));
  for (const Json& kind : {Json(""), Json(5), Json(nullptr), Json::array({"k"})}) {
    auto errors = validate(Kind::tracker, tracker_with("kind", kind));
    ASSERT_EQ(errors.size(), 1u) << kind.dump();
    EXPECT_EQ(errors[0], "\"kind\" must be a non-empty string");  // a validation error
  }
}

// dt rules: CELINE's Base Event Structure (seed 000), ReceivedMessage.payload a dict.
const Json kDt = Json::parse(R"({"@context":"https://celine-project.eu/contexts/dt-event.jsonld",
  "@type":"dt.my-module.my-event","id":"550e8400-e29b-41d4-a716-446655440000",
  "source":{"app_key":"my-module.my-app","app_version":"1.0.0","module":"my-module"},
  "timestamp":"2025-01-24T10:30:00Z","correlation_id":"req-12345","payload":{},"metadata":{}})");

Json dt_with(const char* field, const Json& value) {
  Json e = kDt;
  e[field] = value;
  return e;
}
Json dt_without(const char* field) {
  Json e = kDt;
  e.erase(field);
  return e;
}

TEST(EnvelopeRules, DtRequiredFields) {
  EXPECT_TRUE(valid(Kind::dt, kDt));
  EXPECT_TRUE(valid(Kind::dt, dt_without("correlation_id")));
  EXPECT_TRUE(valid(Kind::dt, dt_without("metadata")));
  for (const char* field : {"@context", "@type", "id", "source", "timestamp", "payload"}) {
    auto errors = validate(Kind::dt, dt_without(field));
    ASSERT_EQ(errors.size(), 1u) << field;
    EXPECT_EQ(errors[0], std::string("missing required field(s): ") + field);
  }
}

TEST(EnvelopeRules, DtFieldTypes) {
  EXPECT_TRUE(valid(Kind::dt, dt_with("@context", Json::array({"https://x"}))));
  EXPECT_FALSE(valid(Kind::dt, dt_with("@context", 1)));
  EXPECT_FALSE(valid(Kind::dt, dt_with("@type", "")));
  EXPECT_FALSE(valid(Kind::dt, dt_with("id", 7)));
  EXPECT_TRUE(valid(Kind::dt, dt_with("source", "ops")));
  EXPECT_FALSE(valid(Kind::dt, dt_with("source", 1)));
  EXPECT_TRUE(valid(Kind::dt, dt_with("correlation_id", nullptr)));
  EXPECT_FALSE(valid(Kind::dt, dt_with("correlation_id", 3)));
  EXPECT_FALSE(valid(Kind::dt, dt_with("metadata", "x")));
}

TEST(EnvelopeRules, DtTimestampAsPythonFromIsoformat) {
  EXPECT_TRUE(valid(Kind::dt, dt_with("timestamp", "2025-01-24T10:30:00.123456+00:00")));
  EXPECT_TRUE(valid(Kind::dt, dt_with("timestamp", "2025-01-24T10:30:00")));
  EXPECT_FALSE(valid(Kind::dt, dt_with("timestamp", "2025-01-24T25:30:00Z")));
  EXPECT_FALSE(valid(Kind::dt, dt_with("timestamp", 1706092200)));
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
