// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/topic.hpp"

#include <vector>

#include "dtbus/core/error.hpp"

namespace dtbus::topic {
namespace {

constexpr size_t kMaxTopicBytes = 65535;

std::vector<std::string_view> split_levels(std::string_view text) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(text.substr(start));
      return levels;
    }
    levels.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
}

std::optional<std::string> common_problem(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxTopicBytes) return "longer than 65535 bytes";
  if (text.find('\0') != std::string_view::npos) return "contains a NUL character";
  if (!valid_utf8(text)) return "is not valid UTF-8";
  return std::nullopt;
}

// `$share/GROUP/filter` -> filter; nullopt when not a shared subscription.
std::optional<std::string_view> strip_share(std::string_view filter) {
  constexpr std::string_view prefix = "$share/";
  if (filter.substr(0, prefix.size()) != prefix) return std::nullopt;
  size_t slash = filter.find('/', prefix.size());
  if (slash == std::string_view::npos) return std::string_view{};
  return filter.substr(slash + 1);
}

}  // namespace

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range code points are invalid UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::optional<std::string> publish_topic_problem(std::string_view name) {
  if (auto problem = common_problem(name)) return problem;
  if (name.find_first_of("+#") != std::string_view::npos) {
    return "wildcards '+' and '#' are not allowed in a publish topic";
  }
  return std::nullopt;
}

std::optional<std::string> filter_problem(std::string_view filter) {
  if (auto problem = common_problem(filter)) return problem;
  std::string_view body = filter;
  if (auto shared = strip_share(filter)) {
    if (shared->empty()) return "shared subscription needs $share/GROUP/FILTER";
    std::string_view group = filter.substr(7, filter.size() - 7 - shared->size() - 1);
    if (group.empty() || group.find_first_of("+#") != std::string_view::npos) {
      return "invalid share group name";
    }
    body = *shared;
  }
  auto levels = split_levels(body);
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string_view level = levels[i];
    if (level.find('#') != std::string_view::npos) {
      if (level != "#" || i + 1 != levels.size()) return "'#' must be the last level, alone";
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must occupy a whole level";
    }
  }
  return std::nullopt;
}

void require_publish_topic(std::string_view name) {
  if (auto problem = publish_topic_problem(name)) {
    throw Error(ExitCode::usage, "invalid publish topic '" + std::string(name) + "': " + *problem);
  }
}

void require_filter(std::string_view filter) {
  if (auto problem = filter_problem(filter)) {
    throw Error(ExitCode::usage, "invalid topic filter '" + std::string(filter) + "': " + *problem);
  }
}

bool matches(std::string_view filter, std::string_view name) {
  if (auto shared = strip_share(filter)) filter = *shared;
  auto f = split_levels(filter);
  auto n = split_levels(name);
  if (!name.empty() && name.front() == '$' && !f.empty() && (f[0] == "+" || f[0] == "#")) {
    return false;
  }
  size_t i = 0;
  for (; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= n.size()) return false;
    if (f[i] != "+" && f[i] != n[i]) return false;
  }
  return i == n.size();
}

}  // namespace dtbus::topic
