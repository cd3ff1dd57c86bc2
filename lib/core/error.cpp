// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/error.hpp"

#include <cstdio>

#include "dtbus/util/terminal.hpp"

namespace dtbus {

const std::vector<ExitCodeMeaning>& exit_code_meanings() {
  static const std::vector<ExitCodeMeaning> meanings = {
      {ExitCode::ok, "ok", "Success."},
      {ExitCode::runtime, "runtime", "Runtime error not covered below."},
      {ExitCode::usage, "usage", "Usage error: bad flag, missing argument, invalid topic."},
      {ExitCode::config, "config", "Config error: file, YAML, env expansion, schema."},
      {ExitCode::connect, "connect",
       "Cannot connect: DNS, refused, TLS handshake, connect timeout."},
      {ExitCode::auth, "auth",
       "Authentication or authorization refused (CONNACK, token endpoint 4xx)."},
      {ExitCode::timeout, "timeout", "Timeout waiting for messages (sub -W)."},
      {ExitCode::incomplete, "incomplete delivery",
       "Incomplete delivery: some QoS 1/2 messages were not acknowledged."},
      {ExitCode::interrupted, "interrupted", "Interrupted by SIGINT while work was pending."},
  };
  return meanings;
}

namespace {

// Length of the valid, non-C1 UTF-8 sequence at the start of `text`, 0 when there is none.
size_t printable_utf8_length(std::string_view text) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  unsigned char lead = byte(0);
  if (lead >= 0xC2 && lead <= 0xDF) {
    if (!continuation(1)) return 0;
    return lead == 0xC2 && byte(1) < 0xA0 ? 0 : 2;  // U+0080..U+009F: C1 controls
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && byte(1) > 0x9F) return 0;  // UTF-16 surrogates
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && byte(1) > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string escape_controls(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(text[i++]);
      continue;
    }
    if (size_t n = c >= 0x80 ? printable_utf8_length(text.substr(i)) : 0; n > 0) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    ++i;
  }
  return out;
}

void print_error(const std::string& command, const std::string& message) {
  std::string line = (command.empty() ? std::string("dtbus: ") : "dtbus " + command + ": ") +
                     util::paint("error", util::Color::red, util::use_color(stderr, false)) + ": " +
                     escape_controls(message) + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace dtbus
