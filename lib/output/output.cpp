#include "dtbus/output.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace dtbus::output {

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

std::string to_json_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_json_line(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_pretty_json(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_pretty_json(const nlohmann::ordered_json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* reserved[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
  for (const char* word : reserved) {
    if (strcasecmp(s.c_str(), word) == 0) return true;
  }
  if (s.find_first_of(":#{}[],&*?|<>=!%@`\"'\n\t\\") != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-') return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

void emit_yaml(const nlohmann::ordered_json& value, int indent, std::string& out);

std::string scalar_yaml(const nlohmann::ordered_json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return needs_quotes(s)
               ? nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
               : s;
  }
  return value.dump();
}

void emit_yaml(const nlohmann::ordered_json& value, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      out += pad + (needs_quotes(key) ? nlohmann::json(key).dump() : key) + ":";
      if ((child.is_object() || child.is_array()) && !child.empty()) {
        out += "\n";
        emit_yaml(child, indent + 2, out);
      } else if (child.is_object()) {
        out += " {}\n";
      } else if (child.is_array()) {
        out += " []\n";
      } else {
        out += " " + scalar_yaml(child) + "\n";
      }
    }
  } else if (value.is_array()) {
    for (const auto& child : value) {
      if (child.is_object() && !child.empty()) {
        std::string nested;
        emit_yaml(child, indent + 2, nested);
        out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
      } else {
        out += pad + "- " + scalar_yaml(child) + "\n";
      }
    }
  } else {
    out += pad + scalar_yaml(value) + "\n";
  }
}

}  // namespace

std::string to_yaml(const nlohmann::ordered_json& value) {
  std::string out;
  emit_yaml(value, 0, out);
  return out;
}

void write_result(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

bool reader_gone(std::FILE* stream) {
  // No events asked for: poll() reports only POLLERR (a pipe without readers) and POLLHUP.
  pollfd descriptor{fileno(stream), 0, 0};
  return poll(&descriptor, 1, 0) == 1 && (descriptor.revents & (POLLERR | POLLHUP)) != 0;
}

void write_stdout(std::string_view text, bool flush) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
      (flush && std::fflush(stdout) != 0)) {
    if (errno == EPIPE) std::_Exit(0);
  }
}

}  // namespace dtbus::output
