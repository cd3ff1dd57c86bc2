// SPDX-License-Identifier: Apache-2.0
// Which records are replayed (--since/--until, --topic, --kind, --where) and where to
// (--topic-map). --where conditions are dtbus/core/where.hpp's, shared with sub.
#include <algorithm>

#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/replay/replay.hpp"

namespace dtbus::replay {

bool Selection::matches(const Record& record) const {
  if (since_ns && (!record.time_ns || *record.time_ns < *since_ns)) return false;
  if (until_ns && (!record.time_ns || *record.time_ns >= *until_ns)) return false;
  if (!topics.empty() && std::none_of(topics.begin(), topics.end(), [&](const std::string& filter) {
        return topic::matches(filter, record.topic);
      })) {
    return false;
  }
  if (kinds.empty() && wheres.empty()) return true;
  record::Json payload = record.payload_json();
  if (!kinds.empty()) {
    std::string kind;
    if (payload.is_object()) {
      for (const char* field : {"kind", "@type"}) {
        auto it = payload.find(field);
        if (it != payload.end() && it->is_string()) {
          kind = it->get<std::string>();
          break;
        }
      }
    }
    if (kind.empty() || std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) return false;
  }
  return where::matches_all(wheres, payload);
}

void TopicMap::add(const std::string& mapping) {
  size_t equals = mapping.find('=');
  if (equals == std::string::npos) {
    throw Error(ExitCode::usage, "--topic-map '" + mapping +
                                     "': expected FROM=TO (topic prefixes, e.g. prod/=staging/)");
  }
  // Both sides are literal topic prefixes: a wildcard would never match or never publish.
  if (mapping.find_first_of("+#") != std::string::npos) {
    throw Error(ExitCode::usage,
                "--topic-map '" + mapping +
                    "': FROM and TO are topic prefixes, wildcards (+ #) are not allowed");
  }
  mappings_.emplace_back(mapping.substr(0, equals), mapping.substr(equals + 1));
}

std::string TopicMap::apply(const std::string& topic) const {
  std::string result = topic;
  for (const auto& [from, to] : mappings_) {
    if (topic.compare(0, from.size(), from) == 0) {
      result = to + topic.substr(from.size());
      break;
    }
  }
  if (auto problem = topic::publish_topic_problem(result)) {
    if (result == topic)
      throw InvalidRecord("field 'topic': invalid topic '" + topic + "': " + *problem);
    throw InvalidRecord("topic '" + topic + "' maps to '" + result + "': " + *problem);
  }
  return result;
}

}  // namespace dtbus::replay
