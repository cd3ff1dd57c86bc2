// SPDX-License-Identifier: Apache-2.0
// Terminal detection, colour policy and writing to stdout.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace dtbus::util {

// Colour only on a TTY, never with NO_COLOR (any value) or --no-color or TERM=dumb.
bool use_color(std::FILE* stream, bool no_color_flag);
bool is_tty(std::FILE* stream);
int terminal_columns(std::FILE* stream, int fallback = 100);

enum class Color { none, red, green, yellow, blue, magenta, cyan, gray, bold };
// Wraps `text` in ANSI codes when `enabled`.
std::string paint(std::string_view text, Color color, bool enabled);

// The one way out of the process without unwinding: flushes stdout and stderr and ends with
// `status`, running no destructor. For the few places where unwinding would do harm: a network
// thread that must not acknowledge what it holds, a closed stdout mid-write.
[[noreturn]] void leave_now(int status);

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

}  // namespace dtbus::util
