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

}  // namespace dtbus::util
