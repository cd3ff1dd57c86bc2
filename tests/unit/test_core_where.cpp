// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/where.hpp"

namespace dtbus::where {
namespace {

const auto kEvent = nlohmann::ordered_json::parse(
    R"({"kind":"project_created","count":3,"done":false,"parent":null,"payload":{"status":"active","items":[{"id":7}]}})");

TEST(Where, ParsesPathAndValue) {
  Condition c = parse("payload.status=active=yes");
  EXPECT_EQ(c.path, (std::vector<std::string>{"payload", "status"}));
  EXPECT_EQ(c.value, "active=yes");
  EXPECT_THROW(parse("novalue"), Error);
  EXPECT_THROW(parse("=x"), Error);
  EXPECT_THROW(parse("a..b=x"), Error);
}

TEST(Where, MatchesStringsNumbersAndNested) {
  EXPECT_TRUE(matches(parse("kind=project_created"), kEvent));
  EXPECT_FALSE(matches(parse("kind=project_deleted"), kEvent));
  EXPECT_TRUE(matches(parse("payload.status=active"), kEvent));
  EXPECT_TRUE(matches(parse("count=3"), kEvent));
  EXPECT_TRUE(matches(parse("done=false"), kEvent));
  EXPECT_TRUE(matches(parse("parent=null"), kEvent));
  EXPECT_TRUE(matches(parse("payload.items.0.id=7"), kEvent));
  EXPECT_FALSE(matches(parse("payload.items.1.id=7"), kEvent));
  EXPECT_FALSE(matches(parse("missing=x"), kEvent));
  EXPECT_FALSE(matches(parse("payload=x"), kEvent));  // objects never match
}

TEST(Where, AllMustMatch) {
  EXPECT_TRUE(matches_all(parse_all({"kind=project_created", "payload.status=active"}), kEvent));
  EXPECT_FALSE(matches_all(parse_all({"kind=project_created", "payload.status=closed"}), kEvent));
  EXPECT_TRUE(matches_all({}, kEvent));
  EXPECT_TRUE(matches_all(parse_all({"kind=project_created"}), nlohmann::json(kEvent)));
}

}  // namespace
}  // namespace dtbus::where
