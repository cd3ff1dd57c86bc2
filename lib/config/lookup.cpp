// SPDX-License-Identifier: Apache-2.0
// Config-file lookup order (SPEC §1) and the shared "did you mean" helper.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "dtbus/config/config.hpp"
#include "dtbus/config/paths.hpp"

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

}  // namespace dtbus::config
