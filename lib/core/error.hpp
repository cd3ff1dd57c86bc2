// SPDX-License-Identifier: Apache-2.0
// Exit codes (SPEC §2) and the one exception type that carries them to the front-end.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus {

enum class ExitCode : int {
  ok = 0,
  runtime = 1,
  usage = 2,
  config = 3,
  connect = 4,
  auth = 5,
  timeout = 6,
  incomplete = 7,
  interrupted = 130,
};

// What each exit code means, in one place: `dtbus --help` prints the names, the man pages the
// meanings (man/dtbus.1 is checked against this list by a unit test).
struct ExitCodeMeaning {
  ExitCode code;
  const char* name;     // a word or two: "usage", "incomplete delivery"
  const char* meaning;  // one sentence, plain text
};
const std::vector<ExitCodeMeaning>& exit_code_meanings();

// Thrown by the library for anything a user must see; the front-end prints
// `dtbus <command>: error: <what()>` and exits with code().
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }
  int exit_status() const noexcept { return static_cast<int>(code_); }

 private:
  ExitCode code_;
};

// The one error printer: `dtbus <command>: error: <message>` on stderr ("error" in red on a
// terminal unless NO_COLOR), flushed at once. The message is passed through escape_controls():
// topics, payload snippets, broker strings and file names come from outside and must not drive
// the terminal or split the line.
void print_error(const std::string& command, const std::string& message);

// `text` with every byte that a terminal could act on written as `\xNN`: C0 controls (ESC, CR,
// newline, tab...), DEL, the C1 controls U+0080..U+009F, and bytes that are not valid UTF-8.
// Printable ASCII and valid UTF-8 pass unchanged.
std::string escape_controls(std::string_view text);

}  // namespace dtbus

DTBUS_PUBLIC_END
