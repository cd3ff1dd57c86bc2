// SPDX-License-Identifier: Apache-2.0
#include "dtbus/dlq/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <spdlog/spdlog.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/dlq/filter.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::dlq {
namespace {

Error file_error(const std::string& path, const std::string& what) {
  return Error(ExitCode::runtime, "spool " + path + ": " + what + ": " + std::strerror(errno));
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p; directories we create are private (0700): the spool holds message contents.
void make_dirs(const std::string& dir) {
  std::string partial;
  std::stringstream parts(dir);
  std::string part;
  if (!dir.empty() && dir.front() == '/') partial = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    partial += part;
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      throw file_error(dir, "cannot create directory " + partial);
    }
    partial += '/';
  }
}

void fsync_dir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

// Writes all of `data` (write() may be short on signals or nearly full disks).
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Sortable ids: 10 Crockford base32 digits of the epoch milliseconds + 6 of randomness, kept
// strictly increasing within the process so spool order and id order agree.
std::string next_id() {
  static std::mutex mutex;
  static uint64_t last_ms = 0;
  static uint64_t last_random = 0;
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::lock_guard lock(mutex);
  auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  uint64_t rnd = 0;
  if (ms <= last_ms) {
    ms = last_ms;
    rnd = last_random + 1;
    if (rnd >= (1u << 30)) {  // 2^30 ids in one millisecond: borrow the next one
      ++ms;
      rnd = 0;
    }
  } else {
    rnd = random() & ((1u << 29) - 1);  // leave room to count up within the millisecond
  }
  last_ms = ms;
  last_random = rnd;
  std::string id(16, '0');
  for (int i = 9; i >= 0; --i, ms >>= 5) id[static_cast<size_t>(i)] = kDigits[ms & 31];
  for (int i = 15; i >= 10; --i, rnd >>= 5) id[static_cast<size_t>(i)] = kDigits[rnd & 31];
  return id;
}

std::optional<State> parse_state(const std::string& name) {
  if (name == "pending") return State::pending;
  if (name == "recovered") return State::recovered;
  if (name == "purged") return State::purged;
  return std::nullopt;
}

std::string string_field(const Json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_field(const Json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace

const char* state_name(State state) {
  switch (state) {
    case State::pending:
      return "pending";
    case State::recovered:
      return "recovered";
    case State::purged:
      return "purged";
  }
  return "pending";
}

Entry entry_from_message(const dtbus::ReceivedMessage& message) {
  Entry entry;
  entry.id = next_id();
  entry.dlq_topic = message.topic;
  entry.received_at = util::now_rfc3339_ms();
  entry.retained = message.retain;
  entry.user_properties = message.properties.user;
  entry.body = util::parse_json(message.payload);
  if (!entry.body.is_discarded()) {
    entry.body_encoding = record::PayloadEncoding::json;
  } else if (topic::valid_utf8(message.payload)) {
    entry.body_encoding = record::PayloadEncoding::utf8;
    entry.body = message.payload;
  } else {
    entry.body_encoding = record::PayloadEncoding::base64;
    entry.body = util::base64_encode(message.payload);
  }
  interpret(entry);
  return entry;
}

void interpret(Entry& entry) {
  Letter& letter = entry.letter;
  letter = Letter{};
  const Json& body = entry.body;
  auto malformed = [&](const std::string& why) { letter.problem = "malformed DLQ body: " + why; };
  if (entry.body_encoding != record::PayloadEncoding::json) return malformed("not JSON");
  if (!body.is_object()) return malformed("not a JSON object");
  auto topic = body.find("original_topic");
  if (topic == body.end()) return malformed("no original_topic");
  if (!topic->is_string()) return malformed("original_topic is not a string");
  letter.original_topic = topic->get<std::string>();
  if (auto problem = topic::publish_topic_problem(letter.original_topic)) {
    return malformed("original_topic '" + letter.original_topic + "' " + *problem);
  }
  if (!body.contains("payload")) return malformed("no payload");
  if (auto reason = body.find("failure_reason"); reason != body.end() && !reason->is_null()) {
    letter.failure_reason = reason->is_string() ? reason->get<std::string>() : dump(*reason);
  }
  if (auto ts = body.find("failure_timestamp"); ts != body.end() && !ts->is_null()) {
    // RFC 3339 text, or epoch seconds/milliseconds (unit by magnitude) as a number.
    letter.failure_timestamp = ts->is_string() ? ts->get<std::string>() : dump(*ts);
    if (auto ns = util::parse_time_json(*ts)) {
      letter.failure_time =
          TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(*ns)));
    }
  }
}

const Json& letter_payload(const Entry& entry) { return entry.body.at("payload"); }

