// SPDX-License-Identifier: Apache-2.0
// Rendering of received messages for `sub` and `rr`: -o, -F templates, --pretty and the human
// text line (their flags: cli::add_message_format_options).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dtbus/core/record.hpp"
#include "dtbus/mqtt/connection.hpp"

namespace dtbus::commands {

// A -F template: {topic} {payload} {qos} {retain} {mid} {received_at} {payload.<dotted path>},
// {{ and }} for braces, \t \n \\ escapes. Parsing throws Error(usage) naming the problem.
class Template {
 public:
  explicit Template(std::string_view spec);
  // True when a {payload.<path>} field needs the payload parsed as JSON.
  bool needs_json() const { return needs_json_; }
  // Appends one rendered line (with '\n'); `payload` is the parsed payload or nullptr.
  void render(std::string& out, const dtbus::ReceivedMessage& message, std::string_view received_at,
              const record::Json* payload) const;

 private:
  enum class Field { literal, topic, payload, qos, retain, mid, received_at, payload_path };
  struct Segment {
    Field field;
    std::string text;               // literal text
    std::vector<std::string> path;  // payload_path
  };
  std::vector<Segment> segments_;
  bool needs_json_ = false;
};

struct TextStyle {
  bool color = false;
  bool pretty = false;
  size_t topic_width = 0;  // grows with the longest topic seen (capped), keeps columns aligned
};

// "HH:MM:SS.mmm  topic  q1 r  payload" (local time), compact JSON or indented with pretty;
// non-UTF-8 payloads as base64 with their size. `marks` is appended after the payload
// (e.g. the --validate verdict).
void append_text_line(std::string& out, const dtbus::ReceivedMessage& message,
                      std::chrono::system_clock::time_point received, TextStyle& style,
                      std::string_view marks = {});

// -F and --pretty.
struct MessageFormatOptions {
  std::optional<std::string> format_template;  // -F
  bool pretty = false;                         // --pretty: indent JSON
};

enum class MessageFormat { text, json, raw, templated };

// Writes received messages as sub and rr print them: the -F template, else -o text, json (JSON
// Lines, indented with --pretty) or raw; no -o: text on a terminal, JSON Lines elsewhere.
class MessageWriter {
 public:
  // Throws Error(usage) for an -o other than text, json or raw and for a bad -F template.
  // `color`: whether stdout may be colored (text only).
  MessageWriter(const MessageFormatOptions& options, const std::string& output, bool color);

  MessageFormat format() const { return format_; }
  bool color() const { return style_.color; }
  // True when the -F template reads payload fields: append() wants the parsed payload.
  bool needs_json() const { return template_ && template_->needs_json(); }

  // Appends one message. `payload`: the parsed payload, or nullptr (or discarded) when it is
  // not JSON or was not parsed; `extra`: fields added to the JSON record (sub --validate);
  // `marks`: appended to the text line.
  void append(std::string& out, const dtbus::ReceivedMessage& message,
              std::chrono::system_clock::time_point received, const record::Json* payload = nullptr,
              const record::Json* extra = nullptr, std::string_view marks = {});

 private:
  MessageFormat format_;
  std::optional<Template> template_;
  TextStyle style_;
};

}  // namespace dtbus::commands
