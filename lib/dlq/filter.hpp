// SPDX-License-Identifier: Apache-2.0
// Which dead letters a `dtbus dlq` command acts on (--topic, --reason, --since/--until, --id) and
// the bytes recover publishes for each (SPEC §4 `dtbus dlq`). The journal is dlq/spool.hpp.
#pragma once

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
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
// The bytes recover publishes, read like a message record's payload (record::payload_bytes):
// a JSON string's bytes (base64-decoded when the body says "payload_encoding": "base64"), any
// other value's compact JSON serialisation with its key order kept. Error(usage) "malformed DLQ
// body: ..." when the payload fields are inconsistent.
std::string payload_bytes(const Entry& entry);
// Replay count the entry already carries: the highest of the DLQ message's user property
// dtbus-replay-count, the body's "dtbus-replay-count" and the payload's "dtbus-replay-count".
int previous_replay_count(const Entry& entry);

}  // namespace dtbus::dlq
