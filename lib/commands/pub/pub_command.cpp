// SPDX-License-Identifier: Apache-2.0
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "dtbus/commands/pub/line_reader.hpp"
#include "dtbus/commands/pub/pub_command.hpp"
#include "dtbus/core/envelope.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/delivery/publisher.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"

namespace dtbus::commands::pub {
namespace {

enum class Input { message, file, stdin_all, stdin_lines, jsonl };

Input input_mode(const Options& o) {
  int count = (o.message ? 1 : 0) + (o.file ? 1 : 0) + (o.stdin_all ? 1 : 0) +
              (o.stdin_lines ? 1 : 0) + (o.jsonl ? 1 : 0);
  if (count != 1) {
    throw Error(ExitCode::usage, count == 0
                                     ? "nothing to publish: give one of -m, -f, -s, -l, --jsonl"
                                     : "give only one of -m, -f, -s, -l, --jsonl");
  }
  if (o.message) return Input::message;
  if (o.file) return Input::file;
  if (o.stdin_all) return Input::stdin_all;
  return o.stdin_lines ? Input::stdin_lines : Input::jsonl;
}

dtbus::MessageProperties cli_properties(const Options& o) {
  dtbus::MessageProperties p;
  p.content_type = o.content_type;
  p.message_expiry = o.expiry;
  for (const auto& spec : o.user_properties) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ExitCode::usage, "-x '" + spec + "': expected KEY=VALUE");
    }
    p.user.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
  }
  return p;
}

// CLI properties override/extend a record's own.
void merge_properties(dtbus::MessageProperties& into, const dtbus::MessageProperties& cli) {
  if (!cli.content_type.empty()) into.content_type = cli.content_type;
  if (cli.message_expiry) into.message_expiry = cli.message_expiry;
  into.user.insert(into.user.end(), cli.user.begin(), cli.user.end());
}

// Where a line or message came from, for error messages.
std::string origin(Input input, uint64_t line, const Options& o) {
  switch (input) {
    case Input::message:
      return "-m message";
    case Input::file:
      return "'" + *o.file + "'";
    case Input::stdin_all:
      return "stdin";
    default:
      return "stdin line " + std::to_string(line);
  }
}

class Command {
 public:
  Command(const GlobalOptions& globals, const Options& options, std::string output)
      : globals_(globals), o_(options), output_(std::move(output)), input_(input_mode(options)) {}

  int run() {
    prepare();
    interrupt::install();
    delivery::DeliveryOptions delivery;
    delivery.window = o_.window;
    delivery.timeout = std::chrono::milliseconds(static_cast<int64_t>(o_.timeout * 1000));
    delivery.rate = o_.rate;
    delivery.failed_out = o_.failed_out;
    delivery.command = "pub";
    delivery.on_refused = [this](const delivery::OutgoingMessage& m, const std::string& why) {
      return on_refused(m, why);
    };
    // Creates the failed-out file first: nothing is published when it cannot be written.
    delivery::Publisher publisher(target_.connection, delivery);
    std::optional<Error> input_error;
    publish_all(publisher, input_error);
    if (publisher.stopped_by() == delivery::StoppedBy::refused) {
      // A bad topic: like a bad line, after what is in flight is acknowledged.
      input_error = publisher.progress().refusal;
    }
    // The lines already read go to failed-out, so that everything up to the last line read is
    // acknowledged or saved: one line number to resume from.
    if (interrupt::interrupted()) {
      save_unsent_lines(publisher, input_error, std::string(delivery::kNotSentAfterSignal));
    } else if (publisher.stopped_by() == delivery::StoppedBy::timeout) {
      save_unsent_lines(publisher, input_error, "not sent: " + publisher.progress().stop_reason);
    }
    delivery::DeliveryReport report = publisher.finish();
    print_summary(report);
    if (interrupt::interrupted()) {
      if (input_error && input_error->code() == ExitCode::usage) report_also(*input_error);
      fail(interrupted_error(report));
    }
    if (!report.complete()) {
      if (input_error) report_also(*input_error);
      // Messages neither delivered nor saved are worse than an incomplete delivery.
      fail(Error(report.unsaved > 0 ? ExitCode::runtime : ExitCode::incomplete,
                 outcome_text(report)));
    }
    if (input_error) fail(*input_error);
    if (summary_error_) throw Error(ExitCode::runtime, *summary_error_);
    return 0;
  }

 private:
  // Ends with `error`, after the line about a summary stdout did not take.
  [[noreturn]] void fail(const Error& error) const {
    if (summary_error_) print_error("pub", *summary_error_);
    throw error;
  }

  static void report_also(const Error& error) { print_error("pub", error.what()); }

  // A message the link refused (too large for the broker...): one line naming its input line;
  // saved to failed-out, or skipped with --on-invalid skip. Publishing goes on either way.
  bool on_refused(const delivery::OutgoingMessage& message, const std::string& why) {
    std::string text = origin(input_, message.input_line, o_) + ": " + why;
    if (o_.on_invalid == "skip") {
      spdlog::warn("{} (skipped)", text);
      skipped_++;
      return false;
    }
    spdlog::error("{}", text);
    refused_++;
    return true;
  }

