// SPDX-License-Identifier: Apache-2.0
// dtbus dlq recover / purge, and clearing retained DLQ messages once their entry is done.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "dtbus/commands/dlq/dlq_command.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/delivery/publisher.hpp"
#include "dtbus/dlq/session.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/progress.hpp"
#include "dtbus/util/terminal.hpp"

namespace dtbus::commands::dlq {

using namespace dtbus::dlq;
namespace {

using Clock = std::chrono::steady_clock;
// Change records are made durable at least this often (and at the end); a crash before that
// only means those entries are published again on the next run.
constexpr std::chrono::milliseconds kSyncInterval{100};

struct Planned {
  const Entry* entry;
  std::string topic;
  std::string payload;
  PayloadKind kind;
  int replay_count;  // the count this publish carries
};

// recover's failed-out file, created private (0600: dead-letter payloads are data) before the
// first publish, so that a directory where it cannot be written fails before anything is sent.
std::string create_failed_out() {
  std::error_code ignored;
  std::string path = (std::filesystem::current_path(ignored) /
                      ("dtbus-dlq-failed-" + std::to_string(getpid()) + ".jsonl"))
                         .string();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ExitCode::runtime, "cannot create the failed-out file " + path + ": " +
                                       std::strerror(errno) + "; nothing was published");
  }
  fchmod(fd, 0600);
  close(fd);
  return path;
}

std::string summary_text(size_t matched, size_t recovered, size_t failed, size_t skipped,
                         bool dry_run) {
  if (dry_run) {
    return "dry run: would recover " + std::to_string(matched - skipped) + " of " +
           std::to_string(matched) + " matched dead letter(s) (" + std::to_string(skipped) +
           " skipped); nothing was published\n";
  }
  return "recovered " + std::to_string(recovered) + " of " + std::to_string(matched) +
         " matched dead letter(s) (" + std::to_string(skipped) + " skipped, " +
         std::to_string(failed) + " failed)\n";
}

// Shows a payload on one line: as is when it is printable UTF-8, else as a JSON string.
std::string printable(const std::string& bytes) {
  bool plain = topic::valid_utf8(bytes) && std::none_of(bytes.begin(), bytes.end(), [](char c) {
                 return static_cast<unsigned char>(c) < 0x20;
               });
  return plain ? bytes : Json(bytes).dump(-1, ' ', false, Json::error_handler_t::replace);
}

dtbus::MessageProperties recovery_properties(const Entry& entry, int replay_count) {
  dtbus::MessageProperties properties;
  properties.user = {{"dtbus-recovered-from", entry.dlq_topic},
                     {"dtbus-replay-count", std::to_string(replay_count)}};
  return properties;
}

// The message as a `pub --jsonl` record (byte-exact payload), led by the entry id.
Json plan_line(const Planned& p) {
  dtbus::ReceivedMessage message;
  message.topic = p.topic;
  message.payload = p.payload;
  message.qos = 1;
  message.properties = recovery_properties(*p.entry, p.replay_count);
  Json line;
  line["id"] = p.entry->id;
  line["payload_kind"] = payload_kind_name(p.kind);
  Json fields = record::to_record(message, "");
  for (auto& [key, value] : fields.items()) {
    if (key != "received_at") line[key] = std::move(value);
  }
  return line;
}

void warn_skipped(const Entry& e, const std::string& why) {
  spdlog::warn("skipped {}: {}", e.id, why);
}

// Clears retained DLQ messages at the broker for recovered/purged entries not yet cleared
// (empty retained publish), journaling each clear. Failures are warnings: retried next time.
void clear_retained(const Setup& setup, const GlobalOptions& globals, Spool& spool) {
  std::vector<const Entry*> done;
  for (const auto& e : spool.entries()) {
    if (e.retained && !e.retained_cleared && e.state != State::pending) done.push_back(&e);
  }
  if (done.empty()) return;
  std::atomic<size_t> cleared{0};
  try {
    delivery::DeliveryOptions delivery;
    delivery.command = "dlq";
    delivery::Publisher publisher(detail::publish_settings(setup, globals), delivery);
    for (const auto* e : done) {
      // Only after the entry is journaled as done: until then the broker's copy is the backup.
      delivery::OutgoingMessage clear{e->dlq_topic, "", 1, true, {}};
      publisher.publish(std::move(clear), [&spool, &cleared, id = e->id](bool ok) {
        if (!ok) return;
        try {
          spool.mark_retained_cleared(id);
          ++cleared;
        } catch (const std::exception& ex) {
          spdlog::warn("{}", ex.what());
        }
      });
      if (publisher.stopped()) break;
    }
    if (publisher.stopped()) {
      spdlog::warn("clearing retained DLQ messages: {}",
                   delivery::stop_message(publisher.progress()));
    } else {
      publisher.finish();
    }
  } catch (const Error& e) {
    spdlog::warn("clearing retained DLQ messages: {}", e.what());
  }
  spool.sync();
  if (cleared < done.size()) {
    spdlog::warn(
        "{} retained DLQ message(s) not cleared at the broker; the next recover/purge retries",
        done.size() - cleared);
  }
}

}  // namespace

