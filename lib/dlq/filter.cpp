// SPDX-License-Identifier: Apache-2.0
// Selection of spool entries: times, filters, ids; and what recover sends for an entry.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/dlq/filter.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::dlq {
namespace {

using namespace std::chrono;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<TimePoint> parse_timestamp(std::string_view text) {
  auto ns = util::parse_time(text);
  if (!ns) return std::nullopt;
  return TimePoint(duration_cast<TimePoint::duration>(nanoseconds(*ns)));
}

TimePoint parse_time_option(std::string_view text, TimePoint now, std::string_view flag) {
  std::string_view value = trim(text);
  if (auto parsed = parse_timestamp(value)) return *parsed;
  if (value.size() >= 2) {
    int64_t amount = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size() - 1, amount);
    if (ec == std::errc() && end == value.data() + value.size() - 1 && amount >= 0) {
      switch (value.back()) {
        case 's':
          return now - seconds(amount);
        case 'm':
          return now - minutes(amount);
        case 'h':
          return now - hours(amount);
        case 'd':
          return now - days(amount);
        case 'w':
          return now - weeks(amount);
        default:
          break;
      }
    }
  }
  throw Error(ExitCode::usage, std::string(flag) + " '" + std::string(text) +
                                   "': expected an RFC 3339 time (2024-05-01T12:00:00Z) or an "
                                   "age like 30s, 15m, 2h, 1d, 1w");
}

std::optional<TimePoint> entry_time(const Entry& entry) {
  if (entry.letter.failure_time) return entry.letter.failure_time;
  return parse_timestamp(entry.received_at);
}

Filter::Filter(const FilterOptions& options, TimePoint now, const std::string& topic_prefix)
    : ids_(options.ids) {
  if (!options.topic.empty()) {
    topic::require_filter(options.topic);
    topic_filters_.push_back(options.topic);
    if (!topic_prefix.empty() && options.topic.rfind(topic_prefix, 0) != 0) {
      topic_filters_.push_back(topic_prefix + options.topic);
    }
  }
  if (!options.reason.empty()) {
    try {
      reason_.emplace(options.reason, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error(ExitCode::usage, "--reason '" + options.reason +
                                       "': invalid regular expression (" + e.what() + ")");
    }
  }
  if (!options.since.empty()) since_ = parse_time_option(options.since, now, "--since");
  if (!options.until.empty()) until_ = parse_time_option(options.until, now, "--until");
  for (const auto& id : ids_) {
    if (id.empty()) throw Error(ExitCode::usage, "--id must not be empty");
  }
}

bool Filter::matches(const Entry& entry) const {
  const Letter& letter = entry.letter;
  if (!topic_filters_.empty()) {
    if (!letter.conforming()) return false;
    bool any = false;
    for (const auto& f : topic_filters_) any = any || topic::matches(f, letter.original_topic);
    if (!any) return false;
  }
  if (reason_) {
    const std::string& reason = letter.conforming() ? letter.failure_reason : letter.problem;
    if (!std::regex_search(reason, *reason_)) return false;
  }
  if (since_ || until_) {
    auto time = entry_time(entry);
    if (!time) return false;
    if (since_ && *time < *since_) return false;
    if (until_ && *time >= *until_) return false;
  }
  return true;
}

std::vector<const Entry*> select(const Spool& spool, const Filter& filter,
                                 const std::vector<State>& states) {
  // --id: exact id or a unique prefix of one (ids are long to type).
  std::vector<std::string> wanted;
  for (const auto& id : filter.ids()) {
    if (spool.find(id)) {
      wanted.push_back(id);
      continue;
    }
    std::vector<std::string> hits;
    for (const auto& e : spool.entries()) {
      if (e.id.rfind(id, 0) == 0) hits.push_back(e.id);
    }
    if (hits.empty())
      throw Error(ExitCode::usage, "--id " + id + ": no such entry in " + spool.path());
    if (hits.size() > 1) {
      throw Error(ExitCode::usage, "--id " + id + " is ambiguous (" + std::to_string(hits.size()) +
                                       " entries start with it)");
    }
    wanted.push_back(hits.front());
  }
  std::vector<const Entry*> selected;
  for (const auto& e : spool.entries()) {
    if (std::find(states.begin(), states.end(), e.state) == states.end()) continue;
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), e.id) == wanted.end()) continue;
    if (filter.matches(e)) selected.push_back(&e);
  }
  return selected;
}

const char* payload_kind_name(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::json:
      return "json";
    case PayloadKind::bytes:
      return "bytes";
    case PayloadKind::text:
      return "text";
    case PayloadKind::base64:
      return "base64";
  }
  return "json";
}

bool looks_like_bytes_literal(std::string_view text) {
  return text.size() >= 2 && text[0] == 'b' && (text[1] == '\'' || text[1] == '"');
}

