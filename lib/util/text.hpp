// SPDX-License-Identifier: Apache-2.0
// Small text helpers shared across layers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dtbus::util {

// "Did you mean": the candidate nearest to `word` (case-insensitive optimal string alignment
// distance), within a budget that grows with the word's length; nullopt when none is close.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// `items` joined with ", ", broken into lines of at most `width` columns (an item longer than
// that stands alone), each line indented by `indent` spaces; no final newline.
std::string wrap_list(const std::vector<std::string>& items, size_t indent, size_t width);

}  // namespace dtbus::util