int recover(const GlobalOptions& globals, const RecoverOptions& options,
            const std::string& format) {
  if (options.rate && *options.rate <= 0)
    throw Error(ExitCode::usage, "--rate must be greater than 0");
  if (options.max_replays < 1) throw Error(ExitCode::usage, "--max-replays must be at least 1");
  Setup setup = resolve_setup(globals);
  Filter filter(options.filters, std::chrono::system_clock::now(),
                setup.target.connection.topic_prefix);
  std::string to_topic;
  if (!options.to_topic.empty()) {
    to_topic = setup.target.connection.prefixed(options.to_topic);
    topic::require_publish_topic(to_topic);
  }

  // A signal stops the publishing; what is acknowledged is marked, the rest stays pending.
  interrupt::install();
  auto open = detail::open_spool(setup, !options.no_pull);
  Spool& spool = *open.spool;

  std::vector<Planned> plan;
  size_t skipped = 0;
  const ReplayHistory history(spool);
  for (const auto* e : select(spool, filter, {State::pending})) {
    if (options.limit && plan.size() >= *options.limit) break;
    if (!e->letter.conforming()) {
      warn_skipped(*e, e->letter.problem);
      ++skipped;
      continue;
    }
    Republish sent = republish_payload(*e);
    if (!sent.ok()) {
      warn_skipped(*e, sent.problem + " (left pending; nothing was published)");
      ++skipped;
      continue;
    }
    std::string topic = to_topic.empty() ? e->letter.original_topic : to_topic;
    int previous = previous_replay_count(*e);
    std::string because;
    // The original topic is where the consumer got the republished message from.
    if (auto earlier = history.find(e->letter.original_topic, sent.bytes);
        earlier.count > previous) {
      previous = earlier.count;
      because = " (same topic and bytes as recovered entry " + earlier.id + ")";
    }
    if (previous >= options.max_replays) {
      warn_skipped(*e, "replayed " + std::to_string(previous) + " time(s) already" + because +
                           " (--max-replays " + std::to_string(options.max_replays) + ")");
      ++skipped;
      continue;
    }
    plan.push_back({e, std::move(topic), std::move(sent.bytes), sent.kind, previous + 1});
  }
  size_t matched = plan.size() + skipped;

  if (options.dry_run) {
    std::string out;
    for (const auto& p : plan) {
      if (format == "json") {
        out += plan_line(p).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      } else {
        out += "would publish " + p.entry->id + " to " + p.topic + " (qos 1, dtbus-replay-count " +
               std::to_string(p.replay_count) + ", " + payload_kind_name(p.kind) + ", " +
               std::to_string(p.payload.size()) + " bytes): " + printable(p.payload) + "\n";
      }
    }
    util::write_stdout(out);
  }

  std::atomic<size_t> recovered{0};
  std::mutex journal_mutex;
  std::string journal_error;  // guarded by journal_mutex
  std::string failed_out;     // set when something was saved there
  if (!options.dry_run && !plan.empty()) {
    delivery::DeliveryOptions delivery;
    delivery.command = "dlq";
    delivery.failed_out = create_failed_out();
    delivery.rate = options.rate;
    delivery.timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout * 1000));
    util::Progress progress(util::is_tty(stderr) && !globals.quiet, plan.size());
    delivery::Publisher publisher(detail::publish_settings(setup, globals), delivery);
    auto last_sync = Clock::now();
    try {
      for (const auto& p : plan) {
        {
          std::lock_guard lock(journal_mutex);
          if (!journal_error.empty()) break;
        }
        if (interrupt::interrupted()) break;
        delivery::OutgoingMessage message{p.topic, p.payload, 1, false,
                                          recovery_properties(*p.entry, p.replay_count)};
        // Marked recovered only once the broker has acknowledged this very message.
        publisher.publish(std::move(message),
                          [&, id = p.entry->id, topic = p.topic, count = p.replay_count](bool ok) {
                            if (!ok) return;
                            try {
                              spool.change({{id, State::recovered, topic, count}});
                              ++recovered;
                            } catch (const std::exception& e) {
                              std::lock_guard lock(journal_mutex);
                              if (journal_error.empty())
                                journal_error = e.what();  // the cause, not what follows
                            }
                          });
        if (publisher.stopped()) break;
        if (Clock::now() - last_sync >= kSyncInterval) {
          spool.sync();
          last_sync = Clock::now();
        }
        progress.update(recovered, recovered);
      }
    } catch (const Error& e) {
      spdlog::error("{}", e.what());
    }
    // Timeout without progress or a refused message: what is not acknowledged stays pending for
    // the next run. (A signal is reported below.)
    auto so_far = publisher.progress();
    if (so_far.stopped_by == delivery::StoppedBy::timeout ||
        so_far.stopped_by == delivery::StoppedBy::refused) {
      spdlog::error("{}", delivery::stop_message(so_far));
    }
    auto report = publisher.finish();
    progress.clear();
    spool.sync();
    struct stat st {};
    if (report.failed > 0 || (stat(delivery.failed_out.c_str(), &st) == 0 && st.st_size > 0)) {
      failed_out = delivery.failed_out;
    } else {
      unlink(delivery.failed_out.c_str());  // nothing failed: leave no empty file behind
    }
    std::lock_guard lock(journal_mutex);
    if (!journal_error.empty()) {
      throw Error(ExitCode::runtime, journal_error +
                                         " (entries published but not marked recovered stay "
                                         "pending and are published again next time)");
    }
  }
  bool interrupted = interrupt::interrupted();
  if (!options.dry_run && !interrupted) clear_retained(setup, globals, spool);
  spool.compact();

  size_t ok = recovered;
  size_t failed = options.dry_run ? 0 : plan.size() - ok;
  // The summary comes before the exit status: a closed stdout must not hide a failure.
  if (format == "json") {
    nlohmann::json summary = {{"matched", matched},
                              {"recovered", ok},
                              {"failed", failed},
                              {"skipped", skipped},
                              {"dry_run", options.dry_run}};
    if (!failed_out.empty()) summary["failed_out"] = failed_out;
    util::write_result(util::to_json_line(summary) + "\n");
  } else {
    std::string text = summary_text(matched, ok, failed, skipped, options.dry_run);
    if (!failed_out.empty()) {
      text.pop_back();
      text += "; the unacknowledged messages are in " + failed_out +
              " (their entries stay pending in the spool)\n";
    }
    util::write_result(text);
  }
  if (interrupted) {
    throw Error(ExitCode::interrupted, "interrupted: " + std::to_string(ok) +
                                           " dead letter(s) recovered, " + std::to_string(failed) +
                                           " not recovered stay pending in " + spool.path() +
                                           " (run recover again to finish)");
  }
  if (failed > 0) {
    spdlog::error("{} dead letter(s) not acknowledged by the broker; they stay pending in {}",
                  failed, spool.path());
    return static_cast<int>(ExitCode::incomplete);
  }
  return 0;
}

int purge(const GlobalOptions& globals, const PurgeOptions& options, const std::string& format) {
  if (!options.yes) {
    throw Error(ExitCode::usage,
                "purge deletes dead letters for good; add --yes to confirm (check "
                "first with 'dtbus dlq list' and the same filters)");
  }
  Setup setup = resolve_setup(globals);
  Filter filter(options.filters, std::chrono::system_clock::now(),
                setup.target.connection.topic_prefix);
  auto open = detail::open_spool(setup, !options.no_pull);
  Spool& spool = *open.spool;
  std::vector<StateChange> changes;
  for (const auto* e : select(spool, filter, {State::pending}))
    changes.push_back({e->id, State::purged, ""});
  spool.change(changes);
  spool.sync();
  clear_retained(setup, globals, spool);
  spool.compact();
  if (format == "json") {
    nlohmann::json summary = {{"matched", changes.size()}, {"purged", changes.size()}};
    util::write_stdout(util::to_json_line(summary) + "\n");
  } else {
    util::write_stdout("purged " + std::to_string(changes.size()) + " dead letter(s) from " +
                       spool.path() + "\n");
  }
  return 0;
}

}  // namespace dtbus::commands::dlq
