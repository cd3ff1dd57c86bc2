// SPDX-License-Identifier: Apache-2.0
// Streaming the input files line by line, and turning a line into a record.
#include <sys/stat.h>

#include <cstring>
#include <iostream>

#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/where.hpp"
#include "dtbus/replay/replay.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::replay {
namespace {

bool is_stdin(const std::string& input) { return input == "-"; }

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

Reader::Reader(std::vector<std::string> inputs) : inputs_(std::move(inputs)) {
  if (inputs_.empty()) inputs_.push_back("-");
}

void Reader::check() const {
  for (const auto& input : inputs_) {
    if (is_stdin(input)) continue;
    std::ifstream probe(input);
    if (!probe) {
      throw Error(ExitCode::usage, "cannot read '" + input + "': " + std::strerror(errno));
    }
    struct stat info {};
    if (::stat(input.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      throw Error(ExitCode::usage, "cannot read '" + input + "': is a directory");
    }
  }
}

bool Reader::reads_stdin() const {
  for (const auto& input : inputs_) {
    if (is_stdin(input)) return true;
  }
  return false;
}

std::optional<uint64_t> Reader::count_lines() const {
  uint64_t total = 0;
  for (const auto& input : inputs_) {
    if (is_stdin(input) || !is_regular_file(input)) return std::nullopt;
    std::FILE* file = std::fopen(input.c_str(), "rb");
    if (file == nullptr) return std::nullopt;
    // Counts non-empty lines like next() does, in fixed-size chunks (files may be many GB).
    std::vector<char> buffer(1 << 20);
    bool line_has_text = false;
    size_t got;
    while ((got = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
      for (size_t i = 0; i < got; ++i) {
        char c = buffer[i];
        if (c == '\n') {
          total += line_has_text;
          line_has_text = false;
        } else if (c != '\r' && c != ' ' && c != '\t') {
          line_has_text = true;
        }
      }
    }
    total += line_has_text;
    std::fclose(file);
  }
  return total;
}

bool Reader::open_next() {
  file_.reset();
  stream_ = nullptr;
  if (index_ >= inputs_.size()) return false;
  source_ = inputs_[index_++];
  number_ = 0;
  if (is_stdin(source_)) {
    stream_ = &std::cin;
    return true;
  }
  file_ = std::make_unique<std::ifstream>(source_, std::ios::binary);
  if (!*file_) {
    throw Error(ExitCode::usage, "cannot read '" + source_ + "': " + std::strerror(errno));
  }
  stream_ = file_.get();
  return true;
}

bool Reader::next(Line& line) {
  while (true) {
    if (stream_ == nullptr && !open_next()) return false;
    std::string text;
    if (!std::getline(*stream_, text)) {
      if (stream_->bad()) {
        throw Error(ExitCode::runtime, "error reading '" + source_ + "'");
      }
      stream_ = nullptr;
      continue;
    }
    ++number_;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    line.source = source_;
    line.number = number_;
    line.text = std::move(text);
    return true;
  }
}

void Reader::rewind() {
  file_.reset();
  stream_ = nullptr;
  index_ = 0;
}

record::Json Record::payload_json() const {
  const auto& payload = json.at("payload");
  auto encoding = json.find("payload_encoding");
  bool is_json = encoding == json.end() ? !payload.is_string() : *encoding == "json";
  if (is_json) return payload;
  auto parsed = util::parse_json(this->payload);
  return parsed.is_discarded() ? record::Json() : parsed;
}

Record parse_record(const std::string& text, bool time_required,
                    const std::vector<std::string>& time_field) {
  Record result;
  dtbus::ReceivedMessage message;
  try {
    result.json = record::parse_record(text);
    message = record::to_message(result.json);
  } catch (const std::invalid_argument& e) {
    throw InvalidRecord(e.what());
  }
  const auto& json = result.json;
  if (!json.contains("topic") || json["topic"].is_null()) throw InvalidRecord("no \"topic\" field");
  result.topic = std::move(message.topic);
  result.payload = std::move(message.payload);
  if (auto qos = json.find("qos"); qos != json.end() && !qos->is_null()) result.qos = message.qos;
  result.retain = message.retain;
  result.properties = std::move(message.properties);

  std::string payload_path;  // --time-field as written, for messages
  for (const auto& segment : time_field)
    payload_path += (payload_path.empty() ? "" : ".") + segment;
  auto take_time = [&](const record::Json& value, const std::string& what) {
    result.time_ns = util::parse_time_json(value);
    if (!result.time_ns) throw InvalidRecord(what + " is not a time: " + value.dump());
  };
  bool payload_tried = false;
  for (const char* field : kTimeFields) {
    // Without received_at (the first field), the --time-field payload field comes next.
    if (!time_field.empty() && !payload_tried && std::string_view(field) != "received_at") {
      payload_tried = true;
      record::Json payload = result.payload_json();
      const record::Json* inner = where::lookup(payload, time_field);
      if (inner != nullptr && !inner->is_null()) {
        take_time(*inner, "payload field \"" + payload_path + "\" (--time-field)");
        break;
      }
    }
    auto value = json.find(field);
    if (value == json.end() || value->is_null()) continue;
    take_time(*value, std::string("\"") + field + "\"");
    break;
  }
  if (time_required && !result.time_ns) {
    if (!time_field.empty()) {
      throw InvalidRecord("no time: expected received_at, the payload field \"" + payload_path +
                          "\" (--time-field), created_at, timestamp or ts");
    }
    throw InvalidRecord("no time: expected one of received_at, created_at, timestamp, ts");
  }
  return result;
}

}  // namespace dtbus::replay
