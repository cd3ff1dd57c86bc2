// Config-file lookup order (SPEC §1) and the shared "did you mean" helper.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "config/paths.hpp"
#include "dtbus/config.hpp"

namespace dtbus::config {
namespace detail {

std::string expand_home(const std::string& path, const EnvLookup& env) {
  if (path != "~" && !path.starts_with("~/")) return path;
  auto home = env("HOME");
  if (!home || home->empty()) return path;
  return *home + path.substr(1);
}

std::string xdg_dir(const char* variable, const char* fallback, const EnvLookup& env) {
  // The spec says relative values are invalid and must be ignored.
  if (auto value = env(variable); value && value->starts_with('/')) return *value;
  auto home = env("HOME");
  if (!home || home->empty()) return {};
  return *home + "/" + fallback;
}

}  // namespace detail

ConfigLookup find_config(const std::optional<std::string>& explicit_path, const EnvLookup& env) {
  ConfigLookup lookup;
  // An explicit choice is returned even when missing, so the loader reports it by name.
  auto choose = [&](std::string path, std::string reason) {
    lookup.searched.push_back(path);
    lookup.path = std::move(path);
    lookup.reason = std::move(reason);
    return lookup;
  };
  if (explicit_path) return choose(*explicit_path, "from -c/--config");
  if (auto from_env = env("DTBUS_CONFIG"); from_env && !from_env->empty()) {
    return choose(detail::expand_home(*from_env, env), "from $DTBUS_CONFIG");
  }

  std::vector<std::pair<std::string, std::string>> candidates = {
      {"config/brokers.yaml", "./config/brokers.yaml exists"},
      {"brokers.yaml", "./brokers.yaml exists"},
  };
  if (auto dir = detail::xdg_dir("XDG_CONFIG_HOME", ".config", env); !dir.empty()) {
    candidates.emplace_back(dir + "/dtbus/brokers.yaml", "the user config file exists");
  }
  candidates.emplace_back("/etc/dtbus/brokers.yaml", "the system config file exists");

  for (auto& [path, reason] : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return choose(path, reason + " (" + path + ")");
    lookup.searched.push_back(path);
  }
  lookup.reason = "no config file found";
  return lookup;
}

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

}  // namespace dtbus::config
