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

}  // namespace
}  // namespace dtbus::commands
