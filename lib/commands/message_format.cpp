// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/message_format.hpp"

#include <cstdio>
#include <ctime>

#include "dtbus/core/error.hpp"
#include "dtbus/core/payload_text.hpp"
#include "dtbus/core/where.hpp"
#include "dtbus/util/base64.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands {
namespace {

constexpr size_t kMaxTopicWidth = 48;

MessageFormat pick_format(const MessageFormatOptions& options, const std::string& output) {
  if (options.format_template) return MessageFormat::templated;
  std::string name = output.empty() ? (util::is_tty(stdout) ? "text" : "json") : output;
  if (name == "text") return MessageFormat::text;
  if (name == "json") return MessageFormat::json;
  if (name == "raw") return MessageFormat::raw;
  throw Error(ExitCode::usage, "-o must be text, json or raw");
}

std::string unescape(std::string_view spec) {
  std::string out;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '\\' && i + 1 < spec.size()) {
      char next = spec[i + 1];
      if (next == 'n' || next == 't' || next == '\\') {
        out.push_back(next == 'n' ? '\n' : next == 't' ? '\t' : '\\');
        ++i;
        continue;
      }
    }
    out.push_back(spec[i]);
  }
  return out;
}

}  // namespace

Template::Template(std::string_view raw) {
  std::string spec = unescape(raw);
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) segments_.push_back({Field::literal, std::move(literal), {}});
    literal.clear();
  };
  for (size_t i = 0; i < spec.size(); ++i) {
    char c = spec[i];
    if (c == '}') {
      if (i + 1 < spec.size() && spec[i + 1] == '}')
        ++i;
      else
        throw Error(ExitCode::usage, "-F: single '}' at position " + std::to_string(i + 1) +
                                         " (write }} for a brace)");
      literal.push_back('}');
      continue;
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 < spec.size() && spec[i + 1] == '{') {
      literal.push_back('{');
      ++i;
      continue;
    }
    size_t close = spec.find('}', i);
    if (close == std::string::npos) throw Error(ExitCode::usage, "-F: '{' without a closing '}'");
    std::string name = spec.substr(i + 1, close - i - 1);
    flush_literal();
    if (name == "topic")
      segments_.push_back({Field::topic, {}, {}});
    else if (name == "payload")
      segments_.push_back({Field::payload, {}, {}});
    else if (name == "qos")
      segments_.push_back({Field::qos, {}, {}});
    else if (name == "retain")
      segments_.push_back({Field::retain, {}, {}});
    else if (name == "mid")
      segments_.push_back({Field::mid, {}, {}});
    else if (name == "received_at")
      segments_.push_back({Field::received_at, {}, {}});
    else if (name.rfind("payload.", 0) == 0 && name.size() > 8) {
      where::Condition path = where::parse(name.substr(8) + "=");
      segments_.push_back({Field::payload_path, {}, std::move(path.path)});
      needs_json_ = true;
    } else {
      throw Error(ExitCode::usage,
                  "-F: unknown field {" + name +
                      "} (topic, payload, qos, retain, mid, received_at, payload.<path>)");
    }
    i = close;
  }
  flush_literal();
}

void Template::render(std::string& out, const dtbus::ReceivedMessage& m,
                      std::string_view received_at, const record::Json* payload) const {
  for (const auto& s : segments_) {
    switch (s.field) {
      case Field::literal:
        out += s.text;
        break;
      case Field::topic:
        out += m.topic;
        break;
      case Field::payload:
        out += m.payload;
        break;
      case Field::qos:
        out += std::to_string(m.qos);
        break;
      case Field::retain:
        out += m.retain ? "true" : "false";
        break;
      case Field::mid:
        out += std::to_string(m.mid);
        break;
      case Field::received_at:
        out += received_at;
        break;
      case Field::payload_path:
        if (payload != nullptr) {
          if (const auto* value = where::lookup(*payload, s.path)) out += where::field_text(*value);
        }
        break;
    }
  }
  out.push_back('\n');
}

void append_text_line(std::string& out, const dtbus::ReceivedMessage& m,
                      std::chrono::system_clock::time_point received, TextStyle& style,
                      std::string_view marks) {
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(received.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char clock[32];
  std::snprintf(clock, sizeof clock, "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min,
                local.tm_sec, static_cast<int>(ms % 1000));
  out += util::paint(clock, util::Color::gray, style.color);
  out += "  ";
  style.topic_width = std::min(kMaxTopicWidth, std::max(style.topic_width, m.topic.size()));
  std::string topic = m.topic;
  if (topic.size() < style.topic_width) topic.append(style.topic_width - topic.size(), ' ');
  out += util::paint(topic, util::Color::cyan, style.color);
  std::string flags = "q" + std::to_string(m.qos) + (m.retain ? " r" : "  ");
  out += "  ";
  out += util::paint(flags, util::Color::yellow, style.color);
  out += "  ";
  payload_text::Rendered payload = payload_text::render(m.payload, style.pretty ? 2 : -1);
  if (payload.kind == payload_text::Kind::json) {
    if (style.pretty) out.push_back('\n');
    out += payload.text;
  } else if (payload.kind == payload_text::Kind::binary) {
    out += util::paint(util::base64_encode(m.payload) + " (" + std::to_string(m.payload.size()) +
                           " bytes, base64)",
                       util::Color::magenta, style.color);
  } else {
    out += payload.text;
  }
  if (!marks.empty()) {
    out += "  ";
    out += marks;
  }
  out.push_back('\n');
}

MessageWriter::MessageWriter(const MessageFormatOptions& options, const std::string& output,
                             bool color)
    : format_(pick_format(options, output)) {
  if (options.format_template) template_.emplace(*options.format_template);
  style_.color = format_ == MessageFormat::text && color;
  style_.pretty = options.pretty;
}

void MessageWriter::append(std::string& out, const dtbus::ReceivedMessage& m,
                           std::chrono::system_clock::time_point received,
                           const record::Json* payload, const record::Json* extra,
                           std::string_view marks) {
  switch (format_) {
    case MessageFormat::json: {
      bool with_extra = extra != nullptr && !extra->empty();
      if (style_.pretty) {
        record::Json r = record::to_record(m, util::rfc3339_ms(received));
        if (with_extra) r.update(*extra);
        out += r.dump(2, ' ', false, record::Json::error_handler_t::replace);
        out.push_back('\n');
        return;
      }
      record::append_record_line(out, m, util::rfc3339_ms(received));
      if (!with_extra) return;
      out.resize(out.size() - 2);  // reopen the object: drop "}\n"
      std::string tail = extra->dump(-1, ' ', false, record::Json::error_handler_t::replace);
      out += ",";
      out.append(tail, 1, tail.size() - 1);  // `"key":value,...}`
      out.push_back('\n');
      return;
    }
    case MessageFormat::raw:
      out += m.payload;
      out.push_back('\n');
      return;
    case MessageFormat::templated:
      template_->render(out, m, util::rfc3339_ms(received),
                        payload != nullptr && !payload->is_discarded() ? payload : nullptr);
      return;
    case MessageFormat::text:
      append_text_line(out, m, received, style_, marks);
      return;
  }
}

}  // namespace dtbus::commands
