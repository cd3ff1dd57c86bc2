// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/envelope.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <random>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/util/json.hpp"
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

namespace {

// ---- The rules of `sub --validate`, one table -------------------------------------------------
// A check returns the problem, or nothing when the message passes. Checks run in table order on
// a JSON object (the "object" rule runs first); a processing rule that fails ends the check with
// that one error, as the seed's processor stops at the exception.

using Check = std::optional<std::string> (*)(const Json& message);

struct TableRule {
  Rule rule;
  Check check;
};

const Json* member(const Json& m, const char* name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &*it;
}

std::optional<std::string> not_string(const Json& m, const char* name) {
  const Json* value = member(m, name);
  if (value == nullptr || value->is_string()) return std::nullopt;
  return std::string("\"") + name + "\" is not a string";
}

std::optional<std::string> missing(const Json& m, std::initializer_list<const char*> names) {
  std::string absent;
  for (const char* name : names) {
    if (member(m, name) == nullptr) absent += std::string(absent.empty() ? "" : ", ") + name;
  }
  if (absent.empty()) return std::nullopt;
  return "missing required field(s): " + absent;
}

std::optional<std::string> empty_or_not_string(const Json& m, const char* name) {
  const Json* value = member(m, name);
  if (value == nullptr) return std::nullopt;  // reported by the required rule
  if (value->is_string() && !value->get_ref<const std::string&>().empty()) return std::nullopt;
  return std::string("\"") + name + "\" must be a non-empty string";
}

const TableRule kTable[] = {
    // TaylorDash (seed 001): MQTTEventProcessor._process_message and validate_event.
    {{Kind::tracker, "tracker.required", Failure::validation,
      "validate_event: required_fields = ['trace_id', 'ts', 'kind', 'idempotency_key'], "
      "`f not in payload` (any value counts as present; payload is not required)"},
     [](const Json& m) {
       return missing(m, {"trace_id", "ts", "kind", "idempotency_key"});
     }},
    {{Kind::tracker, "tracker.trace_id.type", Failure::processing,
      "validate_event: uuid.UUID(payload.get('trace_id', '')) raises TypeError/AttributeError "
      "(not ValueError) for a non-string, so _process_message sends it to the DLQ as a "
      "processing error"},
     [](const Json& m) { return not_string(m, "trace_id"); }},
    {{Kind::tracker, "tracker.trace_id.uuid", Failure::validation,
      "validate_event: uuid.UUID(trace_id) must not raise ValueError (braces, no hyphens, "
      "urn:uuid: accepted)"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* id = member(m, "trace_id");
       if (id == nullptr || python_uuid_accepts(id->get_ref<const std::string&>())) return {};
       return "\"trace_id\" is not a UUID";
     }},
    {{Kind::tracker, "tracker.ts.type", Failure::processing,
      "validate_event: payload.get('ts', '').replace(...) raises AttributeError for a "
      "non-string: a processing error"},
     [](const Json& m) { return not_string(m, "ts"); }},
    {{Kind::tracker, "tracker.ts.isoformat", Failure::validation,
      "validate_event: datetime.fromisoformat(ts.replace('Z', '+00:00')) (Python 3.11) must not "
      "raise (date-only and zone-less accepted)"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* ts = member(m, "ts");
       if (ts == nullptr) return {};
       std::string text = ts->get<std::string>();
       for (size_t at = text.find('Z'); at != std::string::npos; at = text.find('Z', at + 6)) {
         text.replace(at, 1, "+00:00");
       }
       if (python_fromisoformat_accepts(text)) return {};
       return "\"ts\" is not an ISO 8601 date-time (Python datetime.fromisoformat)";
     }},
    {{Kind::tracker, "tracker.kind", Failure::validation,
      "validate_event: isinstance(payload.get('kind'), str) and payload.get('kind')"},
     [](const Json& m) { return empty_or_not_string(m, "kind"); }},

    // CELINE dt events (seed 000, "Event Schemas"): the envelope its MqttBroker hands to
    // handlers as ReceivedMessage.payload, a dict[str, Any].
    {{Kind::dt, "dt.required", Failure::validation,
      "Base Event Structure: @context, @type, id, source, timestamp, payload"},
     [](const Json& m) {
       return missing(m, {"@context", "@type", "id", "source", "timestamp", "payload"});
     }},
    {{Kind::dt, "dt.@context", Failure::validation,
      "Base Event Structure: \"@context\" is a JSON-LD context (string, object or array)"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* c = member(m, "@context");
       if (c == nullptr || c->is_string() || c->is_object() || c->is_array()) return {};
       return "\"@context\" must be a string, object or array";
     }},
    {{Kind::dt, "dt.@type", Failure::validation,
      "Base Event Structure: \"@type\" names the event (\"dt.my-module.my-event\")"},
     [](const Json& m) { return empty_or_not_string(m, "@type"); }},
    {{Kind::dt, "dt.id", Failure::validation, "Base Event Structure: \"id\" is a string (a UUID)"},
     [](const Json& m) { return empty_or_not_string(m, "id"); }},
    {{Kind::dt, "dt.source", Failure::validation,
      "Base Event Structure: \"source\" is {app_key, app_version, module}"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* s = member(m, "source");
       if (s == nullptr || s->is_object() || s->is_string()) return {};
       return "\"source\" must be an object or a string";
     }},
    {{Kind::dt, "dt.timestamp", Failure::validation,
      "Base Event Structure: \"timestamp\" is an ISO 8601 string a Python datetime reads "
      "(datetime.fromisoformat, Python 3.11)"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* t = member(m, "timestamp");
       if (t == nullptr || (t->is_string() && python_fromisoformat_accepts(t->get<std::string>())))
         return {};
       return "\"timestamp\" is not an ISO 8601 date-time (Python datetime.fromisoformat)";
     }},
    {{Kind::dt, "dt.correlation_id", Failure::validation,
      "Base Event Structure: \"correlation_id\" is a string or null"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* c = member(m, "correlation_id");
       if (c == nullptr || c->is_string() || c->is_null()) return {};
       return "\"correlation_id\" must be a string or null";
     }},
    {{Kind::dt, "dt.metadata", Failure::validation,
      "Base Event Structure: \"metadata\" is an object"},
     [](const Json& m) -> std::optional<std::string> {
       const Json* d = member(m, "metadata");
       if (d == nullptr || d->is_object()) return {};
       return "\"metadata\" must be an object";
     }},
};

// The rules every kind shares, checked before the table (the table needs a JSON object).
constexpr const char* kNotJson = "payload is not JSON";
constexpr const char* kNotObject = "payload is not a JSON object";

const Rule kCommonRules[] = {
    {Kind::none, "json", Failure::processing,
     "tracker: json.loads(message.payload.decode()) raises (not UTF-8, a BOM, not JSON; NaN and "
     "Infinity are accepted); dt: MqttBroker parses the payload as JSON"},
    {Kind::none, "object", Failure::processing,
     "tracker: validate_event's `f not in payload` / payload.get raise on a non-dict; dt: "
     "ReceivedMessage.payload is a dict[str, Any]"},
};

std::vector<std::string> processing(const std::string& problem) {
  return {kProcessingError + problem};
}

// Python's json.loads reads NaN, Infinity and -Infinity (what json.dumps writes for such
// floats); nlohmann does not. For validation they act as any non-string value, so each is
// replaced by `null` outside strings. Returns nullopt when there is none.
std::optional<std::string> without_python_constants(std::string_view text) {
  std::string out;
  bool in_string = false, replaced = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    for (std::string_view word : {"-Infinity", "Infinity", "NaN"}) {
      if (text.substr(i, word.size()) == word) {
        out += "null";
        i += word.size() - 1;
        replaced = true;
        c = 0;
        break;
      }
    }
    if (c != 0) out.push_back(c);
  }
  if (!replaced) return std::nullopt;
  return out;
}

}  // namespace

