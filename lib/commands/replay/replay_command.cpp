// SPDX-License-Identifier: Apache-2.0
// `dtbus replay`: reads the records, selects and rewrites them, and publishes each at its
// scheduled time through the shared publishing pipeline (or, with --dry-run, only counts).
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>

#include <spdlog/spdlog.h>

#include "dtbus/commands/replay/replay_command.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/delivery/publisher.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/progress.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::replay {

using namespace dtbus::replay;
namespace {

// Keys in the documented order (ordered JSON), one line.
std::string json_line(const record::Json& value) {
  return value.dump(-1, ' ', false, record::Json::error_handler_t::replace) + "\n";
}

constexpr auto kProgressStep = std::chrono::milliseconds(250);

// Everything validated before connecting: a usage mistake never half-replays.
struct Plan {
  Selection selection;
  TopicMap topic_map;
  bool time_required = false;
  bool skip_invalid = false;
  std::vector<std::string> time_field;  // --time-field, split at dots
};

// `timestamp`, `meta.created` -> path segments; Error(usage) for an empty segment.
std::vector<std::string> time_field_path(const std::string& spec) {
  std::vector<std::string> path;
  if (spec.empty()) return path;
  size_t start = 0;
  while (true) {
    size_t dot = spec.find('.', start);
    std::string segment = spec.substr(start, dot == std::string::npos ? dot : dot - start);
    if (segment.empty()) {
      throw Error(ExitCode::usage, "--time-field '" + spec +
                                       "': expected a dotted path into the payload, e.g. "
                                       "timestamp or meta.created_at");
    }
    path.push_back(std::move(segment));
    if (dot == std::string::npos) return path;
    start = dot + 1;
  }
}

Plan make_plan(const Options& options, const Reader& reader) {
  const auto& timing = options.timing;
  if (!std::isfinite(timing.speed) || timing.speed < 0) {
    throw Error(ExitCode::usage, "--speed must be a number >= 0 (0 = as fast as possible)");
  }
  if (timing.rate && !(*timing.rate > 0 && std::isfinite(*timing.rate))) {
    throw Error(ExitCode::usage, "--rate must be a positive number of messages per second");
  }
  if (timing.max_gap && !(*timing.max_gap >= 0 && std::isfinite(*timing.max_gap))) {
    throw Error(ExitCode::usage, "--max-gap must be a number of seconds >= 0");
  }
  if (options.qos && (*options.qos < 0 || *options.qos > 2)) {
    throw Error(ExitCode::usage, "--qos must be 0, 1 or 2");
  }
  if (options.retain != "keep" && options.retain != "strip") {
    throw Error(ExitCode::usage, "--retain must be keep or strip");
  }
  if (options.on_invalid != "fail" && options.on_invalid != "skip") {
    throw Error(ExitCode::usage, "--on-invalid must be fail or skip");
  }
  if (!(options.timeout > 0)) throw Error(ExitCode::usage, "--timeout must be > 0 seconds");
  if (options.loops != 1 && reader.reads_stdin()) {
    throw Error(ExitCode::usage, "--loop needs input files: stdin can be read only once");
  }

  Plan plan;
  auto window_bound = [](const std::string& text, const char* flag) -> std::optional<int64_t> {
    if (text.empty()) return std::nullopt;
    auto ns = util::parse_time(text);
    if (!ns) {
      throw Error(ExitCode::usage, std::string(flag) + " '" + text +
                                       "': expected an RFC 3339 time (2026-11-23T08:00:00Z) "
                                       "or epoch seconds/milliseconds");
    }
    return ns;
  };
  plan.selection.since_ns = window_bound(options.since, "--since");
  plan.selection.until_ns = window_bound(options.until, "--until");
  for (const auto& filter : options.topics) topic::require_filter(filter);
  plan.selection.topics = options.topics;
  plan.selection.kinds = options.kinds;
  plan.selection.wheres = where::parse_all(options.wheres);
  for (const auto& mapping : options.topic_maps) plan.topic_map.add(mapping);
  plan.time_required = timing.speed > 0 || plan.selection.has_window();
  plan.skip_invalid = options.on_invalid == "skip";
  plan.time_field = time_field_path(options.time_field);
  return plan;
}

struct Counts {
  uint64_t read = 0;
  uint64_t matched = 0;
  uint64_t skipped = 0;  // invalid lines skipped with --on-invalid skip
};

// A selected record, ready to schedule and send.
struct Selected {
  Record record;
  std::string topic;     // after --topic-map
  std::string position;  // file:line, for messages
};

// Reads every pass, validates, selects and maps; calls `use` for each selected record, in input
// order, with `pass_start` before each pass. Stops early when `use` returns false (interrupt).
// An invalid line throws Error(usage) naming file:line unless skipped.
void for_each_selected(Reader& reader, const Options& options, const Plan& plan, Counts& counts,
                       util::Progress& progress,
                       const std::function<void(uint64_t pass)>& pass_start,
                       const std::function<bool(Selected&)>& use) {
  for (uint64_t pass = 1; options.loops == 0 || pass <= options.loops; ++pass) {
    if (pass > 1) reader.rewind();
    pass_start(pass);
    Line line;
    while (reader.next(line)) {
      ++counts.read;
      Selected selected;
      try {
        selected.record = parse_record(line.text, plan.time_required, plan.time_field);
        if (!plan.selection.matches(selected.record)) continue;
        selected.topic = plan.topic_map.apply(selected.record.topic);
      } catch (const InvalidRecord& e) {
        std::string where = line.source + ":" + std::to_string(line.number) + ": " + e.what();
        if (!plan.skip_invalid) throw Error(ExitCode::usage, where);
        progress.clear();
        spdlog::warn("{} (line skipped)", where);
        ++counts.skipped;
        continue;
      }
      ++counts.matched;
      selected.position = line.source + ":" + std::to_string(line.number);
      if (!use(selected)) return;
    }
    if (interrupt::interrupted()) return;
  }
}

// Clock for --dry-run's duration estimate: sleeping just moves time forward.
class VirtualClock : public Clock {
 public:
  TimePoint now() override { return now_; }
  bool sleep_until(TimePoint when) override {
    now_ = std::max(now_, when);
    return true;
  }

