// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/core/record.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::record {
using namespace util;  // base64, JSON and time helpers the record is built with

namespace {

dtbus::ReceivedMessage message(std::string payload) {
  dtbus::ReceivedMessage m;
  m.topic = "a/b";
  m.payload = std::move(payload);
  m.qos = 1;
  m.mid = 7;
  return m;
}

// The line `sub -o json` prints, parsed back as `pub --jsonl` does.
std::string round_trip(const std::string& payload) {
  std::string line;
  append_record_line(line, message(payload), "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(line.back(), '\n');
  return payload_bytes(parse_record(line));
}

TEST(Record, CanonicalJsonIsEmbedded) {
  auto encoded = encode_payload(R"({"b":1,"a":[true,null,"x"]})");
  EXPECT_EQ(encoded.encoding, PayloadEncoding::json);
  EXPECT_EQ(encoded.value.dump(), R"({"b":1,"a":[true,null,"x"]})");  // key order kept
  EXPECT_EQ(classify_payload("42"), PayloadEncoding::json);
  EXPECT_EQ(classify_payload("\"quoted\""), PayloadEncoding::json);
}

TEST(Record, AnyJsonIsJsonAndNonCompactKeepsItsText) {
  // json.dumps() output and any other spacing/number form: the value, plus the original text.
  for (std::string text : {R"({"b": 1, "a": 2.50})", "{ \"a\": 1 }\n", "1e5", R"({"a":"\u00e9"})",
                           R"({"a":1,"a":2})", "  [1, 2]"}) {
    EXPECT_EQ(classify_payload(text), PayloadEncoding::json) << text;
    auto encoded = encode_payload(text);
    EXPECT_EQ(encoded.encoding, PayloadEncoding::json) << text;
    ASSERT_TRUE(encoded.text.has_value()) << text;
    EXPECT_EQ(*encoded.text, text);
  }
  EXPECT_EQ(encode_payload(R"({"kind": "a"})").value["kind"], "a");
  EXPECT_FALSE(encode_payload(R"({"kind":"a"})").text.has_value());  // compact: no text
  EXPECT_EQ(classify_payload("hello world"), PayloadEncoding::utf8);
  EXPECT_EQ(classify_payload("{not json}"), PayloadEncoding::utf8);
  EXPECT_EQ(classify_payload("NaN"), PayloadEncoding::utf8);
  EXPECT_EQ(classify_payload("\xEF\xBB\xBF{}"), PayloadEncoding::utf8);  // json.loads refuses a BOM
  EXPECT_EQ(classify_payload(""), PayloadEncoding::utf8);
}

TEST(Record, PayloadTextSitsBesideTheValue) {
  std::string line;
  append_record_line(line, message(R"({"kind": "a", "v": 2.50})"), "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(line,
            R"({"topic":"a/b","payload":{"kind":"a","v":2.5},"payload_encoding":"json",)"
            R"("payload_text":"{\"kind\": \"a\", \"v\": 2.50}","qos":1,"retain":false,"mid":7,)"
            R"("received_at":"2026-01-02T03:04:05.678Z"})"
            "\n");
  EXPECT_EQ(
      to_record(message(R"({"kind": "a", "v": 2.50})"), "2026-01-02T03:04:05.678Z").dump() + "\n",
      line);
  EXPECT_EQ(payload_bytes(parse_record(line)), R"({"kind": "a", "v": 2.50})");
}

TEST(Record, LineAndRecordAgreeOnEveryJsonForm) {
  // append_record_line writes common JSON without building a tree; it must give what
  // to_record (the full parser) gives, byte for byte, in every case.
  const std::string payloads[] = {
      R"({"kind": "a", "v": 2.50, "n": -3, "f": 1e5, "g": 1E+2, "h": -0.0, "i": 0.1})",
      R"({"x": 1.7976931348623157e308, "y": 5e-324, "z": 123456789.123456789, "w": 1e-7})",
      R"({"big": 12345678901234567890, "min": -9223372036854775808, "nz": -0, "z": 0})",
      R"({"e": "q\"b\\n\n\t\r\b\f", "s": "\/", "u": "\u00e9", "raw": "é", "del": "\u007f"})",
      R"({"a": 1, "a": 2, "b": {"a": 3}})",
      R"([ [ ], { }, [ { "a" : [ 1 , 2 ] } ] ])",
      "\n {\"t\": true, \"f\": false, \"n\": null} \r\n",
      R"({"x": 1})",
      R"({"x":1})",
      "42",
      "-1.5",
      "\"just a string\"",
      "01",
      "1.",
      "[1,]",
      "{\"a\" 1}",
      "nul",
      "1e400",
      "[" + std::string(100, '[') + std::string(101, ']'),
      "{\"k\": \"tab\there\"}"};
  for (const auto& p : payloads) {
    std::string line;
    append_record_line(line, message(p), "2026-01-02T03:04:05.678Z");
    EXPECT_EQ(line, to_record(message(p), "2026-01-02T03:04:05.678Z").dump() + "\n") << p;
    EXPECT_EQ(payload_bytes(parse_record(line)), p);
  }
}