Json entry_record(const Entry& entry) {
  Json r;
  r["id"] = entry.id;
  r["dlq_topic"] = entry.dlq_topic;
  r["received_at"] = entry.received_at;
  r["state"] = state_name(entry.state);
  if (entry.state != State::pending) r["at"] = entry.state_at;
  if (!entry.recovered_to.empty()) r["to"] = entry.recovered_to;
  if (entry.replay_count > 0) r["replay_count"] = entry.replay_count;
  if (entry.retained) r["retained"] = true;
  if (entry.retained_cleared) r["retained_cleared"] = true;
  if (!entry.user_properties.empty()) {
    dtbus::MessageProperties properties;
    properties.user = entry.user_properties;
    r["properties"] = record::properties_to_json(properties);
  }
  switch (entry.body_encoding) {
    case record::PayloadEncoding::json:
      r["body"] = entry.body;
      break;
    case record::PayloadEncoding::utf8:
      r["body_text"] = entry.body;
      break;
    case record::PayloadEncoding::base64:
      r["body_base64"] = entry.body;
      break;
  }
  return r;
}

// ---- lock ------------------------------------------------------------------

SpoolLock::SpoolLock(const std::string& spool_path) {
  std::string path = spool_path + ".lock";
  make_dirs(parent_dir(path));
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw file_error(path, "cannot open the lock file");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;
    char buffer[32] = {};
    ssize_t n = pread(fd_, buffer, sizeof(buffer) - 1, 0);
    std::string holder = n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string("?");
    holder.erase(std::remove(holder.begin(), holder.end(), '\n'), holder.end());
    close(fd_);
    fd_ = -1;
    if (saved == EWOULDBLOCK) {
      throw Error(ExitCode::runtime, "spool " + spool_path + " is in use by pid " + holder +
                                         " (another dtbus dlq is running)");
    }
    errno = saved;
    throw file_error(path, "cannot lock");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    spdlog::debug("cannot write our pid into {}: {}", path, std::strerror(errno));
  }
}

SpoolLock::~SpoolLock() {
  // The file stays: removing it would let a third process lock a different inode.
  if (fd_ >= 0) close(fd_);
}

// ---- journal ---------------------------------------------------------------

Spool::Spool(std::string path, Mode mode) : path_(std::move(path)), mode_(mode) {
  bool existed = access(path_.c_str(), F_OK) == 0;
  if (mode_ == Mode::read_write) {
    make_dirs(parent_dir(path_));
    open_for_append();
    if (!existed) fsync_dir(parent_dir(path_));
  }
  std::string text;
  if (existed) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw file_error(path_, "cannot read");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  size_t start = 0;
  size_t line_number = 0;
  while (start < text.size()) {
    ++line_number;
    size_t end = text.find('\n', start);
    bool complete = end != std::string::npos;
    std::string_view line(text.data() + start, (complete ? end : text.size()) - start);
    Json rec = Json::parse(line, nullptr, false);
    if (!complete) {
      if (rec.is_discarded() || !rec.is_object()) {
        // A crash mid-append: that rec was never acknowledged to anyone, so cut it off.
        warnings_.push_back(path_ + ":" + std::to_string(line_number) +
                            ": ignoring a torn last line (" + std::to_string(line.size()) +
                            " bytes) left by an interrupted write");
        if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(start)) != 0) {
          throw file_error(path_, "cannot cut off the torn last line");
        }
      } else {
        apply(std::move(rec), line_number);
        if (fd_ >= 0 && !write_all(fd_, "\n")) throw file_error(path_, "cannot write");
      }
      break;
    }
    if (!line.empty()) {
      if (rec.is_discarded() || !rec.is_object()) {
        throw Error(ExitCode::runtime,
                    path_ + ":" + std::to_string(line_number) +
                        ": damaged spool record (not a JSON object); fix or remove that line, "
                        "nothing was changed");
      }
      apply(std::move(rec), line_number);
    }
    start = end + 1;
  }
  if (fd_ >= 0) {
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw file_error(path_, "cannot stat");
    size_ = static_cast<uint64_t>(st.st_size);
  }
}

Spool::~Spool() {
  if (fd_ < 0) return;
  if (dirty_) fdatasync(fd_);
  close(fd_);
}

