// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <map>

#include "dtbus/config/config.hpp"

using dtbus::config::EnvLookup;
using dtbus::config::expand_env;

namespace {

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const EnvLookup kEnv = fake_env({{"A", "alpha"}, {"E", ""}, {"PORT", "1883"}});

std::string value(std::string_view text) {
  auto out = expand_env(text, kEnv);
  EXPECT_FALSE(out.error) << text << ": " << out.error.value_or("");
  return out.value;
}

std::string error(std::string_view text) {
  auto out = expand_env(text, kEnv);
  EXPECT_TRUE(out.error) << text;
  return out.error.value_or("");
}

}  // namespace

TEST(EnvExpand, PlainTextIsUnchanged) {
  EXPECT_EQ(value("plain text: {braces} and } alone"), "plain text: {braces} and } alone");
  EXPECT_EQ(value(""), "");
}

TEST(EnvExpand, BracedAndBareNames) {
  EXPECT_EQ(value("${A}"), "alpha");
  EXPECT_EQ(value("x${A}y"), "xalphay");
  EXPECT_EQ(value("$A"), "alpha");
  EXPECT_EQ(value("$A.b/$PORT"), "alpha.b/1883");  // a bare name ends at the first non-name char
  EXPECT_EQ(value("$Ab"), "");                     // ...and is greedy: Ab, not A + "b"
}

TEST(EnvExpand, UnsetWithoutDefaultIsEmptyAndRecordedOnce) {
  auto out = expand_env("${MISSING}-$MISSING-$OTHER", kEnv);
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.value, "--");
  EXPECT_EQ(out.unset_without_default, (std::vector<std::string>{"MISSING", "OTHER"}));
}

TEST(EnvExpand, EmptyButSetIsNotUnset) {
  auto out = expand_env("[${E}]", kEnv);
  EXPECT_EQ(out.value, "[]");
  EXPECT_TRUE(out.unset_without_default.empty());
}

TEST(EnvExpand, ColonDashDefaultsWhenUnsetOrEmpty) {
  EXPECT_EQ(value("${A:-d}"), "alpha");
  EXPECT_EQ(value("${E:-d}"), "d");
  EXPECT_EQ(value("${U:-d}"), "d");
  EXPECT_EQ(value("${U:-}"), "");
  EXPECT_EQ(value("${U:-with spaces: and colons}"), "with spaces: and colons");
  EXPECT_TRUE(expand_env("${U:-d}", kEnv).unset_without_default.empty());
}

TEST(EnvExpand, DashDefaultsOnlyWhenUnset) {
  EXPECT_EQ(value("${A-d}"), "alpha");
  EXPECT_EQ(value("${E-d}"), "");
  EXPECT_EQ(value("${U-d}"), "d");
}

TEST(EnvExpand, ColonQuestionFailsWhenUnsetOrEmpty) {
  EXPECT_EQ(value("${A:?need A}"), "alpha");
  std::string unset = error("${U:?set U to the broker host}");
  EXPECT_NE(unset.find("U"), std::string::npos);
  EXPECT_NE(unset.find("set U to the broker host"), std::string::npos);
  EXPECT_NE(error("${E:?must not be empty}").find("must not be empty"), std::string::npos);
  EXPECT_EQ(error("${U:?}"), "required variable U is not set or empty");
}

TEST(EnvExpand, QuestionFailsOnlyWhenUnset) {
  EXPECT_EQ(value("${E?unset}"), "");
  EXPECT_EQ(error("${U?is required}"), "required variable U is not set: is required");
}

TEST(EnvExpand, ErrorClearsTheValue) {
  auto out = expand_env("prefix-${U:?x}", kEnv);
  EXPECT_TRUE(out.error);
  EXPECT_EQ(out.value, "");
}

TEST(EnvExpand, PlusAlternatives) {
  EXPECT_EQ(value("${A:+alt}"), "alt");
  EXPECT_EQ(value("${E:+alt}"), "");
  EXPECT_EQ(value("${U:+alt}"), "");
  EXPECT_EQ(value("${E+alt}"), "alt");
  EXPECT_EQ(value("${U+alt}"), "");
}

TEST(EnvExpand, NestedOperandsAreExpanded) {
  EXPECT_EQ(value("${U:-${V:-x}}"), "x");
  EXPECT_EQ(value("${U:-${A}}"), "alpha");
  EXPECT_EQ(value("${U:-${V:-${A}/${PORT}}}!"), "alpha/1883!");
  EXPECT_EQ(value("${A:+[${PORT}]}"), "[1883]");
  EXPECT_EQ(error("${U:?set U, A is ${A}}"),
            "required variable U is not set or empty: set U, A is alpha");
}

TEST(EnvExpand, UnusedOperandsDoNotWarn) {
  EXPECT_TRUE(expand_env("${A:-${NOPE}}", kEnv).unset_without_default.empty());
  EXPECT_FALSE(expand_env("${A:-${NOPE:?never evaluated}}", kEnv).error);
  auto used = expand_env("${U:-${NOPE}}", kEnv);
  EXPECT_EQ(used.unset_without_default, std::vector<std::string>{"NOPE"});
}

TEST(EnvExpand, DoubleDollarIsALiteralDollar) {
  EXPECT_EQ(value("$$"), "$");
  EXPECT_EQ(value("a$$b"), "a$b");
  EXPECT_EQ(value("$${A}"), "${A}");
  EXPECT_EQ(value("$$A"), "$A");
  EXPECT_EQ(value("${U:-$$}"), "$");
  EXPECT_EQ(value("${U:-$${A}}"), "${A}");  // an escaped brace does not nest
}

TEST(EnvExpand, LoneDollarStaysLiteral) {
  EXPECT_EQ(value("costs $5"), "costs $5");
  EXPECT_EQ(value("end$"), "end$");
  EXPECT_EQ(value("$ x"), "$ x");
  EXPECT_EQ(value("$-/$}"), "$-/$}");
}

TEST(EnvExpand, SyntaxErrors) {
  EXPECT_NE(error("${").find("unterminated"), std::string::npos);
  EXPECT_NE(error("x${A").find("unterminated"), std::string::npos);
  EXPECT_NE(error("${A:-x").find("unterminated"), std::string::npos);
  EXPECT_NE(error("${A:-${B:-x}").find("unterminated"), std::string::npos);
  EXPECT_NE(error("${}").find("invalid variable name"), std::string::npos);
  EXPECT_NE(error("${1A}").find("invalid variable name"), std::string::npos);
  EXPECT_NE(error("${A B}").find("invalid"), std::string::npos);
  EXPECT_NE(error("${A:x}").find("invalid"), std::string::npos);
  EXPECT_EQ(error("ab${"), "unterminated \"${\" at character 3");
}

TEST(EnvExpand, SyntaxErrorsNeverQuoteTheInput) {
  for (std::string text : {"s3cr3t${", "s3cr3t${!x}", "s3cr3t${A:x}", "${s3cr3t"}) {
    EXPECT_EQ(error(text).find("s3cr3t"), std::string::npos) << text;
  }
}

TEST(EnvExpand, ProcessEnvReadsTheRealEnvironment) {
  ::setenv("DTBUS_TEST_EXPAND", "from-env", 1);
  ::unsetenv("DTBUS_TEST_EXPAND_UNSET");
  auto env = dtbus::config::process_env();
  EXPECT_EQ(env("DTBUS_TEST_EXPAND"), "from-env");
  EXPECT_EQ(env("DTBUS_TEST_EXPAND_UNSET"), std::nullopt);
  EXPECT_EQ(expand_env("${DTBUS_TEST_EXPAND}", env).value, "from-env");
}