TEST(Record, EditedPayloadWinsOverStalePayloadText) {
  // `sub -o json | jq '.payload.v = 3' | pub --jsonl`: the edit is sent (compact), not the
  // original text, which no longer parses to the payload.
  Json r = Json::parse(
      R"({"payload":{"kind":"a","v":3},"payload_encoding":"json","payload_text":"{\"kind\": \"a\", \"v\": 2.50}"})");
  EXPECT_EQ(payload_bytes(r), R"({"kind":"a","v":3})");
  // Keys reordered by a tool that sorts them: same value, the original text is kept.
  Json sorted = Json::parse(
      R"({"payload":{"a":1,"b":2},"payload_encoding":"json","payload_text":"{\"b\": 2, \"a\": 1}"})");
  EXPECT_EQ(payload_bytes(sorted), R"({"b": 2, "a": 1})");
  EXPECT_EQ(payload_bytes(nlohmann::json(sorted)), R"({"b": 2, "a": 1})");
  EXPECT_THROW(
      payload_bytes(Json::parse(R"({"payload":{},"payload_encoding":"json","payload_text":5})")),
      std::invalid_argument);
}

TEST(Record, BinaryIsBase64) {
  std::string binary("\xff\x00\x01\xfe", 4);
  auto encoded = encode_payload(binary);
  EXPECT_EQ(encoded.encoding, PayloadEncoding::base64);
  EXPECT_EQ(encoded.value, "/wAB/g==");
}