  // What was not delivered and where it is, for the final error line.
  std::string outcome_text(const delivery::DeliveryReport& report) const {
    std::vector<std::string> parts;
    uint64_t unacknowledged = report.published - report.acknowledged;
    uint64_t unsent = report.failed - std::min(report.failed, unacknowledged + refused_);
    if (unacknowledged > 0) {
      parts.push_back(std::to_string(unacknowledged) + " of " + std::to_string(report.published) +
                      " message(s) not acknowledged");
    }
    if (refused_ > 0) parts.push_back(std::to_string(refused_) + " message(s) refused");
    if (unsent > 0) parts.push_back(std::to_string(unsent) + " line(s) read but not sent");
    std::string text;
    if (report.stopped_by == delivery::StoppedBy::timeout) text = report.stop_reason + "; ";
    for (size_t i = 0; i < parts.size(); ++i) text += (i > 0 ? ", " : "") + parts[i];
    text += ": " + delivery::saved_text(report);
    if (reader_ && !reader_->at_end()) {
      text += "; everything up to stdin line " + std::to_string(reader_->line_number()) +
              (report.unsaved == 0 ? " is acknowledged or saved" : " was read") +
              ", stdin was not read beyond it (resume with: tail -n +" +
              std::to_string(reader_->line_number() + 1) + " INPUT | dtbus pub ...)";
    }
    return text;
  }

  void prepare() {
    if (o_.qos && (*o_.qos < 0 || *o_.qos > 2))
      throw Error(ExitCode::usage, "-q must be 0, 1 or 2");
    if (o_.on_invalid != "fail" && o_.on_invalid != "skip") {
      throw Error(ExitCode::usage, "--on-invalid must be fail or skip");
    }
    if (o_.repeat != 1 && (input_ == Input::stdin_lines || input_ == Input::jsonl)) {
      throw Error(ExitCode::usage, "--repeat works with -m, -f and -s only");
    }
    if (o_.topic.empty() && input_ != Input::jsonl)
      throw Error(ExitCode::usage, "-t TOPIC is required");
    properties_ = cli_properties(o_);
    target_ = target::resolve(globals_, "pub");
    target_.connection.topic_alias = o_.topic_alias;
    // A topic given on the command line gets the broker's topic_prefix; record topics in
    // --jsonl input are full topics already (as `sub -o json` printed them).
    if (!o_.topic.empty()) {
      topic_ = target_.connection.prefixed(o_.topic);
      topic::require_publish_topic(topic_);
    }
    std::string envelope_name = o_.envelope.value_or(
        input_ == Input::jsonl || !target_.broker ? std::string("none") : target_.broker->envelope);
    envelope_.kind = envelope::parse_kind(envelope_name);
    envelope_.event_kind = o_.kind;
    envelope_.event_type = o_.type;
    envelope_.trace_id = o_.trace_id;
    envelope_.correlation_id = o_.correlation_id;
    if (target_.broker) envelope_.source = target_.broker->source;
    envelope::check_options(envelope_);
    if (target_.connection.protocol != 5 && !properties_.empty()) {
      spdlog::warn(
          "message properties (-x, --content-type, --expiry) need MQTT 5; ignored with -V 311");
    }
    // One message (-m/-f/-s) is read and checked before connecting.
    if (input_ == Input::message) raw_single_ = *o_.message;
    if (input_ == Input::file) raw_single_ = read_file(*o_.file);
    if (input_ == Input::stdin_all) raw_single_ = read_all(STDIN_FILENO);
    if (input_ == Input::message || input_ == Input::file || input_ == Input::stdin_all) {
      single_ = raw_single_;
      std::string problem;
      if (!apply_envelope(*single_, problem)) {
        throw Error(ExitCode::usage, origin(input_, 0, o_) + ": " + problem);
      }
    }
  }

  // Wraps `payload` in the envelope in place; false with a reason when it is not JSON.
  bool apply_envelope(std::string& payload, std::string& problem) {
    if (envelope_.kind == envelope::Kind::none) return true;
    auto value = util::parse_json(payload);
    if (value.is_discarded()) {
      problem = std::string("not valid JSON (the ") + envelope::kind_name(envelope_.kind) +
                " envelope needs a JSON payload)";
      return false;
    }
    payload = envelope::wrap(envelope_, std::move(value)).dump();
    return true;
  }

  delivery::OutgoingMessage base_message(std::string payload) const {
    delivery::OutgoingMessage m;
    m.topic = topic_;
    m.payload = std::move(payload);
    m.qos = o_.qos.value_or(0);
    m.retain = o_.retain;
    m.properties = properties_;
    return m;
  }

  void publish_all(delivery::Publisher& publisher, std::optional<Error>& input_error) {
    if (single_) {
      for (uint64_t i = 0; i < o_.repeat && !interrupt::interrupted() && !publisher.stopped();
           ++i) {
        std::string payload = *single_;
        if (i > 0 && envelope_.kind != envelope::Kind::none) {
          // A fresh id/trace_id/timestamp per repetition.
          payload = raw_single_;
          std::string problem;
          apply_envelope(payload, problem);
        }
        publisher.publish(base_message(std::move(payload)));
      }
      return;
    }
    reader_.emplace(STDIN_FILENO);
    delivery::OutgoingMessage message = base_message({});
    while (next_message(message, input_error)) {
      publisher.publish(message);
      if (interrupt::interrupted() || publisher.stopped()) return;
    }
  }