// Opens `path` and takes the exclusive lock on that very inode. A journal renamed over between
// open() and flock() (a compaction by the previous holder) is opened again.
int Spool::open_locked_journal(const std::string& path, int flags) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    int fd = open(path.c_str(), flags | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw file_error(path, "cannot open for writing");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int saved = errno;
      close(fd);
      if (saved != EWOULDBLOCK) {
        errno = saved;
        throw file_error(path, "cannot lock");
      }
      // The holder's pid is in the lock file, unless that file was removed or replaced (then
      // it may hold our own pid, written by our SpoolLock).
      std::string holder;
      std::ifstream(path_ + ".lock") >> holder;
      if (holder.empty() || holder == std::to_string(getpid())) {
        throw Error(ExitCode::runtime,
                    "spool " + path_ + " is in use by another process (its lock file " + path_ +
                        ".lock was removed or replaced; another dtbus dlq is running)");
      }
      throw Error(ExitCode::runtime, "spool " + path_ + " is in use by pid " + holder +
                                         " (another dtbus dlq is running)");
    }
    struct stat opened {};
    struct stat named {};
    if (fstat(fd, &opened) == 0 && stat(path.c_str(), &named) == 0 &&
        opened.st_dev == named.st_dev && opened.st_ino == named.st_ino) {
      return fd;
    }
    close(fd);
  }
  errno = EAGAIN;
  throw file_error(path, "the journal keeps being replaced; cannot lock it");
}

// Whether the journal at path_ is still the file this process holds, at the size it knows.
bool Spool::unchanged_on_disk(std::string& why) const {
  struct stat held {};
  struct stat named {};
  if (fstat(fd_, &held) != 0) {
    why = std::string("cannot stat the open journal: ") + std::strerror(errno);
    return false;
  }
  if (stat(path_.c_str(), &named) != 0) {
    why = std::string("the journal is gone from its path: ") + std::strerror(errno);
    return false;
  }
  if (held.st_dev != named.st_dev || held.st_ino != named.st_ino) {
    why = "the file at that path was replaced by another one";
    return false;
  }
  if (static_cast<uint64_t>(held.st_size) != size_) {
    why = "it holds " + std::to_string(held.st_size) + " bytes, this process knows of " +
          std::to_string(size_) + " (written by another process)";
    return false;
  }
  return true;
}

void Spool::open_for_append() {
  fd_ = open_locked_journal(path_, O_WRONLY | O_APPEND);
  // Enforced on an existing file too: the spool holds message contents.
  if (fchmod(fd_, 0600) != 0)
    spdlog::warn("cannot make {} private (0600): {}", path_, std::strerror(errno));
}

void Spool::apply(Json rec, size_t line_number) {
  ++records_;
  std::string id = string_field(rec, "id");
  auto where = [&] { return path_ + ":" + std::to_string(line_number); };
  if (id.empty()) throw Error(ExitCode::runtime, where() + ": spool record without an id");
  if (rec.contains("dlq_topic")) {
    if (index_.count(id) != 0) {
      warnings_.push_back(where() + ": duplicate entry " + id + " ignored");
      return;
    }
    Entry entry;
    entry.id = id;
    entry.dlq_topic = string_field(rec, "dlq_topic");
    entry.received_at = string_field(rec, "received_at");
    entry.state = parse_state(string_field(rec, "state")).value_or(State::pending);
    entry.state_at = string_field(rec, "at");
    entry.recovered_to = string_field(rec, "to");
    entry.replay_count = int_field(rec, "replay_count");
    entry.retained = rec.value("retained", false);
    entry.retained_cleared = rec.value("retained_cleared", false);
    if (auto props = rec.find("properties"); props != rec.end()) {
      try {
        entry.user_properties = record::properties_from_json(*props).user;
      } catch (const std::invalid_argument& e) {
        throw Error(ExitCode::runtime, where() + ": spool entry " + id + ": " + e.what());
      }
    }
    if (auto body = rec.find("body"); body != rec.end()) {
      entry.body = std::move(*body);
    } else if (auto text = rec.find("body_text"); text != rec.end()) {
      entry.body_encoding = record::PayloadEncoding::utf8;
      entry.body = std::move(*text);
    } else if (auto b64 = rec.find("body_base64"); b64 != rec.end()) {
      entry.body_encoding = record::PayloadEncoding::base64;
      entry.body = std::move(*b64);
    } else {
      throw Error(ExitCode::runtime, where() + ": spool entry " + id + " has no body");
    }
    interpret(entry);
    index_[id] = entries_.size();
    entries_.push_back(std::move(entry));
    return;
  }
  auto it = index_.find(id);
  if (it == index_.end()) {
    warnings_.push_back(where() + ": change for unknown entry " + id + " ignored");
    return;
  }
  Entry& entry = entries_[it->second];
  if (rec.value("retained_cleared", false)) entry.retained_cleared = true;
  if (auto state = parse_state(string_field(rec, "state"))) {
    entry.state = *state;
    entry.state_at = string_field(rec, "at");
    entry.recovered_to = string_field(rec, "to");
    entry.replay_count = int_field(rec, "replay_count");
  }
}

