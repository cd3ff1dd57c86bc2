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

}  // namespace dtbus::util
