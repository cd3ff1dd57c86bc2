// SPDX-License-Identifier: Apache-2.0
// MQTT topic names and filters: validation (done before connecting) and matching.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::topic {

// Returns a reason when `name` is not a valid publish topic (empty, wildcard, NUL,
// invalid UTF-8, over 65535 bytes); std::nullopt when valid.
std::optional<std::string> publish_topic_problem(std::string_view name);

// Same for a subscription filter ('#' last and alone in its level, '+' alone in its level,
// `$share/GROUP/filter` accepted).
std::optional<std::string> filter_problem(std::string_view filter);

// Throws dtbus::Error(usage) naming the topic and the problem.
void require_publish_topic(std::string_view name);
void require_filter(std::string_view filter);

// MQTT matching; `$`-topics are not matched by a leading wildcard (MQTT 4.7.2).
// A `$share/GROUP/` prefix on the filter is ignored.
bool matches(std::string_view filter, std::string_view name);

bool valid_utf8(std::string_view text);

}  // namespace dtbus::topic

DTBUS_PUBLIC_END