std::string decode_bytes_literal(std::string_view literal) {
  if (!looks_like_bytes_literal(literal)) {
    throw std::invalid_argument("does not start with b' or b\"");
  }
  const char quote = literal[1];
  if (literal.size() < 3 || literal.back() != quote) {
    throw std::invalid_argument(std::string("no closing ") + quote + " (cut off?)");
  }
  std::string_view inner = literal.substr(2, literal.size() - 3);
  auto shown = [](char ch) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto u = static_cast<unsigned char>(ch);
    if (u >= 0x20 && u < 0x7f) return std::string(1, ch);
    return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
  };
  auto at = [](size_t i) { return " at offset " + std::to_string(i + 2); };
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve(inner.size());
  for (size_t i = 0; i < inner.size(); ++i) {
    auto c = static_cast<unsigned char>(inner[i]);
    if (c == '\\') {
      if (i + 1 >= inner.size()) throw std::invalid_argument("lone backslash at the end");
      char e = inner[++i];
      switch (e) {
        case '\\':
        case '\'':
        case '"':
          bytes += e;
          break;
        case 't':
          bytes += '\t';
          break;
        case 'n':
          bytes += '\n';
          break;
        case 'r':
          bytes += '\r';
          break;
        case 'x': {
          int high = i + 1 < inner.size() ? hex_value(inner[i + 1]) : -1;
          int low = i + 2 < inner.size() ? hex_value(inner[i + 2]) : -1;
          if (high < 0 || low < 0) {
            throw std::invalid_argument("\\x without two hex digits" + at(i - 1));
          }
          bytes += static_cast<char>(high * 16 + low);
          i += 2;
          break;
        }
        default:
          throw std::invalid_argument("escape \\" + shown(e) + " that repr() never writes" +
                                      at(i - 1));
      }
      continue;
    }
    if (c == static_cast<unsigned char>(quote)) {
      throw std::invalid_argument(std::string("unescaped ") + quote + at(i));
    }
    if (c < 0x20 || c >= 0x7f) {
      // repr() writes every such byte as \xhh; a raw one means this is not a repr.
      throw std::invalid_argument("raw byte " + shown(inner[i]) + " (repr() writes \\x escapes)" +
                                  at(i));
    }
    bytes += static_cast<char>(c);
  }
  return bytes;
}

Republish republish_payload(const Entry& entry) {
  Republish out;
  if (!entry.letter.conforming()) {
    out.problem = entry.letter.problem;
    return out;
  }
  const Json& payload = letter_payload(entry);
  auto encoding = entry.body.find("payload_encoding");
  if (encoding != entry.body.end() && !encoding->is_null()) {
    // A body in the dtbus record shape says itself how its payload is encoded.
    out.kind = encoding->is_string() && encoding->get<std::string>() == "base64"
                   ? PayloadKind::base64
                   : (payload.is_string() ? PayloadKind::text : PayloadKind::json);
    try {
      out.bytes = record::payload_bytes(entry.body);
    } catch (const std::invalid_argument& e) {
      out.problem = "malformed DLQ body: " + std::string(e.what());
    }
    return out;
  }
  if (!payload.is_string()) {
    out.kind = PayloadKind::json;
    out.bytes = payload.dump(-1, ' ', false, Json::error_handler_t::replace);
    return out;
  }
  const auto& text = payload.get_ref<const std::string&>();
  if (!looks_like_bytes_literal(text)) {
    out.kind = PayloadKind::text;
    out.bytes = text;
    return out;
  }
  out.kind = PayloadKind::bytes;
  try {
    out.bytes = decode_bytes_literal(text);
  } catch (const std::invalid_argument& e) {
    out.problem = "malformed bytes literal: " + std::string(e.what());
  }
  return out;
}

std::string payload_bytes(const Entry& entry) {
  Republish r = republish_payload(entry);
  if (!r.ok()) throw Error(ExitCode::usage, r.problem);
  return std::move(r.bytes);
}

int previous_replay_count(const Entry& entry) {
  constexpr const char* kKey = "dtbus-replay-count";
  int count = 0;
  auto consider = [&](const Json& value) {
    int n = 0;
    if (value.is_number_integer()) {
      n = value.get<int>();
    } else if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      std::from_chars(s.data(), s.data() + s.size(), n);
    }
    count = std::max(count, n);
  };
  for (const auto& p : entry.user_properties) {
    if (p.key == kKey) consider(p.value);
  }
  if (entry.body.is_object()) {
    if (auto it = entry.body.find(kKey); it != entry.body.end()) consider(*it);
    if (auto payload = entry.body.find("payload");
        payload != entry.body.end() && payload->is_object()) {
      if (auto it = payload->find(kKey); it != payload->end()) consider(*it);
    }
  }
  return count;
}

namespace {
std::string history_key(const std::string& topic, const std::string& bytes) {
  return topic + '\0' + bytes;  // a topic never contains NUL
}
}  // namespace

ReplayHistory::ReplayHistory(const Spool& spool) {
  for (const auto& e : spool.entries()) {
    if (e.state != State::recovered || !e.letter.conforming()) continue;
    Republish sent = republish_payload(e);
    if (!sent.ok()) continue;
    // Journals written before the count was recorded: it was one more than the entry carried.
    int count = e.replay_count > 0 ? e.replay_count : previous_replay_count(e) + 1;
    auto& best = by_key_[history_key(
        e.recovered_to.empty() ? e.letter.original_topic : e.recovered_to, sent.bytes)];
    if (count > best.count) best = {count, e.id};
  }
}

ReplayHistory::Earlier ReplayHistory::find(const std::string& topic,
                                           const std::string& bytes) const {
  auto it = by_key_.find(history_key(topic, bytes));
  return it == by_key_.end() ? Earlier{} : it->second;
}

}  // namespace dtbus::dlq