  // The next stdin line as a message; false at the end of input, or at a bad line with
  // --on-invalid fail (input_error set).
  bool next_message(delivery::OutgoingMessage& message, std::optional<Error>& input_error) {
    while (auto line = reader_->next()) {
      if (line->empty()) continue;
      std::string problem;
      bool ok = input_ == Input::jsonl ? record_message(*line, message, problem)
                                       : line_message(*line, message, problem);
      message.input_line = reader_->line_number();
      if (ok) return true;
      std::string text = "stdin line " + std::to_string(reader_->line_number()) + ": " + problem;
      if (o_.on_invalid == "skip") {
        spdlog::warn("{} (skipped)", text);
        skipped_++;
        continue;
      }
      input_error = Error(ExitCode::usage, text);
      return false;
    }
    return false;
  }

  // After a signal or a timeout: the lines already read from stdin but not published go to
  // failed-out, so that nothing taken from the input is lost; stdin is not read further.
  void save_unsent_lines(delivery::Publisher& publisher, std::optional<Error>& input_error,
                         const std::string& why) {
    if (!reader_) return;
    reader_->stop();
    delivery::OutgoingMessage message = base_message({});
    while (next_message(message, input_error)) publisher.save_unsent(message, why);
  }

  Error interrupted_error(const delivery::DeliveryReport& report) const {
    std::string text = "interrupted";
    if (reader_) {
      text += " after stdin line " + std::to_string(reader_->line_number());
      if (!reader_->at_end()) text += " (stdin not read beyond it)";
    }
    if (report.failed == 0) {
      return Error(ExitCode::interrupted, text + "; the " + std::to_string(report.published) +
                                              " message(s) published were all acknowledged");
    }
    text += "; " + std::to_string(report.failed) +
            " message(s) not acknowledged or not sent: " + delivery::saved_text(report);
    if (reader_ && !reader_->at_end()) {
      text += "; resume with: tail -n +" + std::to_string(reader_->line_number() + 1) +
              " INPUT | dtbus pub ...";
    }
    return Error(ExitCode::interrupted, text);
  }

  bool line_message(std::string_view line, delivery::OutgoingMessage& message,
                    std::string& problem) {
    message.payload.assign(line.data(), line.size());
    return apply_envelope(message.payload, problem);
  }

  bool record_message(std::string_view line, delivery::OutgoingMessage& message,
                      std::string& problem) {
    try {
      dtbus::ReceivedMessage parsed = record::to_message(record::parse_record(line));
      message.topic = topic_.empty() ? parsed.topic : topic_;
      if (auto bad = topic::publish_topic_problem(message.topic)) {
        problem = "topic '" + message.topic + "': " + *bad;
        return false;
      }
      message.payload = std::move(parsed.payload);
      message.qos = o_.qos.value_or(parsed.qos);
      message.retain = o_.retain || parsed.retain;
      message.properties = std::move(parsed.properties);
      merge_properties(message.properties, properties_);
    } catch (const std::invalid_argument& e) {
      problem = std::string("invalid record: ") + e.what();
      return false;
    }
    return apply_envelope(message.payload, problem);
  }

  void print_summary(const delivery::DeliveryReport& report) {
    double rate =
        report.duration_s > 0 ? static_cast<double>(report.acknowledged) / report.duration_s : 0;
    if (output_ == "json") {
      record::Json summary = {
          {"published", report.published},   {"acknowledged", report.acknowledged},
          {"failed", report.failed},         {"skipped", skipped_},
          {"duration_s", report.duration_s}, {"rate", rate}};
      std::string text = summary.dump() + "\n";
      // A summary that did not reach stdout (full, closed) must not end with 0.
      if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
          std::fflush(stdout) != 0) {
        summary_error_ = std::string("cannot write the summary to stdout: ") + std::strerror(errno);
      }
      return;
    }
    spdlog::info(
        "published {} message(s), {} acknowledged, {} failed, {} skipped in {:.3f} s ({:.0f}/s)",
        report.published, report.acknowledged, report.failed, skipped_, report.duration_s, rate);
  }

  const GlobalOptions& globals_;
  const Options& o_;
  std::string output_;
  Input input_;
  target::Target target_;
  std::string topic_;
  dtbus::MessageProperties properties_;
  envelope::Options envelope_;
  std::optional<std::string> single_;
  std::string raw_single_;
  std::optional<LineReader> reader_;  // -l / --jsonl
  uint64_t skipped_ = 0;
  uint64_t refused_ = 0;                      // saved to failed-out by on_refused
  std::optional<std::string> summary_error_;  // -o json: the summary did not reach stdout
};

}  // namespace

int run(const Invocation& invocation, const Options& options) {
  return Command(invocation.globals, options, invocation.output).run();
}

}  // namespace dtbus::commands::pub
