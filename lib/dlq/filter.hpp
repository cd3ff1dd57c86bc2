// SPDX-License-Identifier: Apache-2.0
// Which dead letters a `dtbus dlq` command acts on (--topic, --reason, --since/--until, --id) and
// the bytes recover publishes for each (SPEC §4 `dtbus dlq`). The journal is dlq/spool.hpp.
#pragma once

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dtbus/dlq/spool.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::dlq {

// ---- time ------------------------------------------------------------------
// RFC 3339 / ISO 8601 or an epoch number as text, as util::parse_time() reads them
// (2024-05-01T12:00:00Z, ...+02:00, no zone = UTC, a date alone). nullopt when not a time.
std::optional<TimePoint> parse_timestamp(std::string_view text);
// --since/--until: a timestamp as above or an age before `now`: N followed by s, m, h, d or w
// (30m, 2h, 1d). Throws Error(usage) naming `flag`.
TimePoint parse_time_option(std::string_view text, TimePoint now, std::string_view flag);

// ---- selection -------------------------------------------------------------
struct FilterOptions {
  std::string topic;             // MQTT filter on original_topic
  std::string reason;            // ECMAScript regex searched in failure_reason
  std::string since;             // inclusive
  std::string until;             // exclusive
  std::vector<std::string> ids;  // exact ids or unique prefixes
};

class Filter {
 public:
  // Validates every option (Error(usage) for an invalid filter, regex or time).
  // `topic_prefix`: a --topic filter also matches with the broker's prefix prepended.
  Filter(const FilterOptions& options, TimePoint now, const std::string& topic_prefix = {});
  // Entry-level match (ids are resolved separately by select()).
  bool matches(const Entry& entry) const;
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  std::vector<std::string> topic_filters_;
  std::optional<std::regex> reason_;
  std::optional<TimePoint> since_;
  std::optional<TimePoint> until_;
  std::vector<std::string> ids_;
};

// The time filters and ages use: failure_timestamp when it parses, else received_at.
std::optional<TimePoint> entry_time(const Entry& entry);

// Entries in spool order that match `filter` and, when it names ids, one of them; with
// `states` limiting which states are eligible. An --id that names no entry, or a prefix naming
// several, is Error(usage).
std::vector<const Entry*> select(const Spool& spool, const Filter& filter,
                                 const std::vector<State>& states);

// ---- republishing ----------------------------------------------------------
// What the DLQ body's payload is, and so how recover turns it back into the original bytes.
enum class PayloadKind {
  json,    // a dict/list/number...: its compact JSON serialisation (the body lost the spacing)
  bytes,   // a Python bytes literal, TaylorDash's str(message.payload): decoded to those bytes
  text,    // any other string: its UTF-8 bytes
  base64,  // a string with "payload_encoding": "base64" beside it (dtbus record shape)
};
const char* payload_kind_name(PayloadKind kind);

struct Republish {
  PayloadKind kind = PayloadKind::json;
  std::string bytes;    // what recover publishes (empty when problem is set)
  std::string problem;  // non-empty: cannot be republished (malformed literal or body)
  bool ok() const { return problem.empty(); }
};
// For conforming entries (letter.conforming()); never throws.
Republish republish_payload(const Entry& entry);

// True when `text` starts like a Python bytes literal: b' or b".
bool looks_like_bytes_literal(std::string_view text);
// Decodes a Python bytes literal as repr(bytes) writes it: b'...' or b"...", printable ASCII
// and the escapes \\ \' \" \t \n \r \xhh. Anything else (another escape, a raw control or
// non-ASCII character, an unescaped closing quote, no closing quote) throws
// std::invalid_argument saying what and where: nothing is decoded half-way.
std::string decode_bytes_literal(std::string_view literal);

// The bytes recover publishes: republish_payload(entry).bytes, Error(usage) "malformed DLQ
// body: ..." / "malformed bytes literal: ..." when it has a problem.
std::string payload_bytes(const Entry& entry);
// Replay count the entry already carries: the highest of the DLQ message's user property
// dtbus-replay-count, the body's "dtbus-replay-count" and the payload's "dtbus-replay-count".
// (recover also continues the count of an earlier recovered entry with the same topic and
// bytes: see commands/dlq/recover.cpp.)
int previous_replay_count(const Entry& entry);

// Entries recovered before, by where they went and the bytes sent. A consumer that dead-letters a
// republished message again (and drops MQTT 5 properties, as most do, TaylorDash's included)
// sends back the same topic and bytes, so a new entry matching one of these continues its count.
class ReplayHistory {
 public:
  explicit ReplayHistory(const Spool& spool);
  struct Earlier {
    int count = 0;   // the replay count the earlier recovery carried (0: none)
    std::string id;  // that entry
  };
  // The highest count among recoveries published to `topic` with exactly `bytes`.
  Earlier find(const std::string& topic, const std::string& bytes) const;

 private:
  std::unordered_map<std::string, Earlier> by_key_;
};

}  // namespace dtbus::dlq
