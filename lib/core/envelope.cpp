// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/envelope.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <random>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::envelope {
namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

std::string hex8() {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(generator()() & 0xFFFFFFFFu));
  return text;
}

long long epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool non_empty_string(const Json& message, const char* name) {
  auto it = message.find(name);
  return it != message.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

void require_string(const Json& m, const char* name, std::vector<std::string>& errors) {
  if (!m.contains(name)) {
    errors.push_back(std::string("missing \"") + name + "\"");
  } else if (!non_empty_string(m, name)) {
    errors.push_back(std::string("\"") + name + "\" must be a non-empty string");
  }
}

void require_time(const Json& m, const char* name, std::vector<std::string>& errors) {
  if (!m.contains(name)) {
    errors.push_back(std::string("missing \"") + name + "\"");
  } else if (!m[name].is_string() || !is_iso8601(m[name].get_ref<const std::string&>())) {
    errors.push_back(std::string("\"") + name + "\" is not an ISO 8601 date-time with a time zone");
  }
}

template <typename J>
std::optional<std::string> kind_of(const J& payload) {
  if (!payload.is_object()) return std::nullopt;
  for (const char* name : {"kind", "@type"}) {
    auto it = payload.find(name);
    if (it != payload.end() && it->is_string() &&
        !it->template get_ref<const std::string&>().empty()) {
      return it->template get<std::string>();
    }
  }
  return std::nullopt;
}

}  // namespace

Kind parse_kind(std::string_view name) {
  if (name == "none") return Kind::none;
  if (name == "dt") return Kind::dt;
  if (name == "tracker") return Kind::tracker;
  throw Error(ExitCode::usage,
              "unknown envelope '" + std::string(name) + "' (none, dt or tracker)");
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none:
      return "none";
    case Kind::dt:
      return "dt";
    case Kind::tracker:
      return "tracker";
  }
  return "none";
}

void check_options(const Options& options) {
  if (options.kind == Kind::tracker && options.event_kind.empty()) {
    throw Error(ExitCode::usage, "the tracker envelope needs --kind (the event kind)");
  }
  if (options.kind == Kind::dt && options.event_type.empty()) {
    throw Error(ExitCode::usage, "the dt envelope needs --type (the event @type)");
  }
}

Json wrap(const Options& options, Json payload) {
  if (options.kind == Kind::none) return payload;
  Json out = Json::object();
  if (options.kind == Kind::tracker) {
    long long now = epoch_ms();
    out["trace_id"] = options.trace_id.empty() ? uuid_v4() : options.trace_id;
    out["ts"] = util::now_rfc3339_ms();
    out["kind"] = options.event_kind;
    out["idempotency_key"] = options.event_kind + "_" + std::to_string(now) + "_" + hex8();
    out["payload"] = std::move(payload);
    return out;
  }
  out["@context"] = kDtContext;
  out["@type"] = options.event_type;
  out["id"] = uuid_v4();
  out["source"] = Json{{"app_key", options.source.app_key},
                       {"app_version", options.source.app_version},
                       {"module", options.source.module}};
  out["timestamp"] = util::now_rfc3339_ms();
  out["correlation_id"] =
      options.correlation_id.empty() ? Json(nullptr) : Json(options.correlation_id);
  out["payload"] = std::move(payload);
  out["metadata"] = Json::object();
  return out;
}

std::vector<std::string> validate(Kind kind, const Json& m) {
  std::vector<std::string> errors;
  if (kind == Kind::none) return errors;
  if (!m.is_object()) {
    errors.push_back("payload is not a JSON object");
    return errors;
  }
  if (kind == Kind::tracker) {
    require_string(m, "trace_id", errors);
    if (non_empty_string(m, "trace_id") && !is_uuid(m["trace_id"].get_ref<const std::string&>())) {
      errors.push_back("\"trace_id\" is not a UUID");
    }
    require_time(m, "ts", errors);
    require_string(m, "kind", errors);
    if (m.contains("idempotency_key") && !non_empty_string(m, "idempotency_key")) {
      errors.push_back("\"idempotency_key\" must be a non-empty string");
    }
    if (!m.contains("payload")) errors.push_back("missing \"payload\"");
    return errors;
  }
  if (!m.contains("@context")) {
    errors.push_back("missing \"@context\"");
  } else if (!m["@context"].is_string() && !m["@context"].is_object() &&
             !m["@context"].is_array()) {
    errors.push_back("\"@context\" must be a string, object or array");
  }
  require_string(m, "@type", errors);
  require_string(m, "id", errors);
  if (!m.contains("source")) {
    errors.push_back("missing \"source\"");
  } else if (!m["source"].is_object() && !m["source"].is_string()) {
    errors.push_back("\"source\" must be an object or a string");
  }
  require_time(m, "timestamp", errors);
  if (m.contains("correlation_id") && !m["correlation_id"].is_string() &&
      !m["correlation_id"].is_null()) {
    errors.push_back("\"correlation_id\" must be a string or null");
  }
  if (!m.contains("payload")) errors.push_back("missing \"payload\"");
  if (m.contains("metadata") && !m["metadata"].is_object())
    errors.push_back("\"metadata\" must be an object");
  return errors;
}

std::optional<std::string> event_kind(const Json& payload) { return kind_of(payload); }
std::optional<std::string> event_kind(const nlohmann::json& payload) { return kind_of(payload); }

std::string uuid_v4() {
  uint64_t high = generator()();
  uint64_t low = generator()();
  high = (high & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  low = (low & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;    // variant 10
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(high >> 32),
                static_cast<unsigned>((high >> 16) & 0xFFFF), static_cast<unsigned>(high & 0xFFFF),
                static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
  return text;
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (t[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  return true;
}

bool is_iso8601(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+hh:mm|-hh:mm); a space is accepted for the T.
  auto digits = [&](size_t at, size_t count) {
    if (at + count > t.size()) return false;
    for (size_t i = at; i < at + count; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
    }
    return true;
  };
  if (!digits(0, 4) || t.size() < 20 || t[4] != '-' || !digits(5, 2) || t[7] != '-' ||
      !digits(8, 2) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2) ||
      t[13] != ':' || !digits(14, 2) || t[16] != ':' || !digits(17, 2)) {
    return false;
  }
  auto number = [&](size_t at) {
    return static_cast<unsigned>((t[at] - '0') * 10 + (t[at + 1] - '0'));
  };
  // A real calendar day (no Feb 30), hh:mm:ss with 60 for a leap second.
  std::chrono::year_month_day date{std::chrono::year(static_cast<int>(number(0) * 100 + number(2))),
                                   std::chrono::month(number(5)), std::chrono::day(number(8))};
  if (!date.ok() || number(11) > 23 || number(14) > 59 || number(17) > 60) return false;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    size_t start = ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == start) return false;
  }
  std::string_view zone = t.substr(i);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(i + 1, 2) &&
         zone[3] == ':' && digits(i + 4, 2) && number(i + 1) <= 23 && number(i + 4) <= 59;
}

}  // namespace dtbus::envelope
