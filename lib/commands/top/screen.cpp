// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/top/screen.hpp"

#include <curses.h>
#include <term.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <string>

#include "dtbus/core/error.hpp"

namespace dtbus::commands::top {
namespace {

enum Pair : short { kTitle = 1, kSys, kHeader, kDetailTitle, kStatus };

attr_t attributes(Style style, bool color) {
  switch (style) {
    case Style::title:
      return A_BOLD | (color ? COLOR_PAIR(kTitle) : A_REVERSE);
    case Style::sys:
      return color ? COLOR_PAIR(kSys) : A_NORMAL;
    case Style::header:
      return A_BOLD | (color ? COLOR_PAIR(kHeader) : A_UNDERLINE);
    case Style::selected:
      return A_REVERSE;
    case Style::detail_title:
      return A_BOLD | (color ? COLOR_PAIR(kDetailTitle) : A_NORMAL);
    case Style::status:
      return color ? COLOR_PAIR(kStatus) : A_DIM;
    default:
      return A_NORMAL;
  }
}

}  // namespace

void require_capable_terminal() {
  const char* term = std::getenv("TERM");
  int status = 0;
  std::string name = term && *term ? term : "(unset)";
  if (term == nullptr || *term == '\0' || setupterm(nullptr, STDOUT_FILENO, &status) != OK) {
    throw Error(ExitCode::usage, "terminal type '" + name +
                                     "' is unknown here: top needs a full-screen terminal (use "
                                     "`dtbus sub` to print messages instead)");
  }
  char cup[] = "cup";
  const char* address = tigetstr(cup);
  bool capable = address != nullptr && address != reinterpret_cast<char*>(-1);
  del_curterm(cur_term);
  if (!capable) {
    throw Error(ExitCode::usage, "terminal type '" + name +
                                     "' cannot move the cursor: top needs a full-screen terminal "
                                     "(use `dtbus sub` to print messages instead)");
  }
}

Screen::Screen(bool color) : color_(color) {
  std::setlocale(LC_ALL, "");  // UTF-8 topics and payloads as they are
  // ESC alone (to clear the filter) should not wait the default second for a sequence.
  ESCDELAY = 25;
  if (initscr() == nullptr) throw Error(ExitCode::usage, "cannot set up the terminal");
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  curs_set(0);
  if (color_ && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(kTitle, COLOR_BLACK, COLOR_CYAN);
    init_pair(kSys, COLOR_YELLOW, -1);
    init_pair(kHeader, COLOR_CYAN, -1);
    init_pair(kDetailTitle, COLOR_GREEN, -1);
    init_pair(kStatus, COLOR_BLACK, COLOR_WHITE);
  } else {
    color_ = false;
  }
}

Screen::~Screen() { endwin(); }

int Screen::width() const { return COLS; }
int Screen::height() const { return LINES; }

void Screen::draw(const std::vector<Line>& frame) {
  erase();
  for (int y = 0; y < LINES && y < static_cast<int>(frame.size()); ++y) {
    attr_t attr = attributes(frame[static_cast<size_t>(y)].style, color_);
    attron(attr);
    // The line is exactly COLS columns; the last cell of the last row cannot be written without
    // scrolling, so that one stays empty.
    const std::string& text = frame[static_cast<size_t>(y)].text;
    mvaddnstr(y, 0, text.c_str(), static_cast<int>(text.size()));
    attroff(attr);
  }
  refresh();
}

Key Screen::read_key(std::chrono::milliseconds timeout_ms, bool editing, char& text) {
  timeout(static_cast<int>(timeout_ms.count()));
  int c = getch();
  switch (c) {
    case ERR:
      return Key::none;
    case KEY_RESIZE:
      return Key::resize;
    case KEY_UP:
      return Key::up;
    case KEY_DOWN:
      return Key::down;
    case KEY_PPAGE:
      return Key::page_up;
    case KEY_NPAGE:
      return Key::page_down;
    case KEY_HOME:
      return Key::home;
    case KEY_END:
      return Key::end;
    case KEY_LEFT:
      return Key::collapse;
    case KEY_RIGHT:
      return Key::expand;
    case KEY_ENTER:
    case '\n':
    case '\r':
      return Key::toggle;
    case 27:
      return Key::escape;
    case KEY_BACKSPACE:
    case 127:
    case 8:
      return Key::backspace;
    default:
      break;
  }
  if (editing) {
    if (c >= 0x20 && c < 0x100) {
      text = static_cast<char>(c);
      return Key::text;
    }
    return Key::none;
  }
  switch (c) {
    case 'k':
      return Key::up;
    case 'j':
      return Key::down;
    case 'h':
      return Key::collapse;
    case 'l':
      return Key::expand;
    case ' ':
      return Key::toggle;
    case 'g':
      return Key::home;
    case 'G':
      return Key::end;
    case '/':
      return Key::filter;
    case 's':
      return Key::sort;
    case 'p':
      return Key::pause;
    case 'c':
      return Key::command;
    case 'q':
    case 'Q':
      return Key::quit;
    default:
      return Key::none;
  }
}

}  // namespace dtbus::commands::top
