// SPDX-License-Identifier: Apache-2.0
// JSON Lines message records (lib/core/record.cpp) as `pub --jsonl` and `replay` read them:
// the input is a file of lines. It goes through pub's LineReader (lib/commands/pub/line_reader.cpp)
// and replay's Reader (lib/replay/reader.cpp), and each line through both record parsers, the
// replay selection (--kind, --where, with the first line as the --where spec) and --topic-map.
// Bad lines must only raise the exceptions the commands turn into "line N: ..." errors, and a
// parsed record must survive the `sub -o json | pub --jsonl` round trip unchanged.
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dtbus/commands/pub/line_reader.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/core/where.hpp"
#include "dtbus/replay/replay.hpp"
#include "dtbus/util/time.hpp"
#include "fuzz_util.hpp"

namespace {

using dtbus::fuzz::check;
namespace record = dtbus::record;
namespace replay = dtbus::replay;
namespace util = dtbus::util;
using dtbus::ReceivedMessage;

// One in-memory file, rewritten per input; replay's Reader opens it by path.
int input_fd() {
  static int fd = memfd_create("fuzz_record", 0);
  check(fd >= 0, "memfd_create");
  return fd;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool same_properties(const dtbus::MessageProperties& a, const dtbus::MessageProperties& b) {
  if (a.user.size() != b.user.size()) return false;
  for (size_t i = 0; i < a.user.size(); ++i) {
    if (a.user[i].key != b.user[i].key || a.user[i].value != b.user[i].value) return false;
  }
  return a.content_type == b.content_type && a.message_expiry == b.message_expiry &&
         a.payload_is_utf8 == b.payload_is_utf8 && a.response_topic == b.response_topic &&
         a.correlation_data == b.correlation_data;
}

// `pub --jsonl`: a record, or std::invalid_argument (reported as "stdin line N: ...").
void pub_line(std::string_view line) {
  ReceivedMessage message;
  try {
    message = record::to_message(record::parse_record(line));
  } catch (const std::invalid_argument&) {
    return;
  }
  (void)dtbus::topic::publish_topic_problem(message.topic);

  // What `sub -o json` writes for this message reads back as the same message.
  std::string written;
  record::append_record_line(written, message, "2026-11-23T08:37:28.123Z");
  check(!written.empty() && written.back() == '\n' && written.find('\n') == written.size() - 1,
        "a record is one line");
  ReceivedMessage again = record::to_message(record::parse_record(written));
  check(again.topic == message.topic, "round trip keeps the topic");
  check(again.payload == message.payload, "round trip keeps the payload bytes");
  check(again.qos == message.qos && again.retain == message.retain, "round trip keeps qos/retain");
  check(same_properties(again.properties, message.properties), "round trip keeps the properties");
  check(record::payload_bytes(record::to_record(message)) == message.payload,
        "to_record keeps the payload bytes");
}

// `replay`: a record, or replay::InvalidRecord (reported as "file:line: ...").
void replay_line(const std::string& line, const std::vector<dtbus::where::Condition>& wheres) {
  static const replay::TopicMap topic_map = [] {
    replay::TopicMap map;
    map.add("prod/=staging/");
    return map;
  }();
  try {
    replay::Record parsed = replay::parse_record(line, false);
    replay::Selection selection;
    selection.kinds = {"fuzz_event"};
    selection.wheres = wheres;
    (void)selection.matches(parsed);
    (void)topic_map.apply(parsed.topic);
    if (parsed.time_ns) {
      // format_time() shows milliseconds; parsing it back gives the time to the millisecond.
      std::string text = util::format_time(*parsed.time_ns);
      auto back = util::parse_time(text);
      check(back.has_value(), "format_time() output parses");
      int64_t ms = *parsed.time_ns / 1'000'000 - (*parsed.time_ns % 1'000'000 < 0 ? 1 : 0);
      check(*back == ms * 1'000'000, "format_time() round trip to the millisecond");
    }
  } catch (const replay::InvalidRecord&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = dtbus::fuzz::as_text(data, size);
  std::vector<std::string> expected = split_lines(text);

  int fd = input_fd();
  check(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == static_cast<ssize_t>(size),
        "write the input file");
  check(lseek(fd, 0, SEEK_SET) == 0, "rewind the input file");

  // pub reads stdin with LineReader; a tiny buffer exercises the growth and the carry-over.
  dtbus::commands::pub::LineReader reader(fd, 7);
  std::vector<std::string> lines;
  while (auto line = reader.next()) lines.emplace_back(*line);
  check(lines == expected, "LineReader splits like '\\n'");

  // replay's Reader skips blank lines; count_lines() (the progress total) must agree. It reads
  // in 1 MiB chunks, which costs ASan a fresh mapping per call: checked for every 64th size only.
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  replay::Reader replay_reader({path});
  std::vector<std::string> non_blank;
  for (replay::Line line; replay_reader.next(line);) non_blank.push_back(line.text);
  if (size % 64 == 0) {
    auto counted = replay_reader.count_lines();
    check(counted && *counted == non_blank.size(), "count_lines() counts the lines next() returns");
  }

  std::vector<dtbus::where::Condition> wheres;
  if (!lines.empty()) {
    try {
      wheres.push_back(dtbus::where::parse(lines.front()));
    } catch (const dtbus::Error&) {
    }
  }
  for (const auto& line : lines) {
    if (line.empty()) continue;  // pub skips empty lines
    pub_line(line);
  }
  for (const auto& line : non_blank) replay_line(line, wheres);
  return 0;
}
