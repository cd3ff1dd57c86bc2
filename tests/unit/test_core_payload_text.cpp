// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/core/payload_text.hpp"

namespace dtbus::payload_text {
namespace {

TEST(PayloadText, JsonObjectsAndArraysOnOneLineOrIndented) {
  auto one = render(R"({"a": 1, "b": [true, null]})");
  EXPECT_EQ(one.kind, Kind::json);
  EXPECT_EQ(one.text, R"({"a":1,"b":[true,null]})");
  auto pretty = render(R"([1, {"k": "v"}])", 2);
  EXPECT_EQ(pretty.kind, Kind::json);
  EXPECT_EQ(pretty.text, "[\n  1,\n  {\n    \"k\": \"v\"\n  }\n]");
}

TEST(PayloadText, ScalarsAndOtherTextAsTheyAre) {
  EXPECT_EQ(render("42").kind, Kind::text);
  EXPECT_EQ(render("42").text, "42");
  EXPECT_EQ(render("{not json").text, "{not json");
  EXPECT_EQ(render("héllo").kind, Kind::text);
}

TEST(PayloadText, NonUtf8IsBinary) {
  auto r = render(std::string("\x89PNG\x00\xff", 6));
  EXPECT_EQ(r.kind, Kind::binary);
  EXPECT_TRUE(r.text.empty());
}

}  // namespace
}  // namespace dtbus::payload_text
