// SPDX-License-Identifier: Apache-2.0
#include "dtbus/cli/dispatch.hpp"
#include "dtbus/cli/command_table.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "dtbus/cli/command.hpp"
#include "dtbus/cli/docs.hpp"
#include "dtbus/config/config.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/util/text.hpp"
#include "dtbus/version.hpp"

namespace dtbus::cli {
namespace fs = std::filesystem;

namespace {

fs::path own_directory() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

bool is_executable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

std::vector<fs::path> path_directories() {
  std::vector<fs::path> dirs;
  const char* path = std::getenv("PATH");
  if (!path) return dirs;
  std::string all = path;
  size_t start = 0;
  while (start <= all.size()) {
    size_t colon = all.find(':', start);
    std::string dir =
        all.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty()) dirs.emplace_back(dir);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return dirs;
}

std::optional<fs::path> find_command(const std::string& name) {
  std::string file = "dtbus-" + name;
  if (auto own = own_directory(); !own.empty() && is_executable(own / file)) return own / file;
  for (const auto& dir : path_directories()) {
    if (is_executable(dir / file)) return dir / file;
  }
  return std::nullopt;
}

// dtbus-* executables on PATH that are not built in.
std::vector<std::string> plugins() {
  std::set<std::string> found;
  auto dirs = path_directories();
  dirs.insert(dirs.begin(), own_directory());
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      auto name = entry.path().filename().string();
      if (name.rfind("dtbus-", 0) != 0 || !is_executable(entry.path())) continue;
      name = name.substr(6);
      bool builtin = std::any_of(builtin_commands().begin(), builtin_commands().end(),
                                 [&](const CommandInfo& c) { return c.name == name; });
      if (!builtin) found.insert(name);
    }
  }
  return {found.begin(), found.end()};
}

void print_help() {
  std::cout << "dtbus " << dtbus::version << " - command-line toolkit for MQTT event brokers\n\n"
            << "Usage: dtbus [GLOBAL OPTIONS] <command> [OPTIONS] [ARGS]\n\nCommands:\n";
  for (const auto& c : builtin_commands()) {
    std::printf("  %-12s %s\n", c.name.c_str(), c.summary.c_str());
  }
  std::printf("  %-12s %s\n", "help", "Show the help of a command (dtbus help pub)");
  std::printf("  %-12s %s\n", "completion",
              "Print a completion script: dtbus completion bash|zsh|fish");
  auto extra = plugins();
  if (!extra.empty()) {
    std::cout << "\nPlugins (dtbus-<name> on PATH):\n";
    for (const auto& p : extra) std::printf("  %s\n", p.c_str());
  }
  std::cout << "\nGlobal options (see 'dtbus <command> --help'):\n"
            << util::wrap_list(global_options_synopsis(), 2, 80) << "\n";
  std::vector<std::string> codes;
  for (const auto& e : exit_code_meanings())
    codes.push_back(std::to_string(static_cast<int>(e.code)) + " " + e.name);
  std::cout << "\nExit codes (man dtbus):\n" << util::wrap_list(codes, 2, 80) << "\n";
}

std::string capture(const fs::path& program, const std::string& arg) {
  std::string command = "'" + program.string() + "' " + arg;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

int completion(const std::vector<std::string>& args) {
  std::string shell = args.empty() ? "" : args.front();
  if (shell != "bash" && shell != "zsh" && shell != "fish") {
    print_error("completion", "expected a shell: dtbus completion bash|zsh|fish");
    return 2;
  }
  std::vector<docs::CommandSpec> specs;
  for (const auto& c : builtin_commands()) {
    auto program = find_command(c.name);
    if (!program) continue;
    try {
      specs.push_back(
          {c.name, c.summary, nlohmann::json::parse(capture(*program, "--dtbus-spec"))});
    } catch (const std::exception&) {
      print_error("completion", "dtbus-" + c.name + " did not describe its options");
      return 1;
    }
  }
  std::cout << docs::completion_script(shell, specs);
  return 0;
}

int run_command(const fs::path& program, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string name = program.string();
  argv.push_back(name.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(program.c_str(), argv.data());
  print_error("", "cannot run " + program.string() + ": " + std::strerror(errno));
  return 1;
}

}  // namespace

int dispatch(int argc, char** argv) {
  std::vector<std::string> globals;
  std::vector<std::string> rest;
  std::string command;
  const auto& with_value = global_options_with_value();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!command.empty()) {
      rest.push_back(arg);
    } else if (arg == "--help" || arg == "-h") {
      print_help();
      return 0;
    } else if (arg == "--version") {
      std::cout << "dtbus " << dtbus::version << "\n";
      return 0;
    } else if (arg.size() > 1 && arg[0] == '-') {
      globals.push_back(arg);
      bool inline_value = arg.find('=') != std::string::npos;
      if (!inline_value &&
          std::find(with_value.begin(), with_value.end(), arg) != with_value.end() &&
          i + 1 < argc) {
        globals.push_back(argv[++i]);
      }
    } else {
      command = arg;
    }
  }
  if (command.empty()) {
    print_help();
    return globals.empty() ? 0 : 2;
  }
  if (command == "help") {
    if (rest.empty()) {
      print_help();
      return 0;
    }
    command = rest.front();
    rest = {"--help"};
  }
  if (command == "completion") return completion(rest);
  auto program = find_command(command);
  if (!program) {
    std::vector<std::string> names{"help", "completion"};
    for (const auto& c : builtin_commands()) names.push_back(c.name);
    for (const auto& p : plugins()) names.push_back(p);
    auto guess = util::closest_match(command, names);
    print_error("", "'" + command + "' is not a dtbus command" +
                        (guess ? " (did you mean '" + *guess + "'?)" : "") +
                        "; see 'dtbus --help'");
    return 2;
  }
  std::vector<std::string> args = globals;
  args.insert(args.end(), rest.begin(), rest.end());
  return run_command(*program, args);
}

}  // namespace dtbus::cli
