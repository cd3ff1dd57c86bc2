// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/where.hpp"

#include "dtbus/core/error.hpp"

namespace dtbus::where {
namespace {

template <typename J>
const J* lookup_in(const J& root, const std::vector<std::string>& path) {
  const J* node = &root;
  for (const auto& segment : path) {
    if (node->is_object()) {
      auto it = node->find(segment);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (segment.empty() || segment.find_first_not_of("0123456789") != std::string::npos)
        return nullptr;
      size_t index = std::stoul(segment);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

template <typename J>
bool matches_one(const Condition& condition, const J& payload) {
  const J* value = lookup_in(payload, condition.path);
  if (value == nullptr) return false;
  if (value->is_string()) return value->template get_ref<const std::string&>() == condition.value;
  if (value->is_object() || value->is_array()) return false;
  return value->dump() == condition.value;
}

}  // namespace

Condition parse(std::string_view spec) {
  size_t eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw Error(ExitCode::usage,
                "--where '" + std::string(spec) + "': expected PATH=VALUE (e.g. kind=created)");
  }
  Condition condition;
  condition.spec = std::string(spec);
  condition.value = std::string(spec.substr(eq + 1));
  std::string_view path = spec.substr(0, eq);
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view segment =
        path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (segment.empty()) {
      throw Error(ExitCode::usage,
                  "--where '" + std::string(spec) + "': empty segment in the path");
    }
    condition.path.emplace_back(segment);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return condition;
}

std::vector<Condition> parse_all(const std::vector<std::string>& specs) {
  std::vector<Condition> conditions;
  conditions.reserve(specs.size());
  for (const auto& spec : specs) conditions.push_back(parse(spec));
  return conditions;
}

const nlohmann::ordered_json* lookup(const nlohmann::ordered_json& value,
                                     const std::vector<std::string>& path) {
  return lookup_in(value, path);
}
const nlohmann::json* lookup(const nlohmann::json& value, const std::vector<std::string>& path) {
  return lookup_in(value, path);
}

bool matches(const Condition& condition, const nlohmann::ordered_json& payload) {
  return matches_one(condition, payload);
}
bool matches(const Condition& condition, const nlohmann::json& payload) {
  return matches_one(condition, payload);
}

bool matches_all(const std::vector<Condition>& conditions, const nlohmann::ordered_json& payload) {
  for (const auto& c : conditions) {
    if (!matches_one(c, payload)) return false;
  }
  return true;
}
bool matches_all(const std::vector<Condition>& conditions, const nlohmann::json& payload) {
  for (const auto& c : conditions) {
    if (!matches_one(c, payload)) return false;
  }
  return true;
}

std::string field_text(const nlohmann::ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dtbus::where