std::vector<Rule> rules() {
  std::vector<Rule> all(std::begin(kCommonRules), std::end(kCommonRules));
  for (const auto& entry : kTable) all.push_back(entry.rule);
  return all;
}

std::vector<std::string> validate(Kind kind, const Json& m) {
  std::vector<std::string> errors;
  if (kind == Kind::none) return errors;
  if (!m.is_object()) return processing(kNotObject);
  for (const auto& entry : kTable) {
    if (entry.rule.kind != kind) continue;
    auto problem = entry.check(m);
    if (!problem) continue;
    if (entry.rule.failure == Failure::processing) return processing(*problem);
    errors.push_back(std::move(*problem));
  }
  return errors;
}

std::vector<std::string> validate_payload(Kind kind, std::string_view bytes, const Json& parsed) {
  if (kind == Kind::none) return {};
  // nlohmann skips a UTF-8 byte order mark; Python's json.loads refuses it.
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") return processing(kNotJson);
  if (!parsed.is_discarded()) return validate(kind, parsed);
  if (auto replaced = without_python_constants(bytes)) {
    Json value = util::parse_json(*replaced);
    if (!value.is_discarded()) return validate(kind, value);
  }
  return processing(kNotJson);
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

// ---- Python's uuid.UUID(hex)
// ---------------------------------------------------------------------
namespace {

// Decodes one UTF-8 code point at `at` (the input is valid UTF-8: it came out of a JSON string).
char32_t next_code_point(std::string_view t, size_t& at) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(t[i]); };
  unsigned char lead = byte(at);
  int extra = lead < 0x80 ? 0 : lead < 0xE0 ? 1 : lead < 0xF0 ? 2 : 3;
  char32_t c = extra == 0 ? lead : lead & (0x3F >> extra);
  for (int i = 1; i <= extra && at + static_cast<size_t>(i) < t.size(); ++i) {
    c = (c << 6) | (byte(at + static_cast<size_t>(i)) & 0x3F);
  }
  at += static_cast<size_t>(extra) + 1;
  return c;
}

