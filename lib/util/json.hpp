// SPDX-License-Identifier: Apache-2.0
// JSON helpers with no project types: bounded-depth parsing of untrusted text, string literals
// for hand-built JSON lines, and the JSON / YAML renderings of command output.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::util {

// Parsed JSON nested deeper than this counts as not JSON: nlohmann serialises, copies and
// compares values recursively, one stack frame per level, so a payload of a million '[' from
// any publisher would overflow the stack.
inline constexpr int kMaxJsonDepth = 512;

// ordered_json::parse(text, nullptr, false) that also returns a discarded value when `text` nests
// arrays/objects deeper than `max_depth`. Use it for every untrusted payload.
nlohmann::ordered_json parse_json(std::string_view text, int max_depth = kMaxJsonDepth);
// Whether `text` opens more than `max_depth` arrays/objects at once (outside strings).
bool nested_deeper_than(std::string_view text, int max_depth);

// Appends `text` (valid UTF-8) as a JSON string literal with quotes.
void append_json_string(std::string& out, std::string_view text);

// One JSON value per line (JSON Lines); invalid UTF-8 is replaced, never thrown on.
std::string to_json_line(const nlohmann::json& value);
std::string to_json_line(const nlohmann::ordered_json& value);  // keeps key order as built
// Indented JSON for humans.
std::string to_pretty_json(const nlohmann::json& value);
std::string to_pretty_json(const nlohmann::ordered_json& value);
// YAML rendering of a JSON value (config show -o yaml), keys in insertion order.
std::string to_yaml(const nlohmann::ordered_json& value);

}  // namespace dtbus::util

DTBUS_PUBLIC_END
