// SPDX-License-Identifier: Apache-2.0
// The command front-end (lib/cli/command.cpp): what other processes can see of the arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dtbus/cli/command.hpp"

namespace {

// Runs a Command over `args` (argv[0] added) and returns argv as it is afterwards, which is
// what /proc/<pid>/cmdline shows.
std::vector<std::string> argv_after_run(std::vector<std::string> args,
                                        std::string* seen = nullptr) {
  args.insert(args.begin(), "dtbus-demo");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  dtbus::cli::Command command(dtbus::cli::CommandInfo{"demo", "Demo", {}});
  int rc = command.run(static_cast<int>(argv.size()), argv.data(), [&] {
    if (seen) *seen = command.globals().password.value_or("");
    return 0;
  });
  EXPECT_EQ(rc, 0);
  return {args.begin(), args.end()};
}

TEST(CliCommand, PasswordIsHiddenInArgvInEveryForm) {
  std::string seen;
  auto after = argv_after_run({"-q", "-u", "alice", "-P", "s3cret-pw"}, &seen);
  EXPECT_EQ(seen, "s3cret-pw");  // the command still gets it
  EXPECT_EQ(after[5], "*********");
  EXPECT_EQ(after[3], "alice");

  after = argv_after_run({"-q", "-Ps3cret-pw"}, &seen);
  EXPECT_EQ(seen, "s3cret-pw");
  EXPECT_EQ(after[2], "-P*********");

  after = argv_after_run({"-q", "--password=s3cret-pw"}, &seen);
  EXPECT_EQ(seen, "s3cret-pw");
  EXPECT_EQ(after[2], "--password=*********");
}

TEST(CliCommand, ArgumentsAreLeftAloneWithoutPassword) {
  auto after = argv_after_run({"-q", "-u", "alice", "--password-file", "/run/secrets/pw"});
  EXPECT_EQ(after[3], "alice");
  EXPECT_EQ(after[5], "/run/secrets/pw");
}

}  // namespace

TEST(CliCommand, GlobalOptionsWithAValueAreReadOffTheDefinitions) {
  const auto& names = dtbus::cli::global_options_with_value();
  auto has = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const char* name : {"-c", "--config", "-b", "-o", "-H", "-p", "--url", "--password-file",
                           "-P", "-i", "--cafile", "-V", "-k", "--connect-timeout"})
    EXPECT_TRUE(has(name)) << name;
  for (const char* name : {"-v", "--verbose", "-q", "--no-color", "--tls", "--insecure",
                           "--no-prefix", "--help", "-h"})
    EXPECT_FALSE(has(name)) << name;
}
