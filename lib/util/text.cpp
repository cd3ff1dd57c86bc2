// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/text.hpp"

#include <algorithm>
#include <cctype>

namespace dtbus::util {

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  // Optimal string alignment distance: Levenshtein plus adjacent transpositions ("prot" → "port").
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.size()][b.size()];
  };

  std::string needle = lower(word);
  // Short words get a tighter budget: "4" must not suggest "5", nor "id" suggest "ip".
  size_t budget = std::min<size_t>(needle.size() / 3, 2);
  std::optional<std::string> best;
  size_t best_distance = budget + 1;
  for (const auto& candidate : candidates) {
    size_t d = distance(needle, lower(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string wrap_list(const std::vector<std::string>& items, size_t indent, size_t width) {
  std::string out(indent, ' ');
  size_t line_start = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    bool first_on_line = out.size() - line_start == indent;
    if (!first_on_line && out.size() - line_start + 1 + item.size() > width) {
      out += "\n";
      line_start = out.size();
      out.append(indent, ' ');
      first_on_line = true;
    }
    out += (first_on_line ? "" : " ") + item;
  }
  return out;
}

}  // namespace dtbus::util
