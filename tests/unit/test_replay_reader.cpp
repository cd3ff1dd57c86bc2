// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "dtbus/core/error.hpp"
#include "dtbus/replay/replay.hpp"

using dtbus::replay::InvalidRecord;
using dtbus::replay::Line;
using dtbus::replay::parse_record;
using dtbus::replay::Reader;

namespace {

class ReplayReaderFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dtbus-replay-reader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

std::string error_of(const std::string& text, bool time_required = true) {
  try {
    parse_record(text, time_required);
  } catch (const InvalidRecord& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_F(ReplayReaderFiles, ReadsFilesInOrderSkippingEmptyLinesWithLineNumbers) {
  auto a = write("a.jsonl", "one\n\n  \r\ntwo\r\n");
  auto b = write("b.jsonl", "three");  // no final newline
  Reader reader({a, b});
  reader.check();
  EXPECT_FALSE(reader.reads_stdin());
  EXPECT_EQ(reader.count_lines(), 3u);
  std::vector<std::string> seen;
  Line line;
  while (reader.next(line))
    seen.push_back(line.source + ":" + std::to_string(line.number) + ":" + line.text);
  EXPECT_EQ(seen, (std::vector<std::string>{a + ":1:one", a + ":4:two\r", b + ":1:three"}));
  reader.rewind();
  ASSERT_TRUE(reader.next(line));
  EXPECT_EQ(line.text, "one");
}

TEST_F(ReplayReaderFiles, MissingFileIsAUsageErrorBeforeReading) {
  Reader reader({write("ok.jsonl", "x\n"), (dir_ / "missing.jsonl").string()});
  try {
    reader.check();
    FAIL() << "no error";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), dtbus::ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("missing.jsonl"), std::string::npos);
  }
}

TEST(ReplayReader, StdinHasNoLineCount) {
  Reader reader({});
  EXPECT_TRUE(reader.reads_stdin());
  EXPECT_FALSE(reader.count_lines());
}

TEST(ReplayRecord, SubJsonShape) {
  auto record = parse_record(
      R"({"topic":"a/b","payload":{"x":1},"payload_encoding":"json","qos":2,"retain":true,"mid":7,)"
      R"("received_at":"2026-11-23T08:37:28.123Z"})",
      true);
  EXPECT_EQ(record.topic, "a/b");
  EXPECT_EQ(record.payload, R"({"x":1})");
  EXPECT_EQ(record.qos, 2);
  EXPECT_TRUE(record.retain);
  EXPECT_EQ(record.time_ns, 1795423048123000000LL);
  EXPECT_EQ(record.payload_json(), (dtbus::record::Json{{"x", 1}}));
}

TEST(ReplayRecord, JsonDumpsPayloadIsSentAsItsTextAndSelectedAsJson) {
  // What `sub -o json` / `--record` write for a json.dumps() payload: the value, and the
  // original text beside it. replay sends the text's bytes and --where/--kind read the value.
  auto record = parse_record(
      R"({"topic":"t","payload":{"kind":"a","x":2.5},"payload_encoding":"json",)"
      R"("payload_text":"{\"kind\": \"a\", \"x\": 2.50}","received_at":"2026-11-23T08:37:28.123Z"})",
      true);
  EXPECT_EQ(record.payload, R"({"kind": "a", "x": 2.50})");
  EXPECT_EQ(record.payload_json()["kind"], "a");
  EXPECT_EQ(record.payload_json()["x"], 2.5);
}

TEST(ReplayRecord, EncodingsAndDefaults) {
  auto text =
      parse_record(R"({"topic":"t","payload":"hi","payload_encoding":"utf8","ts":1})", true);
  EXPECT_EQ(text.payload, "hi");
  EXPECT_FALSE(text.qos);
  EXPECT_FALSE(text.retain);
  EXPECT_TRUE(text.payload_json().is_null());
  auto binary =
      parse_record(R"({"topic":"t","payload":"AP8=","payload_encoding":"base64","ts":1})", true);
  EXPECT_EQ(binary.payload, std::string("\0\xff", 2));
}

