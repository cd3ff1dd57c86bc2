// SPDX-License-Identifier: Apache-2.0
// What `dtbus top` shows, as plain text lines, and what each key does: the tree flattened through
// the expanded nodes, the filter and the sort, the columns, the detail pane, the status line.
// No terminal code here (screen.hpp draws the lines), so all of it is unit-testable.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "dtbus/commands/top/model.hpp"
#include "dtbus/core/global_options.hpp"

namespace dtbus::commands::top {

enum class Sort { name, rate, last_seen };
const char* sort_name(Sort sort);

struct ViewState {
  std::string selected;  // topic of the selected row ("" = the first)
  size_t cursor = 0;     // its index among the rows
  size_t scroll = 0;     // first row on screen
  size_t tree_height = 10;
  Sort sort = Sort::name;
  std::string filter;  // case-insensitive substring of the topic
  bool editing_filter = false;
  bool paused = false;
  bool show_command = false;
  std::unordered_map<std::string, bool> expanded;  // the user's choice per topic
};

struct Row {
  const Node* node;
  bool has_children;
  bool expanded;
};

// Nodes shown at depth < this with at most kAutoExpandChildren children start expanded.
inline constexpr int kAutoExpandDepth = 3;
inline constexpr size_t kAutoExpandChildren = 50;

// The tree rows as shown now (pointers into the model: use under its lock).
std::vector<Row> visible_rows(const Model& model, const ViewState& state, int64_t now_second);

enum class Key {
  none,
  up,
  down,
  page_up,
  page_down,
  home,
  end,
  toggle,
  expand,
  collapse,
  filter,
  sort,
  pause,
  command,
  quit,
  backspace,
  escape,
  text,
  resize
};

// Applies a key (`text`: the character typed for Key::text). Returns true for quit.
bool apply_key(Key key, char text, const Model& model, ViewState& state,
               SteadyClock::time_point now);

enum class Style { normal, title, sys, header, selected, detail_title, detail, status };
struct Line {
  std::string text;  // exactly `width` columns (UTF-8)
  Style style = Style::normal;
};

struct FrameContext {
  int width = 80;
  int height = 24;
  std::string where;    // broker, as ConnectionSettings::describe()
  std::string filters;  // the subscription filters, for the title
  bool connected = true;
  std::string command_line;  // for `c`: the sub command of the selected topic
};

// The whole screen, `height` lines of `width` columns. Moves state.cursor/scroll so the selected
// row is visible.
std::vector<Line> compose(const Model& model, ViewState& state, const FrameContext& context,
                          SteadyClock::time_point now);

// The topic of the selected row, "" when there is none.
std::string selected_topic(const Model& model, ViewState& state, SteadyClock::time_point now);

// `dtbus sub` with the connection options given to top (never a password) and `-t TOPIC`,
// quoted for a POSIX shell.
std::string sub_command_line(const GlobalOptions& globals, const std::string& topic);
std::string shell_quote(const std::string& word);

// Helpers shown in the columns (exposed for the tests).
std::string count_text(uint64_t n);
std::string rate_text(double per_second);
std::string bytes_text(uint64_t bytes);
std::string age_text(SteadyClock::duration age);
// One line: compact JSON, the text with controls escaped, or hex for binary.
std::string preview_text(const Sample& sample);
// `text` (controls escaped) cut or padded to exactly `width` columns.
std::string fit(const std::string& text, size_t width);

}  // namespace dtbus::commands::top