 private:
  TimePoint now_{};
};

// One pass, nothing connected: what would be sent, and how long it would take.
int dry_run(Reader& reader, const Options& options, const Plan& plan, const std::string& format) {
  Options one_pass = options;
  one_pass.loops = 1;
  Counts counts;
  util::Progress no_progress(false, std::nullopt);
  std::map<std::string, uint64_t> per_topic;
  std::optional<int64_t> first, last;
  VirtualClock clock;
  Scheduler scheduler(options.timing, clock);
  for_each_selected(
      reader, one_pass, plan, counts, no_progress, [&](uint64_t) { scheduler.restart(); },
      [&](Selected& selected) {
        ++per_topic[selected.topic];
        if (auto ns = selected.record.time_ns) {
          first = first ? std::min(*first, *ns) : *ns;
          last = last ? std::max(*last, *ns) : *ns;
        }
        clock.sleep_until(scheduler.schedule(selected.record.time_ns));
        scheduler.sent(clock.now());
        return true;
      });
  double estimate = std::chrono::duration<double>(clock.now().time_since_epoch()).count();
  double span = first ? static_cast<double>(*last - *first) / 1e9 : 0;

  if (format == "json") {
    record::Json topics = record::Json::object();
    for (const auto& [name, count] : per_topic) topics[name] = count;
    record::Json summary = {{"dry_run", true},
                            {"read", counts.read},
                            {"matched", counts.matched},
                            {"skipped", counts.skipped},
                            {"topics", topics},
                            {"first", first ? nlohmann::json(util::format_time(*first)) : nullptr},
                            {"last", last ? nlohmann::json(util::format_time(*last)) : nullptr},
                            {"span_s", span},
                            {"loops", options.loops},
                            {"estimated_duration_s", estimate}};
    util::write_stdout(json_line(summary));
    return 0;
  }
  std::string text = "dry run: " + std::to_string(counts.matched) + " of " +
                     std::to_string(counts.read) + " records would be published to " +
                     std::to_string(per_topic.size()) + " topics";
  if (counts.skipped > 0) text += " (" + std::to_string(counts.skipped) + " invalid lines skipped)";
  text += "\n";
  if (first) {
    text += fmt::format("time span: {} .. {} ({:.3f} s)\n", util::format_time(*first),
                        util::format_time(*last), span);
  }
  if (options.timing.speed > 0 || options.timing.rate) {
    text += fmt::format("estimated duration: {:.3f} s{}\n", estimate,
                        options.loops == 1 ? "" : " per pass");
  }
  for (const auto& [name, count] : per_topic) text += fmt::format("{:>10}  {}\n", count, name);
  util::write_stdout(text);
  return 0;
}

// DTBUS_REPLAY_TIMING_OUT=FILE: one line per sent message, `due_ns actual_ns` on the monotonic
// clock, for bench/replay_timing (internal; not part of the CLI contract).
class TimingLog {
 public:
  TimingLog() {
    const char* path = std::getenv("DTBUS_REPLAY_TIMING_OUT");
    if (path != nullptr && *path != '\0') {
      file_ = std::fopen(path, "w");
      if (file_ == nullptr) spdlog::warn("cannot write DTBUS_REPLAY_TIMING_OUT file {}", path);
    }
  }
  ~TimingLog() {
    if (file_ != nullptr) std::fclose(file_);
  }
  TimingLog(const TimingLog&) = delete;
  TimingLog& operator=(const TimingLog&) = delete;
  void add(TimePoint due, TimePoint actual) {
    if (file_ == nullptr) return;
    std::fprintf(file_, "%lld %lld\n", static_cast<long long>(due.time_since_epoch().count()),
                 static_cast<long long>(actual.time_since_epoch().count()));
  }

