// SPDX-License-Identifier: Apache-2.0
// Record and --since/--until times: RFC 3339 / ISO 8601 strings and epoch numbers.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "dtbus/util/time.hpp"

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

namespace dtbus::util {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr double kMaxAbsNs = 9e18;  // int64 nanoseconds: years 1685 to 2255

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// A cursor over the text; each reader returns false without consuming on a mismatch.
struct Cursor {
  std::string_view text;
  size_t pos = 0;
  bool done() const { return pos == text.size(); }
  bool peek(char c) const { return pos < text.size() && text[pos] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++pos;
    return true;
  }
  bool digits(size_t count, int& out) {
    if (pos + count > text.size()) return false;
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      char c = text[pos + i];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      value = value * 10 + (c - '0');
    }
    pos += count;
    out = value;
    return true;
  }
};

std::optional<int64_t> parse_iso8601(std::string_view text) {
  Cursor in{text};
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!in.digits(4, year) || !in.take('-') || !in.digits(2, month) || !in.take('-') ||
      !in.digits(2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, month)) {
    return std::nullopt;
  }
  int64_t fraction_ns = 0;
  int64_t offset_s = 0;
  if (!in.done()) {
    if (!in.take('T') && !in.take('t') && !in.take(' ')) return std::nullopt;
    if (!in.digits(2, hour) || !in.take(':') || !in.digits(2, minute)) return std::nullopt;
    if (in.take(':')) {
      if (!in.digits(2, second)) return std::nullopt;
      if (in.take('.') || in.take(',')) {
        int64_t scale = kNsPerSecond / 10;
        size_t start = in.pos;
        while (!in.done() && std::isdigit(static_cast<unsigned char>(in.text[in.pos]))) {
          fraction_ns += (in.text[in.pos] - '0') * scale;  // digits past 9 add 0
          scale /= 10;
          ++in.pos;
        }
        if (in.pos == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: leap second
    if (in.take('Z') || in.take('z')) {
    } else if (in.peek('+') || in.peek('-')) {
      int sign = in.take('-') ? -1 : (in.take('+'), 1);
      int offset_h, offset_m = 0;
      if (!in.digits(2, offset_h)) return std::nullopt;
      if (in.take(':')) {
        if (!in.digits(2, offset_m)) return std::nullopt;
      } else if (!in.done() && !in.digits(2, offset_m)) {
        return std::nullopt;
      }
      if (offset_h > 23 || offset_m > 59) return std::nullopt;
      offset_s = sign * (offset_h * 3600 + offset_m * 60);
    }
    if (!in.done()) return std::nullopt;
  }
  int64_t seconds =
      days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Years 0000-9999 parse, but only 1685 to 2255 fit in int64 nanoseconds (as for epochs).
  if (std::fabs(static_cast<double>(seconds)) >= kMaxAbsNs / kNsPerSecond) return std::nullopt;
  return seconds * kNsPerSecond + fraction_ns;
}

}  // namespace

namespace {

// Nanoseconds per unit of an epoch number of this magnitude (see epoch_to_ns).
int64_t epoch_unit_ns(double magnitude) {
  return magnitude < 1e11   ? 1'000'000'000
         : magnitude < 1e14 ? 1'000'000
         : magnitude < 1e17 ? 1'000
                            : 1;
}

}  // namespace

std::optional<int64_t> epoch_to_ns(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  int64_t unit = epoch_unit_ns(std::fabs(value));
  if (std::fabs(value) * static_cast<double>(unit) >= kMaxAbsNs) return std::nullopt;
  // Whole units and the fraction apart, so that 1795423048.25 s or 1795423048123 ms come out
  // exact instead of picking up double rounding in the product.
  double whole = std::trunc(value);
  return static_cast<int64_t>(whole) * unit +
         std::llround((value - whole) * static_cast<double>(unit));
}

std::optional<int64_t> parse_time(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  if (auto iso = parse_iso8601(text)) return iso;
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return epoch_to_ns(number);
}

std::optional<int64_t> parse_time_json(const nlohmann::ordered_json& value) {
  if (value.is_string()) return parse_time(value.get_ref<const std::string&>());
  if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t{INT64_MAX})
    return std::nullopt;
  if (value.is_number_integer()) {  // exact, also for nanosecond epochs beyond 2^53
    auto number = value.get<int64_t>();
    int64_t unit = epoch_unit_ns(std::fabs(static_cast<double>(number)));
    if (std::fabs(static_cast<double>(number)) * static_cast<double>(unit) >= kMaxAbsNs) {
      return std::nullopt;
    }
    return number * unit;
  }
  if (value.is_number()) return epoch_to_ns(value.get<double>());
  return std::nullopt;
}

std::string format_time(int64_t ns) {
  int64_t seconds = ns / kNsPerSecond;
  int64_t rest = ns % kNsPerSecond;
  if (rest < 0) {
    rest += kNsPerSecond;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2);
  char buffer[64];
  std::snprintf(
      buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
      static_cast<long long>(year), month, day, static_cast<long long>(second_of_day / 3600),
      static_cast<long long>(second_of_day / 60 % 60), static_cast<long long>(second_of_day % 60),
      static_cast<long long>(rest / 1'000'000));
  return buffer;
}

std::string now_rfc3339_ms() { return rfc3339_ms(std::chrono::system_clock::now()); }

std::string rfc3339_ms(std::chrono::system_clock::time_point time) {
  // The second-resolution part is formatted once per second per thread (hot path in `sub`).
  thread_local std::time_t cached_second = -1;
  thread_local char cached[32];
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  if (seconds != cached_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = seconds;
  }
  char text[40];
  std::snprintf(text, sizeof text, "%s.%03dZ", cached, static_cast<int>(ms % 1000));
  return text;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

std::string clock_duration(double seconds) {
  auto total = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                  total % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", total / 60, total % 60);
  }
  return buffer;
}

std::string compact_duration(std::chrono::seconds duration) {
  long long age = std::max<long long>(0, duration.count());
  if (age < 60) return std::to_string(age) + "s";
  if (age < 3600) return std::to_string(age / 60) + "m";
  if (age < 86400) return std::to_string(age / 3600) + "h";
  return std::to_string(age / 86400) + "d";
}

std::string human_duration(std::chrono::seconds duration) {
  long long total = std::max<long long>(0, duration.count());
  long long days = total / 86400, hours = total % 86400 / 3600, minutes = total % 3600 / 60,
            seconds = total % 60;
  auto part = [](long long n, const char* unit) { return std::to_string(n) + unit; };
  if (days > 0) return part(days, "d ") + part(hours, "h");
  if (hours > 0) return part(hours, "h ") + part(minutes, "m ") + part(seconds, "s");
  if (minutes > 0) return part(minutes, "m ") + part(seconds, "s");
  return part(seconds, "s");
}

}  // namespace dtbus::util
