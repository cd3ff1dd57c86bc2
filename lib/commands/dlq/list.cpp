// SPDX-License-Identifier: Apache-2.0
// dtbus dlq list: the spool's entries as a table sized to the terminal or as JSON Lines.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "dtbus/commands/dlq/dlq_command.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/dlq/session.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::dlq {

using namespace dtbus::dlq;
namespace {

constexpr size_t kIdWidth = 16;
constexpr size_t kAgeWidth = 4;
constexpr size_t kStateWidth = 9;
constexpr size_t kMinTextWidth = 12;

// Display width by code points (close enough for topics and reasons).
size_t width(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Cut at a code point boundary, marking the cut; pads to `columns` when `pad`.
std::string fit(std::string_view text, size_t columns, bool pad) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
  if (width(out) > columns) {
    size_t keep = columns > 0 ? columns - 1 : 0;
    size_t count = 0, i = 0;
    for (; i < out.size(); ++i) {
      if ((static_cast<unsigned char>(out[i]) & 0xC0) != 0x80 && count++ == keep) break;
    }
    out.resize(i);
    out += "\u2026";
  }
  if (pad) out.append(columns - std::min(columns, width(out)), ' ');
  return out;
}

std::string reason_of(const Entry& e) {
  return e.letter.conforming() ? e.letter.failure_reason : e.letter.problem;
}

Json json_line(const Entry& e) {
  Json line;
  line["id"] = e.id;
  line["state"] = state_name(e.state);
  const Letter& l = e.letter;
  line["original_topic"] = l.conforming() ? Json(l.original_topic) : Json(nullptr);
  line["failure_reason"] = reason_of(e);
  line["failure_timestamp"] =
      l.failure_timestamp.empty() ? Json(nullptr) : Json(l.failure_timestamp);
  line["received_at"] = e.received_at;
  line["payload"] = l.conforming() ? letter_payload(e) : e.body;
  line["dlq_topic"] = e.dlq_topic;
  // How recover turns the payload back into the original bytes, and those bytes.
  if (!l.conforming()) {
    line["payload_kind"] = nullptr;
    line["republish"] = nullptr;
    return line;
  }
  Republish sent = republish_payload(e);
  line["payload_kind"] = payload_kind_name(sent.kind);
  Json republish;
  if (!sent.ok()) {
    republish["problem"] = sent.problem;
  } else if (topic::valid_utf8(sent.bytes)) {
    republish["payload"] = sent.bytes;
    republish["payload_encoding"] = "utf8";
  } else {
    republish["payload"] = util::base64_encode(sent.bytes);
    republish["payload_encoding"] = "base64";
  }
  line["republish"] = std::move(republish);
  return line;
}

// The SENDS column: the kind, then the bytes recover would publish (escaped where not printable).
std::string sends_of(const Entry& e) {
  if (!e.letter.conforming()) return "-";
  Republish sent = republish_payload(e);
  std::string kind = payload_kind_name(sent.kind);
  if (!sent.ok()) return kind + " " + sent.problem;
  bool plain = topic::valid_utf8(sent.bytes) &&
               std::none_of(sent.bytes.begin(), sent.bytes.end(),
                            [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  return kind + " " +
         (plain ? sent.bytes
                : Json(sent.bytes).dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string render_table(const std::vector<const Entry*>& rows, bool with_state, bool color) {
  auto now = std::chrono::system_clock::now();
  size_t columns = static_cast<size_t>(std::max(40, util::terminal_columns(stdout)));
  size_t fixed = kIdWidth + 2 + kAgeWidth + 2 + (with_state ? kStateWidth + 2 : 0);
  size_t flexible =
      columns > fixed + 2 * kMinTextWidth + 2 ? columns - fixed - 2 : 2 * kMinTextWidth;
  size_t longest_topic = width("ORIGINAL TOPIC");
  for (const auto* e : rows) {
    longest_topic =
        std::max(longest_topic, width(e->letter.conforming() ? e->letter.original_topic : "-"));
  }
  // The topic gets what it needs up to a third of the room; reason and payload share the rest.
  size_t topic_width = std::clamp(longest_topic, kMinTextWidth, flexible / 3);
  size_t rest = flexible - topic_width - 2;
  size_t reason_width = rest / 2;
  size_t sends_width = rest - reason_width;

  auto header = fit("ID", kIdWidth, true) + "  " + std::string(kAgeWidth - 3, ' ') + "AGE  " +
                (with_state ? fit("STATE", kStateWidth, true) + "  " : "") +
                fit("ORIGINAL TOPIC", topic_width, true) + "  " +
                fit("REASON", reason_width, true) + "  SENDS";
  std::string out = util::paint(header, util::Color::bold, color) + "\n";
  for (const auto* e : rows) {
    auto time = entry_time(*e);
    std::string age =
        time ? util::compact_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *time))
             : "?";
    std::string state = state_name(e->state);
    out +=
        e->id + "  " + std::string(kAgeWidth - std::min(kAgeWidth, age.size()), ' ') + age + "  ";
    if (with_state) {
      auto painted =
          util::paint(fit(state, kStateWidth, true),
                      e->state == State::pending ? util::Color::yellow : util::Color::gray, color);
      out += painted + "  ";
    }
    out += fit(e->letter.conforming() ? e->letter.original_topic : "-", topic_width, true) + "  ";
    std::string reason = fit(reason_of(*e), reason_width, true);
    out += (e->letter.conforming() ? reason : util::paint(reason, util::Color::red, color)) + "  ";
    std::string sends = fit(sends_of(*e), sends_width, false);
    bool sendable = e->letter.conforming() && republish_payload(*e).ok();
    out += (sendable ? sends : util::paint(sends, util::Color::red, color)) + "\n";
  }
  return out;
}

}  // namespace

int list(const GlobalOptions& globals, const ListOptions& options, const std::string& format) {
  Setup setup = resolve_setup(globals);
  Filter filter(options.filters, std::chrono::system_clock::now(),
                setup.target.connection.topic_prefix);
  std::vector<State> states = {State::pending};
  if (options.all) states = {State::pending, State::recovered, State::purged};

  // Without a pull, only read: no lock, so listing works while a recover runs.
  detail::OpenSpool open;
  std::unique_ptr<Spool> read_only;
  const Spool* spool = nullptr;
  if (options.no_pull) {
    read_only = std::make_unique<Spool>(setup.spool_path, Spool::Mode::read_only);
    for (const auto& w : read_only->warnings()) spdlog::warn("{}", w);
    spool = read_only.get();
  } else {
    open = detail::open_spool(setup, true);
    spool = open.spool.get();
  }
  auto rows = select(*spool, filter, states);

  if (format == "json") {
    std::string out;
    for (const auto* e : rows)
      out += json_line(*e).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    util::write_stdout(out);
  } else if (rows.empty()) {
    util::write_stdout(std::string(options.all ? "no entries" : "no pending dead letters") +
                       " in " + spool->path() + "\n");
  } else {
    util::write_stdout(render_table(rows, options.all, globals.color_stdout()));
  }
  if (open.spool) open.spool->compact();
  return 0;
}

}  // namespace dtbus::commands::dlq
