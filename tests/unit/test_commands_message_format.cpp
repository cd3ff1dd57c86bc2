// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/commands/message_format.hpp"
#include "dtbus/core/error.hpp"

namespace dtbus::commands {
namespace {

dtbus::ReceivedMessage message() {
  dtbus::ReceivedMessage m;
  m.topic = "tracker/events";
  m.payload = R"({"kind":"created","payload":{"id":7,"tags":["a"]}})";
  m.qos = 1;
  m.retain = true;
  m.mid = 12;
  return m;
}

std::string render(const std::string& spec) {
  Template t(spec);
  dtbus::ReceivedMessage m = message();
  auto json = record::Json::parse(m.payload);
  std::string out;
  t.render(out, m, "2026-01-01T00:00:00.000Z", t.needs_json() ? &json : nullptr);
  return out;
}

TEST(Template, Fields) {
  EXPECT_EQ(render("{topic} {qos} {retain} {mid} {received_at}"),
            "tracker/events 1 true 12 2026-01-01T00:00:00.000Z\n");
  EXPECT_EQ(render("{payload.kind}|{payload.payload.id}|{payload.payload.tags}|{payload.nope}"),
            "created|7|[\"a\"]|\n");
  EXPECT_EQ(render("{payload}"), message().payload + "\n");
}

TEST(Template, BracesAndEscapes) {
  EXPECT_EQ(render("{{{topic}}}\\t\\n"), "{tracker/events}\t\n\n");
  EXPECT_FALSE(Template("{topic}").needs_json());
  EXPECT_TRUE(Template("{payload.x}").needs_json());
}

TEST(Template, Errors) {
  EXPECT_THROW(Template("{nope}"), Error);
  EXPECT_THROW(Template("{topic"), Error);
  EXPECT_THROW(Template("a}b"), Error);
  EXPECT_THROW(Template("{payload.}"), Error);
}

TEST(TextLine, AlignedAndCompact) {
  TextStyle style;
  std::string out;
  dtbus::ReceivedMessage m = message();
  m.payload = "{ \"a\" : 1 }";
  auto now = std::chrono::system_clock::now();
  append_text_line(out, m, now, style);
  dtbus::ReceivedMessage shorter = m;
  shorter.topic = "t";
  shorter.retain = false;
  shorter.payload = std::string("\xff\x01", 2);
  append_text_line(out, shorter, now, style);
  auto first = out.substr(0, out.find('\n'));
  auto second = out.substr(out.find('\n') + 1);
  EXPECT_NE(first.find("tracker/events  q1 r  {\"a\":1}"), std::string::npos) << first;
  EXPECT_NE(second.find("t               q1    /wE= (2 bytes, base64)"), std::string::npos)
      << second;
  EXPECT_EQ(first.find("\x1b["), std::string::npos);  // no colour unless asked
}

TEST(MessageWriter, FormatFromTheFlags) {
  EXPECT_EQ(MessageWriter({}, "raw", true).format(), MessageFormat::raw);
  EXPECT_EQ(MessageWriter({}, "json", true).format(), MessageFormat::json);
  EXPECT_EQ(MessageWriter({"{topic}", false}, "json", true).format(), MessageFormat::templated);
  EXPECT_FALSE(MessageWriter({}, "json", true).color());  // colour is for text only
  EXPECT_TRUE(MessageWriter({"{payload.kind}", false}, "", false).needs_json());
  EXPECT_THROW(MessageWriter({}, "yaml", false), Error);
  EXPECT_THROW(MessageWriter({"{nope}", false}, "text", false), Error);
}

TEST(MessageWriter, JsonLinesAndPrettyWithExtraFields) {
  dtbus::ReceivedMessage m = message();
  auto at = std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1500);
  record::Json extra = {{"valid", false}, {"errors", {"no id"}}};
  std::string line;
  MessageWriter({}, "json", false).append(line, m, at, nullptr, &extra);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto parsed = record::Json::parse(line);
  EXPECT_EQ(parsed["topic"], "tracker/events");
  EXPECT_EQ(parsed["received_at"], "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(parsed["valid"], false);
  EXPECT_EQ(parsed["errors"], record::Json({"no id"}));
  std::string pretty;
  MessageWriter({std::nullopt, true}, "json", false).append(pretty, m, at, nullptr, &extra);
  EXPECT_EQ(record::Json::parse(pretty), parsed);  // the same record, indented
  EXPECT_NE(pretty.find("\n  \"topic\""), std::string::npos) << pretty;
  std::string plain;
  MessageWriter({}, "json", false).append(plain, m, at);
  EXPECT_FALSE(record::Json::parse(plain).contains("valid"));
}

TEST(MessageWriter, RawAndTemplate) {
  dtbus::ReceivedMessage m = message();
  auto at = std::chrono::system_clock::time_point{};
  std::string out;
  MessageWriter({}, "raw", false).append(out, m, at);
  EXPECT_EQ(out, m.payload + "\n");
  out.clear();
  auto payload = record::Json::parse(m.payload);
  MessageWriter({"{payload.kind}|{received_at}", false}, "", false).append(out, m, at, &payload);
  EXPECT_EQ(out, "created|1970-01-01T00:00:00.000Z\n");
}

}  // namespace
}  // namespace dtbus::commands