// Unicode decimal digits (category Nd, Python 3.11's Unicode 14.0): each block's zero; the nine
// digits follow it. int() reads them as 0-9.
constexpr char32_t kDigitZeros[] = {
    0x660,   0x6f0,   0x7c0,   0x966,   0x9e6,   0xa66,   0xae6,   0xb66,   0xbe6,   0xc66,
    0xce6,   0xd66,   0xde6,   0xe50,   0xed0,   0xf20,   0x1040,  0x1090,  0x17e0,  0x1810,
    0x1946,  0x19d0,  0x1a80,  0x1a90,  0x1b50,  0x1bb0,  0x1c40,  0x1c50,  0xa620,  0xa8d0,
    0xa900,  0xa9d0,  0xa9f0,  0xaa50,  0xabf0,  0xff10,  0x104a0, 0x10d30, 0x11066, 0x110f0,
    0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950,
    0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec,
    0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0};

// Non-ASCII white space for str.isspace() (Python 3.11).
bool unicode_space(char32_t c) {
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// What CPython does before int() parses a str: ASCII kept, other white space -> ' ', other
// decimal digits -> '0'..'9', anything else -> '?' (which then fails).
std::string int_ascii(std::string_view text) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    char32_t c = next_code_point(text, at);
    if (c < 128) {
      out.push_back(static_cast<char>(c));
    } else if (unicode_space(c)) {
      out.push_back(' ');
    } else {
      char digit = '?';
      for (char32_t zero : kDigitZeros) {
        if (c >= zero && c < zero + 10) digit = static_cast<char>('0' + (c - zero));
      }
      out.push_back(digit);
    }
  }
  return out;
}

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// int(text, 16) succeeds: blanks, a sign, an optional 0x (then one optional '_'), hex digits
// with single underscores between them, blanks.
bool python_int16_accepts(std::string_view text) {
  std::string s = int_ascii(text);
  size_t i = 0, n = s.size();
  while (i < n && ascii_space(s[i])) ++i;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    i += 2;
    if (i < n && s[i] == '_') ++i;
  }
  size_t digits = 0;
  while (i < n) {
    if (std::isxdigit(static_cast<unsigned char>(s[i]))) {
      ++digits;
      ++i;
    } else if (s[i] == '_' && digits > 0 && i + 1 < n &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1]))) {
      ++i;
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  while (i < n && ascii_space(s[i])) ++i;
  return i == n;
}

