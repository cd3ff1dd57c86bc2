// SPDX-License-Identifier: Apache-2.0
// Times as records and flags write them: RFC 3339 / ISO 8601 text and epoch numbers, as
// nanoseconds since the Unix epoch (UTC).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dtbus::util {

// RFC 3339 / ISO 8601: `2026-11-23T08:37:28Z`, `2026-11-23T08:37:28.123456+02:00`,
// `2026-11-23 08:37:28` (no offset = UTC), `2026-11-23T08:37` and a bare date `2026-11-23`
// (midnight UTC); or an epoch number written as text. nullopt when not a time or outside the
// int64 nanosecond range (years 1685 to 2255).
std::optional<int64_t> parse_time(std::string_view text);
// An epoch number; the unit is chosen by magnitude: below 1e11 seconds (until year 5138), below
// 1e14 milliseconds, below 1e17 microseconds, else nanoseconds. nullopt when not finite or
// outside the int64 nanosecond range (years 1685 to 2255).
std::optional<int64_t> epoch_to_ns(double value);
// A JSON time value: string as parse_time(), or an epoch number. nullopt when neither.
std::optional<int64_t> parse_time_json(const nlohmann::ordered_json& value);
// RFC 3339 UTC with milliseconds: 2026-11-23T08:37:28.123Z
std::string format_time(int64_t ns);
std::string now_rfc3339_ms();
std::string rfc3339_ms(std::chrono::system_clock::time_point time);

// ---- Durations, each in the shape one place of the output needs ----
// A number of seconds as "%g" prints it (2.5, 60, 0.001): in messages like "within 2.5 s".
std::string seconds_text(double seconds);
// A progress bar's clock: 4:05, 1:02:03 (rounded to the second).
std::string clock_duration(double seconds);
// A table column's age, in its largest whole unit: 45s, 12m, 3h, 5d (negative counts as 0).
std::string compact_duration(std::chrono::seconds duration);
// For a person: 59s, 4m 12s, 1h 0m 5s, 2d 3h (negative counts as 0).
std::string human_duration(std::chrono::seconds duration);

}  // namespace dtbus::util
