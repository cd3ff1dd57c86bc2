// SPDX-License-Identifier: Apache-2.0
// The terminal side of `dtbus top`: ncurses set-up and tear-down, drawing composed lines,
// reading keys. The only file that includes curses.h.
#pragma once

#include <chrono>
#include <vector>

#include "dtbus/commands/top/frame.hpp"

namespace dtbus::commands::top {

// Throws Error(usage) when the terminal ($TERM) cannot address the cursor, before anything is
// drawn (so the refusal reads like any other error).
void require_capable_terminal();

class Screen {
 public:
  explicit Screen(bool color);
  ~Screen();  // restores the terminal
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  int width() const;
  int height() const;
  void draw(const std::vector<Line>& frame);
  // Waits up to `timeout` for a key; Key::none when none came. `editing`: printable keys are text.
  Key read_key(std::chrono::milliseconds timeout, bool editing, char& text);

 private:
  bool color_;
};

}  // namespace dtbus::commands::top