void replace_all(std::string& text, std::string_view from) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.erase(at, from.size());
  }
}

size_t code_points(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

}  // namespace

bool python_uuid_accepts(std::string_view text) {
  // hex = hex.replace('urn:', '').replace('uuid:', '')
  // hex = hex.strip('{}').replace('-', ''); len(hex) == 32; int(hex, 16)
  std::string hex(text);
  replace_all(hex, "urn:");
  replace_all(hex, "uuid:");
  size_t first = hex.find_first_not_of("{}");
  if (first == std::string::npos) return false;
  hex = hex.substr(first, hex.find_last_not_of("{}") - first + 1);
  replace_all(hex, "-");
  return code_points(hex) == 32 && python_int16_accepts(hex);
}

// ---- CPython 3.11 datetime.fromisoformat (Modules/_datetimemodule.c), ported line by line ----
// The C code reads the UTF-8 bytes of the string, relying on its terminating NUL; `p` below
// points into a copy padded with NULs.
namespace {

bool is_digit(char c) { return static_cast<unsigned>(c - '0') <= 9; }

const char* parse_digits(const char* p, int* var, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    auto digit = static_cast<unsigned>(*(p++) - '0');
    if (digit > 9) return nullptr;
    *var = *var * 10 + static_cast<int>(digit);
  }
  return p;
}

