// SPDX-License-Identifier: Apache-2.0
// Compose-style ${VAR} interpolation (SPEC §3).
#include <algorithm>
#include <cstdlib>

#include "dtbus/config/config.hpp"

namespace dtbus::config {
namespace {

// ASCII only on purpose: std::isalpha depends on the locale.
bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

// Messages never quote the input: it may be a password.
std::string at_char(size_t offset) { return " at character " + std::to_string(offset + 1); }

class Expander {
 public:
  Expander(const EnvLookup& env, Expansion& out) : env_(env), out_(out) {}

  // Appends the expansion of `text` to `result`; `base` is text's offset in the original input
  // (for error positions). Returns false once out_.error is set.
  bool expand(std::string_view text, size_t base, std::string& result) {
    size_t i = 0;
    while (i < text.size()) {
      char c = text[i];
      char next = i + 1 < text.size() ? text[i + 1] : '\0';
      if (c != '$') {
        result += c;
        ++i;
      } else if (next == '$') {
        result += '$';
        i += 2;
      } else if (next == '{') {
        if (!braced(text, base, i, result)) return false;
      } else if (is_name_start(next)) {
        size_t end = i + 1;
        while (end < text.size() && is_name_char(text[end])) ++end;
        substitute(text.substr(i + 1, end - i - 1), result);
        i = end;
      } else {
        result += '$';  // a lone '$' (e.g. "$5", trailing '$') stays literal
        ++i;
      }
    }
    return true;
  }

 private:
  void substitute(std::string_view name, std::string& result) {
    if (auto value = env_(name)) {
      result += *value;
    } else {
      auto& unset = out_.unset_without_default;
      if (std::find(unset.begin(), unset.end(), name) == unset.end()) unset.emplace_back(name);
    }
  }

  bool fail(std::string message) {
    out_.error = std::move(message);
    return false;
  }

  // Handles "${...}" starting at text[i]; advances i past the closing brace.
  bool braced(std::string_view text, size_t base, size_t& i, std::string& result) {
    const size_t open = i;
    size_t pos = i + 2;
    if (pos >= text.size() || !is_name_start(text[pos])) {
      if (pos >= text.size()) return fail("unterminated \"${\"" + at_char(base + open));
      return fail("invalid variable name" + at_char(base + pos) + " (write $$ for a literal $)");
    }
    size_t name_end = pos;
    while (name_end < text.size() && is_name_char(text[name_end])) ++name_end;
    std::string_view name = text.substr(pos, name_end - pos);
    pos = name_end;
    if (pos >= text.size()) return fail("unterminated \"${\"" + at_char(base + open));

    if (text[pos] == '}') {
      substitute(name, result);
      i = pos + 1;
      return true;
    }
    bool colon = text[pos] == ':';
    if (colon) ++pos;
    char op = pos < text.size() ? text[pos] : '\0';
    if (op != '-' && op != '?' && op != '+') {
      if (pos >= text.size()) return fail("unterminated \"${\"" + at_char(base + open));
      return fail("invalid \"${\" expression" + at_char(base + open) +
                  " (expected }, :-, -, :?, ?, :+ or + after the name)");
    }
    ++pos;

    // The operand runs to the matching '}', skipping nested ${...} and "$$".
    const size_t word_start = pos;
    int depth = 0;
    for (; pos < text.size(); ++pos) {
      if (text[pos] == '$' && pos + 1 < text.size() &&
          (text[pos + 1] == '$' || text[pos + 1] == '{')) {
        if (text[pos + 1] == '{') ++depth;
        ++pos;
      } else if (text[pos] == '}') {
        if (depth == 0) break;
        --depth;
      }
    }
    if (pos >= text.size()) return fail("unterminated \"${\"" + at_char(base + open));
    std::string_view word = text.substr(word_start, pos - word_start);
    i = pos + 1;

    // Operands are expanded only when used, so a default never warns when the variable is set.
    auto value = env_(name);
    bool has_value = value && (!colon || !value->empty());
    switch (op) {
      case '-':
        if (has_value) {
          result += *value;
          return true;
        }
        return expand(word, base + word_start, result);
      case '+':
        return has_value ? expand(word, base + word_start, result) : true;
      default: {  // '?'
        if (has_value) {
          result += *value;
          return true;
        }
        std::string message;
        if (!expand(word, base + word_start, message)) return false;
        std::string what = "required variable " + std::string(name) +
                           (colon ? " is not set or empty" : " is not set");
        return fail(message.empty() ? what : what + ": " + message);
      }
    }
  }

  const EnvLookup& env_;
  Expansion& out_;
};

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Expansion expand_env(std::string_view text, const EnvLookup& env) {
  Expansion out;
  Expander expander(env, out);
  if (!expander.expand(text, 0, out.value)) out.value.clear();
  return out;
}

}  // namespace dtbus::config
