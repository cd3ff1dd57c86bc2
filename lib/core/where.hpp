// SPDX-License-Identifier: Apache-2.0
// `--where PATH=VALUE` conditions (sub, replay): a dotted path into a JSON payload compared with a
// value. `kind=project_created` reads payload["kind"]; `payload.status=active` reads
// payload["payload"]["status"] (the inner payload of an envelope); a numeric segment indexes
// an array (`items.0.id=7`). A string field matches its text; a number, boolean or null matches
// its JSON spelling (`count=3`, `done=true`, `parent=null`). A missing field never matches.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace dtbus::where {

struct Condition {
  std::string spec;               // as given, for messages
  std::vector<std::string> path;  // dotted path segments
  std::string value;
};

// Throws Error(usage) for a spec without '=' or with an empty path segment.
Condition parse(std::string_view spec);
std::vector<Condition> parse_all(const std::vector<std::string>& specs);

// The value at `path`, or nullptr when absent.
const nlohmann::ordered_json* lookup(const nlohmann::ordered_json& value,
                                     const std::vector<std::string>& path);
const nlohmann::json* lookup(const nlohmann::json& value, const std::vector<std::string>& path);

bool matches(const Condition& condition, const nlohmann::ordered_json& payload);
bool matches(const Condition& condition, const nlohmann::json& payload);
// All conditions must match (true for an empty list).
bool matches_all(const std::vector<Condition>& conditions, const nlohmann::ordered_json& payload);
bool matches_all(const std::vector<Condition>& conditions, const nlohmann::json& payload);

// A field as text for templates and comparisons: strings raw, other values as compact JSON.
std::string field_text(const nlohmann::ordered_json& value);

}  // namespace dtbus::where