bool is_leap(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(int year, int month) {
  static constexpr int days[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month];
}

int days_before_year(int year) {
  int y = year - 1;
  return y * 365 + y / 4 - y / 100 + y / 400;
}

int ymd_to_ord(int year, int month, int day) {
  int before = 0;
  for (int m = 1; m < month; ++m) before += days_in_month(year, m);
  return days_before_year(year) + before + day;
}

// Ordinal (1 = 0001-01-01) to a date, for ordinals >= 1.
void ord_to_ymd(int ordinal, int* year, int* month, int* day) {
  // Years 1..10000 are enough: the result is range-checked afterwards.
  int y = 1;
  while (y < 10001 && days_before_year(y + 1) < ordinal) ++y;
  int n = ordinal - days_before_year(y);
  int m = 1;
  while (m < 12 && n > days_in_month(y, m)) n -= days_in_month(y, m++);
  *year = y;
  *month = m;
  *day = n;
}

// ISO year/week/day to a date; false where CPython raises.
bool iso_to_ymd(int iso_year, int week, int weekday, int* year, int* month, int* day) {
  // Year 0 has no ordinal in CPython's calendar: its conversion yields an invalid date.
  if (iso_year < 1) return false;
  if (week <= 0 || week >= 53) {
    bool out_of_range = true;
    if (week == 53) {
      int first_weekday = (ymd_to_ord(iso_year, 1, 1) + 6) % 7;
      if (first_weekday == 3 || (first_weekday == 2 && is_leap(iso_year))) out_of_range = false;
    }
    if (out_of_range) return false;
  }
  if (weekday <= 0 || weekday >= 8) return false;
  int first_day = ymd_to_ord(iso_year, 1, 1);
  int first_weekday = (first_day + 6) % 7;
  int week1_monday = first_day - first_weekday;
  if (first_weekday > 3) week1_monday += 7;
  int ordinal = week1_monday + (week - 1) * 7 + weekday - 1;
  if (ordinal < 1) return false;
  ord_to_ymd(ordinal, year, month, day);
  return true;
}

long separator_location(const char* s, long len) {
  if (len == 7) return 7;
  if (s[4] == '-') {
    if (s[5] == 'W') {
      if (len < 8) return -1;
      if (len > 8 && s[8] == '-') {
        if (len == 9) return -1;
        if (len > 10 && is_digit(s[10])) return 8;
        return 10;
      }
      return 8;
    }
    return 10;
  }
  if (s[4] == 'W') {
    long idx = 7;
    for (; idx < len; ++idx) {
      if (!is_digit(s[idx])) break;
    }
    if (idx < 9) return idx;
    return idx % 2 == 0 ? 7 : 8;
  }
  return 8;
}

bool parse_date(const char* s, size_t len, int* year, int* month, int* day) {
  const char* p = parse_digits(s, year, 4);
  if (p == nullptr) return false;
  bool separator = *p == '-';
  if (separator) ++p;
  if (*p == 'W') {
    ++p;
    int week = 0, weekday = 0;
    p = parse_digits(p, &week, 2);
    if (p == nullptr) return false;
    if (static_cast<size_t>(p - s) < len) {
      if (separator && *(p++) != '-') return false;
      p = parse_digits(p, &weekday, 1);
      if (p == nullptr) return false;
    } else {
      weekday = 1;
    }
    return iso_to_ymd(*year, week, weekday, year, month, day);
  }
  p = parse_digits(p, month, 2);
  if (p == nullptr) return false;
  if (separator && *(p++) != '-') return false;
  return parse_digits(p, day, 2) != nullptr;
}

// HH[:MM[:SS[.ffffff]]] (or without colons); <0 error, 1 when followed by more text.
int parse_hh_mm_ss_ff(const char* p, const char* end, int* hour, int* minute, int* second,
                      int* microsecond) {
  *hour = *minute = *second = *microsecond = 0;
  int* values[3] = {hour, minute, second};
  bool separator = true;
  for (size_t i = 0; i < 3; ++i) {
    p = parse_digits(p, values[i], 2);
    if (p == nullptr) return -3;
    char c = *(p++);
    if (i == 0) separator = c == ':';
    if (p >= end) return c != '\0';
    if (separator && c == ':') continue;
    if (c == '.' || c == ',') break;
    if (!separator) {
      --p;
    } else {
      return -4;
    }
  }
  size_t remains = static_cast<size_t>(end - p);
  size_t count = remains >= 6 ? 6 : remains;
  p = parse_digits(p, microsecond, count);
  if (p == nullptr) return -3;
  static constexpr int correction[] = {100000, 10000, 1000, 100, 10};
  if (count > 0 && count < 6) *microsecond *= correction[count - 1];
  while (is_digit(*p)) ++p;
  return *p != '\0';
}

// The time part; offset (seconds, microseconds) set when there is a zone.
int parse_time(const char* s, size_t len, int* hour, int* minute, int* second, int* microsecond,
               long long* offset_us) {
  const char* end = s + len;
  const char* zone = s;
  do {
    if (*zone == 'Z' || *zone == '+' || *zone == '-') break;
  } while (++zone < end);
  int rv = parse_hh_mm_ss_ff(s, zone, hour, minute, second, microsecond);
  if (rv < 0) return rv;
  if (zone == end) return rv == 1 ? -5 : 0;
  if (*zone == 'Z') return *(zone + 1) != '\0' ? -5 : 1;
  int sign = *zone == '-' ? -1 : 1;
  ++zone;
  int zh = 0, zm = 0, zs = 0, zus = 0;
  rv = parse_hh_mm_ss_ff(zone, end, &zh, &zm, &zs, &zus);
  *offset_us = sign * ((zh * 3600LL + zm * 60LL + zs) * 1000000LL + zus);
  return rv != 0 ? -5 : 1;
}

}  // namespace

bool python_fromisoformat_accepts(std::string_view text) {
  if (code_points(text) < 7) return false;
  std::string padded(text);
  padded.append(16, '\0');
  const char* s = padded.c_str();
  long len = static_cast<long>(text.size());
  long at = separator_location(s, len);
  if (at < 0) return false;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, microsecond = 0;
  if (!parse_date(s, static_cast<size_t>(at), &year, &month, &day)) return false;
  long long offset_us = 0;
  if (len > at) {
    int rv = parse_time(s + at + 1, static_cast<size_t>(len - at - 1), &hour, &minute, &second,
                        &microsecond, &offset_us);
    if (rv < 0) return false;
  }
  constexpr long long kDay = 86400LL * 1000000LL;
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
         day <= days_in_month(year, month) && hour <= 23 && minute <= 59 && second <= 59 &&
         microsecond <= 999999 && offset_us > -kDay && offset_us < kDay;
}

}  // namespace dtbus::envelope
