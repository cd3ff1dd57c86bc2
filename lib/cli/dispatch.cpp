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
#include <string_view>

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

std::string capture(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// How to ask a built-in command to describe its options: this executable with the command name,
// or its own executable when it is not linked in.
std::optional<std::string> spec_command(const std::string& name,
                                        std::span<const BuiltinMain> builtins) {
  bool linked_in = std::any_of(builtins.begin(), builtins.end(),
                               [&](const BuiltinMain& b) { return b.name == name; });
  if (linked_in) {
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) return "'" + self.string() + "' " + name;
  }
  if (auto program = find_command(name)) return "'" + program->string() + "'";
  return std::nullopt;
}

int completion(const std::vector<std::string>& args, std::span<const BuiltinMain> builtins) {
  std::string shell = args.empty() ? "" : args.front();
  if (shell != "bash" && shell != "zsh" && shell != "fish") {
    print_error("completion", "expected a shell: dtbus completion bash|zsh|fish");
    return 2;
  }
  std::vector<docs::CommandSpec> specs;
  for (const auto& c : builtin_commands()) {
    auto command = spec_command(c.name, builtins);
    if (!command) continue;
    try {
      specs.push_back(
          {c.name, c.summary, nlohmann::json::parse(capture(*command + " --dtbus-spec"))});
    } catch (const std::exception&) {
      print_error("completion", "dtbus-" + c.name + " did not describe its options");
      return 1;
    }
  }
  std::cout << docs::completion_script(shell, specs);
  return 0;
}

// `args` point into the process's own argv, so that a command hiding a password there (-P)
// hides it in /proc/<pid>/cmdline too.
int run_command(const fs::path& program, std::vector<char*> args) {
  std::string name = program.string();
  args.insert(args.begin(), name.data());
  args.push_back(nullptr);
  execv(program.c_str(), args.data());
  print_error("", "cannot run " + program.string() + ": " + std::strerror(errno));
  return 1;
}

int run_builtin(const BuiltinMain& builtin, std::vector<char*> args) {
  std::string name = "dtbus-" + std::string(builtin.name);
  args.insert(args.begin(), name.data());
  int argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  return builtin.main(argc, args.data());
}

const BuiltinMain* find_builtin(std::string_view name, std::span<const BuiltinMain> builtins) {
  for (const auto& builtin : builtins) {
    if (builtin.name == name) return &builtin;
  }
  return nullptr;
}

}  // namespace

int dispatch(int argc, char** argv, std::span<const BuiltinMain> builtins) {
  std::string_view invoked_as = argc > 0 ? argv[0] : "dtbus";
  invoked_as = invoked_as.substr(invoked_as.rfind('/') + 1);
  if (invoked_as.starts_with("dtbus-")) {
    if (const auto* builtin = find_builtin(invoked_as.substr(6), builtins))
      return builtin->main(argc, argv);
  }
  std::vector<char*> globals;
  std::vector<char*> rest;
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!command.empty()) {
      rest.push_back(argv[i]);
    } else if (arg == "--help" || arg == "-h") {
      print_help();
      return 0;
    } else if (arg == "--version") {
      std::cout << "dtbus " << dtbus::version << "\n";
      return 0;
    } else if (arg.size() > 1 && arg[0] == '-') {
      globals.push_back(argv[i]);
      bool inline_value = arg.find('=') != std::string::npos;
      // (Looked up only here: building the global options' parser costs a run that has none.)
      const auto& with_value = global_options_with_value();
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
  static char help_flag[] = "--help";
  if (command == "help") {
    if (rest.empty()) {
      print_help();
      return 0;
    }
    command = rest.front();
    rest = {help_flag};
  }
  if (command == "completion") return completion({rest.begin(), rest.end()}, builtins);
  std::vector<char*> args = globals;
  args.insert(args.end(), rest.begin(), rest.end());
  if (const auto* builtin = find_builtin(command, builtins)) return run_builtin(*builtin, args);
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
  return run_command(*program, args);
}

}  // namespace dtbus::cli
