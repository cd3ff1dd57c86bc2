// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/terminal.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace dtbus::util {

bool is_tty(std::FILE* stream) { return isatty(fileno(stream)) != 0; }

bool use_color(std::FILE* stream, bool no_color_flag) {
  if (no_color_flag) return false;
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  return is_tty(stream);
}

int terminal_columns(std::FILE* stream, int fallback) {
  winsize size{};
  if (ioctl(fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    int value = std::atoi(columns);
    if (value > 0) return value;
  }
  return fallback;
}

std::string paint(std::string_view text, Color color, bool enabled) {
  if (!enabled || color == Color::none) return std::string(text);
  const char* code = "";
  switch (color) {
    case Color::red:
      code = "31";
      break;
    case Color::green:
      code = "32";
      break;
    case Color::yellow:
      code = "33";
      break;
    case Color::blue:
      code = "34";
      break;
    case Color::magenta:
      code = "35";
      break;
    case Color::cyan:
      code = "36";
      break;
    case Color::gray:
      code = "90";
      break;
    case Color::bold:
      code = "1";
      break;
    case Color::none:
      break;
  }
  std::string out = "\x1b[";
  out += code;
  out += 'm';
  out += text;
  out += "\x1b[0m";
  return out;
}

void write_result(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void leave_now(int status) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}

bool reader_gone(std::FILE* stream) {
  // No events asked for: poll() reports only POLLERR (a pipe without readers) and POLLHUP.
  pollfd descriptor{fileno(stream), 0, 0};
  return poll(&descriptor, 1, 0) == 1 && (descriptor.revents & (POLLERR | POLLHUP)) != 0;
}

void write_stdout(std::string_view text, bool flush) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      (flush && std::fflush(stdout) != 0)) {
    if (errno == EPIPE) leave_now(0);
  }
}

}  // namespace dtbus::util