TEST(ReplayRecord, TimeFieldPreferenceAndFormats) {
  // received_at wins over the others; created_at / timestamp / ts are used when it is absent.
  auto both = parse_record(
      R"({"topic":"t","payload":1,"received_at":"1970-01-01T00:00:02Z","ts":5})", true);
  EXPECT_EQ(both.time_ns, 2'000'000'000);
  EXPECT_EQ(
      parse_record(R"({"topic":"t","payload":1,"created_at":"1970-01-01T00:00:03+00:00"})", true)
          .time_ns,
      3'000'000'000);
  EXPECT_EQ(parse_record(R"({"topic":"t","payload":1,"timestamp":1700000000000})", true).time_ns,
            1'700'000'000'000'000'000LL);
  EXPECT_EQ(parse_record(R"({"topic":"t","payload":1,"ts":1700000000.5})", true).time_ns,
            1'700'000'000'500'000'000LL);
  EXPECT_FALSE(parse_record(R"({"topic":"t","payload":1})", false).time_ns);
}

TEST(ReplayRecord, InvalidLinesNameTheProblem) {
  EXPECT_EQ(error_of("{not json"), "not valid JSON");
  EXPECT_EQ(error_of("[1]"), "not a JSON object");
  EXPECT_EQ(error_of(R"({"payload":1,"ts":1})"), R"(no "topic" field)");
  EXPECT_EQ(error_of(R"({"topic":3,"payload":1,"ts":1})"), R"("topic" is not a string)");
  EXPECT_EQ(error_of(R"({"topic":"t","ts":1})"), R"(no "payload" field)");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":1,"qos":3,"ts":1})"), R"("qos" must be 0, 1 or 2)");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":1,"retain":"yes","ts":1})"),
            R"("retain" is not true/false)");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":1,"ts":"soon"})"), R"("ts" is not a time: "soon")");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":1})"),
            "no time: expected one of received_at, created_at, timestamp, ts");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":1})", false), "");
  EXPECT_EQ(error_of(R"({"topic":"t","payload":"***","payload_encoding":"base64","ts":1})"),
            R"("payload" is not valid base64)");
}

TEST(ReplayRecord, JsonPayloadBytesAreExact) {
  // Key order is kept (ordered JSON), so a "json" payload republishes byte for byte.
  auto record = parse_record(R"({"topic":"t","payload":{"z":1,"a":[true,null]},"ts":1})", true);
  EXPECT_EQ(record.payload, R"({"z":1,"a":[true,null]})");
}

TEST(ReplayRecord, PropertiesAreKept) {
  auto record = parse_record(
      R"({"topic":"t","payload":1,"ts":1,"properties":{"content_type":"application/json",)"
      R"("user_properties":{"k":"v"}}})",
      true);
  EXPECT_EQ(record.properties.content_type, "application/json");
  ASSERT_EQ(record.properties.user.size(), 1u);
  EXPECT_EQ(record.properties.user[0].value, "v");
}

TEST(ReplayRecord, TimeFieldReadsThePayloadWhenThereIsNoReceivedAt) {
  const std::vector<std::string> timestamp{"timestamp"};
  // A DataKnobs event as payload: datetime.isoformat(), naive (UTC) or with an offset.
  auto naive = parse_record(
      R"({"topic":"registry:bots","payload":{"type":"updated","timestamp":"1970-01-01T00:00:02.250000"}})",
      true, timestamp);
  EXPECT_EQ(naive.time_ns, 2'250'000'000);
  auto aware = parse_record(
      R"({"topic":"t","payload":{"timestamp":"1970-01-01T01:00:03+01:00"},"created_at":9})", true,
      timestamp);
  EXPECT_EQ(aware.time_ns, 3'000'000'000);  // before created_at
  // received_at wins; a nested path; a payload recorded as text that holds JSON.
  EXPECT_EQ(
      parse_record(R"({"topic":"t","payload":{"timestamp":5},"received_at":7})", true, timestamp)
          .time_ns,
      7'000'000'000);
  EXPECT_EQ(
      parse_record(R"({"topic":"t","payload":{"meta":{"at":4}}})", true, {"meta", "at"}).time_ns,
      4'000'000'000);
  EXPECT_EQ(
      parse_record(R"({"topic":"t","payload":"{\"timestamp\": 6}","payload_encoding":"utf8"})",
                   true, timestamp)
          .time_ns,
      6'000'000'000);
  // Absent from the payload: the record's own fields still count.
  EXPECT_EQ(parse_record(R"({"topic":"t","payload":{"x":1},"ts":8})", true, timestamp).time_ns,
            8'000'000'000);
}

TEST(ReplayRecord, TimeFieldErrorsNameTheField) {
  const std::vector<std::string> timestamp{"timestamp"};
  try {
    parse_record(R"({"topic":"t","payload":{"timestamp":"soon"}})", true, timestamp);
    FAIL() << "no error";
  } catch (const dtbus::replay::InvalidRecord& e) {
    EXPECT_STREQ(e.what(), R"(payload field "timestamp" (--time-field) is not a time: "soon")");
  }
  try {
    parse_record(R"({"topic":"t","payload":{"x":1}})", true, timestamp);
    FAIL() << "no error";
  } catch (const dtbus::replay::InvalidRecord& e) {
    EXPECT_STREQ(e.what(),
                 R"(no time: expected received_at, the payload field "timestamp" (--time-field), )"
                 "created_at, timestamp or ts");
  }
}
