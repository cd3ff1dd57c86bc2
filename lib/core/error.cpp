#include "dtbus/core/error.hpp"

#include <cstdio>

#include "dtbus/util/terminal.hpp"

namespace dtbus {

void print_error(const std::string& command, const std::string& message) {
  std::string line = (command.empty() ? std::string("dtbus: ") : "dtbus " + command + ": ") +
                     util::paint("error", util::Color::red, util::use_color(stderr, false)) + ": " +
                     message + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace dtbus
