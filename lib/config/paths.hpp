// SPDX-License-Identifier: Apache-2.0
// Private helpers shared by the config loader and the config-file lookup.
#pragma once

#include <string>

#include "dtbus/config/config.hpp"

namespace dtbus::config::detail {

// "~" or "~/x" → "$HOME" or "$HOME/x"; anything else (or HOME unset/empty) is returned unchanged.
std::string expand_home(const std::string& path, const EnvLookup& env);

// $XDG_<kind>_HOME when set to an absolute path, else $HOME/<fallback> (XDG Base Directory spec);
// empty when neither is known.
std::string xdg_dir(const char* variable, const char* fallback, const EnvLookup& env);

}  // namespace dtbus::config::detail