 private:
  std::FILE* file_ = nullptr;
};

void print_summary(const Counts& counts, const delivery::DeliveryReport& report,
                   const std::string& format, bool quiet) {
  if (format == "json") {
    record::Json summary = {{"read", counts.read},
                            {"matched", counts.matched},
                            {"published", report.published},
                            {"acknowledged", report.acknowledged},
                            {"failed", report.failed},
                            {"skipped", counts.skipped},
                            {"duration_s", std::round(report.duration_s * 1000) / 1000}};
    util::write_result(json_line(summary));  // a closed stdout must not hide a failure
    return;
  }
  if (quiet) return;
  std::string line = fmt::format(
      "dtbus replay: {} read, {} matched, {} published, {} acknowledged, {} failed", counts.read,
      counts.matched, report.published, report.acknowledged, report.failed);
  if (counts.skipped > 0) line += fmt::format(", {} invalid skipped", counts.skipped);
  line += fmt::format(" in {:.2f} s\n", report.duration_s);
  std::fputs(line.c_str(), stderr);
}

}  // namespace

int run(const Invocation& invocation, const Options& options) {
  const GlobalOptions& globals = invocation.globals;
  const std::string& format = invocation.output;
  Reader reader(options.inputs);
  reader.check();
  Plan plan = make_plan(options, reader);
  if (options.inputs.empty() && util::is_tty(stdin)) {
    throw Error(ExitCode::usage,
                "no input: give FILE... or pipe records on stdin ('-' reads the terminal)");
  }
  if (options.dry_run) return dry_run(reader, options, plan, format);

  bool show_progress = options.progress.value_or(util::is_tty(stderr) && !globals.quiet);
  std::optional<uint64_t> total;
  if (show_progress && options.loops != 0) {
    if (auto lines = reader.count_lines()) total = *lines * options.loops;
  }

  // Records carry full topics (as recorded): the broker's topic_prefix is never added.
  auto target = target::resolve(globals, "replay");
  delivery::DeliveryOptions delivery;
  delivery.timeout = std::chrono::milliseconds(std::llround(options.timeout * 1000));
  delivery.failed_out = options.failed_out;
  delivery.command = "replay";
  delivery::Publisher publisher(target.connection, delivery);
  spdlog::info("connected to {}", target.connection.describe());

  interrupt::install();
  SteadyClock clock(/*interruptible=*/true);
  Scheduler scheduler(options.timing, clock);
  TimingLog timing_log;
  util::Progress progress(show_progress, total);
  Counts counts;
  uint64_t sent = 0;
  std::string position;  // of the record being sent (or last sent)
  std::optional<Error> bad_input;
  std::optional<Error> stopped;
  try {
    for_each_selected(
        reader, options, plan, counts, progress,
        [&](uint64_t pass) {
          scheduler.restart();
          if (pass > 1) spdlog::info("pass {}", pass);
        },
        [&](Selected& selected) {
          TimePoint due = scheduler.schedule(selected.record.time_ns);
          // A long wait is slept in steps so the progress bar keeps moving; the last step
          // still ends exactly at `due`.
          while (progress.enabled() && due - clock.now() > kProgressStep) {
            if (!clock.sleep_until(clock.now() + kProgressStep)) return false;
            progress.update(counts.read, sent);
          }
          if (!clock.sleep_until(due)) return false;
          delivery::OutgoingMessage message;
          message.topic = std::move(selected.topic);
          message.payload = std::move(selected.record.payload);
          message.qos = options.qos.value_or(selected.record.qos.value_or(1));
          message.retain = options.retain == "keep" && selected.record.retain;
          message.properties = std::move(selected.record.properties);
          position = std::move(selected.position);
          publisher.publish(std::move(message));
          if (publisher.stopped()) return false;
          TimePoint actual = clock.now();
          scheduler.sent(actual);
          timing_log.add(due, actual);
          progress.update(counts.read, ++sent);
          return !interrupt::interrupted();
        });
  } catch (const Error& e) {
    if (e.code() != ExitCode::usage) throw;
    bad_input = e;  // a bad line: the records before it were sent, see them acknowledged
  }
  // (After a signal the record is in failed-out: nothing to add.)
  if (publisher.stopped_by() == delivery::StoppedBy::timeout) {
    // No acknowledgement progress for --timeout: what was in flight is in failed-out.
    stopped = Error(ExitCode::incomplete,
                    "replay stopped at " + position + "; later records were not sent");
  } else if (publisher.stopped_by() == delivery::StoppedBy::refused) {
    Error refusal = *publisher.progress().refusal;  // refused by libmosquitto
    if (refusal.code() != ExitCode::usage) throw refusal;
    bad_input = Error(refusal.code(), position + ": " + refusal.what());
  }
  progress.clear();
  delivery::DeliveryReport report = publisher.finish();
  print_summary(counts, report, format, globals.quiet);
  if (interrupt::interrupted()) {
    std::string text =
        position.empty() ? "interrupted before the first record" : "interrupted after " + position;
    text += "; later records were not sent";
    if (report.failed > 0) {
      text += fmt::format(
          "; {} message(s) not acknowledged or not sent saved to {} (re-send "
          "with: dtbus pub --jsonl < {})",
          report.failed, report.failed_out_path, report.failed_out_path);
    }
    throw Error(ExitCode::interrupted, text);
  }
  if (!report.complete() || stopped) {
    if (bad_input) print_error("replay", bad_input->what());
    if (stopped) print_error("replay", stopped->what());
    throw Error(ExitCode::incomplete,
                fmt::format("{} of {} message(s) not acknowledged; saved to {} (re-send with: "
                            "dtbus pub --jsonl < {})",
                            report.failed, report.published, report.failed_out_path,
                            report.failed_out_path));
  }
  if (bad_input) throw *bad_input;
  return 0;
}

}  // namespace dtbus::commands::replay
