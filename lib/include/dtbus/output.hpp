// Terminal detection, colour policy and the shared output formats.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dtbus::output {

// Colour only on a TTY, never with NO_COLOR (any value) or --no-color or TERM=dumb.
bool use_color(std::FILE* stream, bool no_color_flag);
bool is_tty(std::FILE* stream);
int terminal_columns(std::FILE* stream, int fallback = 100);

enum class Color { none, red, green, yellow, blue, magenta, cyan, gray, bold };
// Wraps `text` in ANSI codes when `enabled`.
std::string paint(std::string_view text, Color color, bool enabled);

// One JSON value per line (JSON Lines); invalid UTF-8 is replaced, never thrown on.
std::string to_json_line(const nlohmann::json& value);
std::string to_json_line(const nlohmann::ordered_json& value);  // keeps key order as built
// Indented JSON for humans.
std::string to_pretty_json(const nlohmann::json& value);
std::string to_pretty_json(const nlohmann::ordered_json& value);
// YAML rendering of a JSON value (config show -o yaml), keys in insertion order.
std::string to_yaml(const nlohmann::ordered_json& value);

// Writes and flushes; a closed stdout (EPIPE) ends the process quietly with status 0
// (`dtbus sub | head -1` is a normal way to stop).
void write_stdout(std::string_view text, bool flush = true);
// True once nobody can read `stream` any more (the reader of a pipe exited, a socket or terminal
// hung up), found without writing: a stream that waits for input must notice `| head -1`
// leaving even when the last write went through before it left.
bool reader_gone(std::FILE* stream);

// Writes and flushes a command's final report (a summary printed before its exit status is
// decided): a closed stdout is ignored, so that it cannot turn a failure into exit 0.
void write_result(std::string_view text);

}  // namespace dtbus::output
