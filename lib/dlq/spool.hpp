// SPDX-License-Identifier: Apache-2.0
// The DLQ spool: an append-only JSON Lines journal of dead letters taken from the broker
// (SPEC §4 `dtbus dlq`). Each line is either
//   an entry record  {"id","dlq_topic","received_at","state":"pending","retained"?,"properties"?
//                     (record::properties_to_json shape),
//                     "body" | "body_text" | "body_base64"}
//   or a change record {"id","state":"recovered"|"purged","at","to"?,"replay_count"?} /
//   {"id","retained_cleared":true,"at"}.
// The current state is the replay of the journal. Entry records are fsynced before append()
// returns (the broker forgets a message once we acknowledge it); change records are written at
// once and fsynced by sync() (group commit: losing one only means a re-publish, never a loss).
// A torn last line (crash mid-append) is ignored with a warning and cut off before the next
// append; a damaged line anywhere else is an error, so nothing is silently dropped.
// Compaction rewrites one record per entry into a new file (fsync, rename, fsync dir).
// A writer holds an exclusive flock on the journal itself (besides SpoolLock's "<spool>.lock",
// which names the holder): a lock file deleted or replaced under a running process cannot let a
// second one in. Before a rewrite the journal on disk must still be the inode and size this
// process read and wrote, or the rewrite is skipped: it never replaces what it has not seen.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtbus/core/record.hpp"
#include "dtbus/mqtt/connection.hpp"

namespace dtbus::dlq {

using TimePoint = std::chrono::system_clock::time_point;
// Keeps the key order of bodies and payloads, so a republished payload is the one received.
using Json = record::Json;

enum class State { pending, recovered, purged };
const char* state_name(State state);

// What a DLQ body says, derived from the entry's body (never stored separately).
struct Letter {
  std::string original_topic;
  std::string failure_reason;
  std::string failure_timestamp;          // as written; empty when absent
  std::optional<TimePoint> failure_time;  // parsed failure_timestamp
  std::string problem;                    // non-empty: not a conforming DLQ body (no payload)
  bool conforming() const { return problem.empty(); }
};

struct Entry {
  std::string id;
  std::string dlq_topic;
  std::string received_at;  // RFC 3339 UTC with ms
  State state = State::pending;
  std::string state_at;      // when the state last changed
  std::string recovered_to;  // topic it was republished to
  int replay_count = 0;      // recovered: the dtbus-replay-count it was republished with
  bool retained = false;     // arrived as a retained message: cleared at the broker when done
  bool retained_cleared = false;
  std::vector<dtbus::UserProperty> user_properties;  // of the DLQ message (MQTT 5)
  // json: body is the parsed body (any JSON, whitespace and all); else a string: the text, or
  // the base64 of bytes that are not UTF-8.
  record::PayloadEncoding body_encoding = record::PayloadEncoding::json;
  Json body;
  Letter letter;
};

// Builds the entry for a message received on the DLQ topic (id, received_at = now).
Entry entry_from_message(const dtbus::ReceivedMessage& message);
// Fills entry.letter from entry.body.
void interpret(Entry& entry);
// The body's payload; only for conforming entries.
const Json& letter_payload(const Entry& entry);

// Exclusive use of a spool by one process: flock on "<spool>.lock", holder's pid inside.
class SpoolLock {
 public:
  // Throws Error(runtime) "spool ... is in use by pid N" when another process holds it.
  explicit SpoolLock(const std::string& spool_path);
  ~SpoolLock();
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

 private:
  int fd_ = -1;
};

struct StateChange {
  std::string id;
  State state;
  std::string to;        // recovered: where it was published
  int replay_count = 0;  // recovered: the replay count it carried
};

class Spool {
 public:
  enum class Mode { read_only, read_write };
  // Replays the journal. read_write creates the directory (0700) and file (0600), repairs a
  // torn tail and fails early (Error(runtime) naming the file) when the file is not writable.
  Spool(std::string path, Mode mode);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const std::string& path() const { return path_; }
  // Entries in arrival order. Not to be used while another thread appends.
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& id) const;
  // Problems met while replaying (torn last line), for the caller to log.
  const std::vector<std::string>& warnings() const { return warnings_; }
  size_t record_count() const { return records_; }

  // Appends an entry record and fsyncs it. Thread-safe. A retained copy of a message already
  // spooled (same DLQ topic and body, e.g. re-sent on subscribe) is not added: returns false.
  bool append(Entry entry);
  // Appends change records (one write); durable after sync(). Thread-safe.
  void change(const std::vector<StateChange>& changes);
  void mark_retained_cleared(const std::string& id);
  void sync();

  // Rewrites the journal with one record per entry when it holds more than twice as many
  // records as entries (and at least `min_records`), or always with force.
  void compact(bool force = false, size_t min_records = 256);

 private:
  void write_line(const std::string& line, bool fsync_now);
  void apply(Json record, size_t line_number);
  void open_for_append();
  int open_locked_journal(const std::string& path, int flags);
  bool unchanged_on_disk(std::string& why) const;

  std::string path_;
  Mode mode_;
  int fd_ = -1;
  uint64_t size_ = 0;  // bytes in the journal as this process read and wrote them
  std::mutex mutex_;
  bool dirty_ = false;
  size_t records_ = 0;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::string> warnings_;
};

// The record an entry is written as (also the compacted form, with its current state).
Json entry_record(const Entry& entry);

}  // namespace dtbus::dlq