const Entry* Spool::find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void Spool::write_line(const std::string& line, bool fsync_now) {
  if (fd_ < 0) throw Error(ExitCode::runtime, "spool " + path_ + " is not open for writing");
  if (!write_all(fd_, line)) {
    // A partial line may be on disk now; the next open cuts it off. No more writes from us.
    auto error = file_error(path_, "cannot write");
    close(fd_);
    fd_ = -1;
    throw error;
  }
  ++records_;
  size_ += line.size();
  dirty_ = true;
  if (fsync_now) {
    if (fdatasync(fd_) != 0) throw file_error(path_, "cannot sync to disk");
    dirty_ = false;
  }
}

bool Spool::append(Entry entry) {
  std::lock_guard lock(mutex_);
  if (entry.retained) {
    // Retained copies come again on every new subscription: keep one entry per message.
    for (const auto& e : entries_) {
      if (e.dlq_topic == entry.dlq_topic && e.body_encoding == entry.body_encoding &&
          e.body == entry.body) {
        return false;
      }
    }
  }
  write_line(dump(entry_record(entry)) + "\n", true);
  index_[entry.id] = entries_.size();
  entries_.push_back(std::move(entry));
  return true;
}

void Spool::change(const std::vector<StateChange>& changes) {
  std::lock_guard lock(mutex_);
  std::string lines;
  std::string at = util::now_rfc3339_ms();
  for (const auto& c : changes) {
    Json r;
    r["id"] = c.id;
    r["state"] = state_name(c.state);
    r["at"] = at;
    if (!c.to.empty()) r["to"] = c.to;
    if (c.replay_count > 0) r["replay_count"] = c.replay_count;
    lines += dump(r) + "\n";
  }
  if (lines.empty()) return;
  write_line(lines, false);
  records_ += changes.size() - 1;  // write_line counted one
  for (const auto& c : changes) {
    auto it = index_.find(c.id);
    if (it == index_.end()) continue;
    Entry& entry = entries_[it->second];
    entry.state = c.state;
    entry.state_at = at;
    entry.recovered_to = c.to;
    entry.replay_count = c.replay_count;
  }
}

void Spool::mark_retained_cleared(const std::string& id) {
  std::lock_guard lock(mutex_);
  Json r;
  r["id"] = id;
  r["retained_cleared"] = true;
  r["at"] = util::now_rfc3339_ms();
  write_line(dump(r) + "\n", false);
  if (auto it = index_.find(id); it != index_.end()) entries_[it->second].retained_cleared = true;
}

void Spool::sync() {
  std::lock_guard lock(mutex_);
  if (fd_ < 0 || !dirty_) return;
  if (fdatasync(fd_) != 0) throw file_error(path_, "cannot sync to disk");
  dirty_ = false;
}

void Spool::compact(bool force, size_t min_records) {
  std::lock_guard lock(mutex_);
  if (fd_ < 0) return;
  if (!force && (records_ < min_records || records_ <= 2 * entries_.size())) return;
  // Never rewrite from a copy that may be stale: what is on disk must be what we read and wrote.
  std::string why;
  if (!unchanged_on_disk(why)) {
    spdlog::warn("not compacting {}: {}; nothing was rewritten", path_, why);
    return;
  }
  std::string tmp = path_ + ".compact";
  // Locked before it becomes the journal, so no other process can take the new file meanwhile.
  int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) throw file_error(tmp, "cannot create");
  if (flock(out, LOCK_EX | LOCK_NB) != 0) {
    auto error = file_error(tmp, "cannot lock");
    close(out);
    throw error;
  }
  std::string text;
  for (const auto& e : entries_) text += dump(entry_record(e)) + "\n";
  if (!write_all(out, text) || fsync(out) != 0) {
    auto error = file_error(tmp, "cannot write the compacted journal");
    close(out);
    unlink(tmp.c_str());
    throw error;
  }
  if (!unchanged_on_disk(why)) {
    spdlog::warn("not compacting {}: {}; nothing was rewritten", path_, why);
    close(out);
    unlink(tmp.c_str());
    return;
  }
  // rename() is atomic: a crash leaves either the old journal or the complete new one.
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    auto error = file_error(path_, "cannot replace with the compacted journal");
    close(out);
    unlink(tmp.c_str());
    throw error;
  }
  fsync_dir(parent_dir(path_));
  spdlog::debug("compacted {}: {} records -> {}", path_, records_, entries_.size());
  close(fd_);
  fd_ = out;
  size_ = text.size();
  records_ = entries_.size();
  dirty_ = false;
}

}  // namespace dtbus::dlq