TEST(Record, RoundTripsAreByteExact) {
  const std::string payloads[] = {R"({"b":1, "a":2.50})",
                                  R"({"kind": "a", "x": [1, 2], "name": "\u00e9"})",
                                  "{\n  \"indent\": 2\n}",
                                  "\xEF\xBB\xBF{\"bom\":1}",
                                  R"({"z":{"y":[1,2,{"x":"é"}]},"a":-0.5})",
                                  "{ \"a\": 1 }\n",
                                  "plain text",
                                  "tab\tand \"quotes\" and \\ backslash",
                                  std::string("nul\0inside", 10),
                                  std::string("\xff\xfe\x00\x80", 4),
                                  "",
                                  "null",
                                  "123456789012345678901234567890",
                                  "\xc3\x28",  // invalid UTF-8
                                  "line1\nline2\r\n",
                                  "\x1b[31mred\x1b[0m"};
  for (const auto& p : payloads) EXPECT_EQ(round_trip(p), p) << "payload: " << p;
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(Record, NestingDepthIsCountedOutsideStrings) {
  EXPECT_FALSE(nested_deeper_than(nested(3), 3));
  EXPECT_TRUE(nested_deeper_than(nested(4), 3));
  EXPECT_TRUE(nested_deeper_than(R"([{"a":[{}]}])", 3));
  EXPECT_FALSE(nested_deeper_than(R"(["[[[[", {"k\"[[[":"{{{"}])", 2));
  EXPECT_FALSE(nested_deeper_than("[1],[2],[3]", 1));
  EXPECT_TRUE(parse_json(nested(kMaxJsonDepth + 1)).is_discarded());
  EXPECT_EQ(parse_json(nested(kMaxJsonDepth)).dump(), nested(kMaxJsonDepth));
}

TEST(Record, DeeplyNestedPayloadsDoNotOverflowTheStack) {
  // Found with tests/fuzz/fuzz_record on a long line: a payload of 200000 '[' parsed fine but
  // overflowed the stack when serialised (sub -o json, pub --jsonl, replay).
  std::string deep = nested(200000);
  EXPECT_EQ(classify_payload(deep), PayloadEncoding::utf8);
  EXPECT_EQ(round_trip(deep), deep);  // kept byte-exact, as a string
  try {
    parse_record(R"({"topic":"t","payload":)" + deep + "}");
    ADD_FAILURE() << "parsed";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "JSON nested deeper than 512 levels in the payload");
  }
  // At the limit the payload is still a JSON value and relays unchanged.
  EXPECT_EQ(classify_payload(nested(kMaxJsonDepth)), PayloadEncoding::json);
  EXPECT_EQ(round_trip(nested(kMaxJsonDepth)), nested(kMaxJsonDepth));
}

TEST(Record, LineHasAllFields) {
  dtbus::ReceivedMessage m = message(R"({"k":"v"})");
  m.retain = true;
  m.properties.content_type = "application/json";
  m.properties.user.push_back({"a", "1"});
  m.properties.user.push_back({"a", "2"});
  std::string line;
  append_record_line(line, m, "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(
      line,
      R"({"topic":"a/b","payload":{"k":"v"},"payload_encoding":"json","qos":1,"retain":true,"mid":7,)"
      R"("received_at":"2026-01-02T03:04:05.678Z","properties":{"content_type":"application/json",)"
      R"("user_properties":{"a":["1","2"]}}})"
      "\n");
  // to_record builds the same object.
  EXPECT_EQ(to_record(m, "2026-01-02T03:04:05.678Z").dump() + "\n", line);
  dtbus::ReceivedMessage back = to_message(parse_record(line));
  EXPECT_EQ(back.topic, "a/b");
  EXPECT_EQ(back.qos, 1);
  EXPECT_TRUE(back.retain);
  EXPECT_EQ(back.properties.content_type, "application/json");
  ASSERT_EQ(back.properties.user.size(), 2u);
  EXPECT_EQ(back.properties.user[1].value, "2");
}

TEST(Record, PayloadWithoutEncoding) {
  EXPECT_EQ(payload_bytes(Json::parse(R"({"payload":"text"})")), "text");
  EXPECT_EQ(payload_bytes(Json::parse(R"({"payload":{"b":1,"a":2}})")), R"({"b":1,"a":2})");
  EXPECT_EQ(payload_bytes(nlohmann::json::parse(R"({"payload":[1,2]})")), "[1,2]");
}

TEST(Record, MalformedRecordsAreRejected) {
  EXPECT_THROW(parse_record("not json"), std::invalid_argument);
  EXPECT_THROW(parse_record("[1]"), std::invalid_argument);
  EXPECT_THROW(parse_record(R"({"topic":"a"})"), std::invalid_argument);
  EXPECT_THROW(payload_bytes(Json::parse(R"({"payload":"%%","payload_encoding":"base64"})")),
               std::invalid_argument);
  EXPECT_THROW(payload_bytes(Json::parse(R"({"payload":1,"payload_encoding":"utf8"})")),
               std::invalid_argument);
  EXPECT_THROW(to_message(Json::parse(R"({"topic":"a","payload":"x","qos":3})")),
               std::invalid_argument);
  // Not truncated to an int first (4294967297 would become 1).
  EXPECT_THROW(to_message(Json::parse(R"({"topic":"a","payload":"x","qos":4294967297})")),
               std::invalid_argument);
  EXPECT_THROW(to_message(Json::parse(R"({"topic":"a","payload":"x","qos":-4294967295})")),
               std::invalid_argument);
}

TEST(Record, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_decode("Zm9vYg==").value(), "foob");
  EXPECT_EQ(base64_decode("Zm9vYg").value(), "foob");
  EXPECT_FALSE(base64_decode("Z").has_value());
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
}

TEST(Record, Timestamps) {
  auto time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  EXPECT_EQ(rfc3339_ms(time), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(now_rfc3339_ms().size(), 24u);
}

}  // namespace
}  // namespace dtbus::record
