// SPDX-License-Identifier: Apache-2.0
// Message envelopes of the CELINE platform (SPEC §4 `dtbus pub`): building them around a JSON
// payload for `pub --envelope`, validating them for `sub --validate`, and reading an event's
// kind (`replay --kind`).
//   tracker: {"trace_id","ts","kind","idempotency_key","payload"}
//   dt:      {"@context","@type","id","source","timestamp","correlation_id","payload","metadata"}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::envelope {

// Who produces dt events: a broker's `source:` in brokers.yaml.
struct Source {
  std::string app_key;
  std::string app_version;
  std::string module;
};

using Json = nlohmann::ordered_json;

enum class Kind { none, dt, tracker };

inline constexpr const char* kDtContext = "https://celine-project.eu/contexts/dt-event.jsonld";

// "none" | "dt" | "tracker"; throws Error(usage) otherwise.
Kind parse_kind(std::string_view name);
const char* kind_name(Kind kind);

struct Options {
  Kind kind = Kind::none;
  std::string event_kind;      // tracker "kind" (--kind), required for tracker
  std::string event_type;      // dt "@type" (--type), required for dt
  std::string trace_id;        // tracker; empty = new UUID v4 per message
  std::string correlation_id;  // dt; empty = null
  Source source;               // dt "source" (the broker's `source:`)
};

// Throws Error(usage) when a required option is missing (--kind for tracker, --type for dt).
void check_options(const Options& options);

// Wraps `payload` (any JSON value) in the envelope; a fresh id/trace_id, timestamp and
// idempotency key per call. Kind::none returns the payload unchanged.
Json wrap(const Options& options, Json payload);

// `sub --validate`: every problem found in a parsed message, empty when valid. The rules are
// one table in envelope.cpp (rules()), each mirroring what the seed system does with the
// message. A message the seed's processor would fail on with an exception (sent to its DLQ as a
// "Processing error", not a validation error) yields exactly one error, starting with
// kProcessingError.
std::vector<std::string> validate(Kind kind, const Json& message);
// The same from the message bytes as received; `parsed` is util::parse_json(bytes) (discarded
// when not JSON). Bytes that Python's `json.loads(payload.decode())` rejects (not UTF-8, a BOM,
// not JSON) are a processing error; `NaN`/`Infinity`, which json.loads accepts, are read as
// numbers.
std::vector<std::string> validate_payload(Kind kind, std::string_view bytes, const Json& parsed);

inline constexpr const char* kProcessingError = "processing error: ";

enum class Failure { validation, processing };
// One rule of the table: the envelope it belongs to, a short name, how a failure is reported,
// and the seed behaviour it mirrors (documentation and unit tests cite it).
struct Rule {
  Kind kind;
  const char* name;
  Failure failure;
  const char* mirrors;
};
std::vector<Rule> rules();

// `payload.kind`, else `payload["@type"]` (a tracker or dt event), when a non-empty string.
std::optional<std::string> event_kind(const Json& payload);
std::optional<std::string> event_kind(const nlohmann::json& payload);

// Random UUID version 4, lower-case hex with dashes.
std::string uuid_v4();
// The canonical 8-4-4-4-12 hex form (what uuid_v4() produces).
bool is_uuid(std::string_view text);
// ISO 8601 / RFC 3339 date-time with a time zone (Z or +hh:mm), optional fraction.
bool is_iso8601(std::string_view text);

// Whether Python's `uuid.UUID(text)` accepts the UTF-8 string `text`: "urn:" and "uuid:"
// removed, braces stripped from both ends, hyphens removed, then 32 characters that `int(x, 16)`
// reads (so `{...}`, no hyphens, `urn:uuid:`, a `0x` prefix, `_` between digits and surrounding
// blanks are all accepted, as Python does).
bool python_uuid_accepts(std::string_view text);
// Whether CPython 3.11's `datetime.fromisoformat(text)` accepts the UTF-8 string `text`
// (a port of its C parser: date-only, no time zone, basic format, ISO week dates, any separator
// character, `Z` are all accepted).
bool python_fromisoformat_accepts(std::string_view text);

}  // namespace dtbus::envelope

DTBUS_PUBLIC_END
