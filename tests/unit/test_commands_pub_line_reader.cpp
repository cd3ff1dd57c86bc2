// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "dtbus/commands/pub/line_reader.hpp"

namespace dtbus::commands::pub {
namespace {

// Feeds `input` through a pipe in small chunks and collects the lines.
std::vector<std::string> lines_of(const std::string& input, size_t buffer_size) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    for (size_t i = 0; i < input.size(); i += 7) {
      size_t n = std::min<size_t>(7, input.size() - i);
      EXPECT_EQ(write(fds[1], input.data() + i, n), static_cast<ssize_t>(n));
    }
    close(fds[1]);
  });
  LineReader reader(fds[0], buffer_size);
  std::vector<std::string> lines;
  while (auto line = reader.next()) {
    lines.emplace_back(*line);
    EXPECT_EQ(reader.line_number(), lines.size());
  }
  writer.join();
  close(fds[0]);
  return lines;
}

TEST(LineReader, SplitsLinesAcrossReads) {
  std::string long_line(100, 'x');
  auto lines = lines_of("one\n\nthree\n" + long_line + "\nlast", 8);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "one");
  EXPECT_EQ(lines[1], "");  // empty lines are returned; pub skips them but counts them
  EXPECT_EQ(lines[2], "three");
  EXPECT_EQ(lines[3], long_line);
  EXPECT_EQ(lines[4], "last");
}

TEST(LineReader, KeepsCarriageReturnsAndBinary) {
  auto lines = lines_of(std::string("a\r\nb\0c\n", 7), 4);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "a\r");
  EXPECT_EQ(lines[1], std::string("b\0c", 3));
}

TEST(LineReader, EmptyInput) { EXPECT_TRUE(lines_of("", 16).empty()); }

// After stop(), the complete lines already read come out, the start of an unfinished one does
// not, and nothing more is read.
TEST(LineReader, StopReturnsOnlyBufferedCompleteLines) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string first = "a\nb\nc\npart";
  ASSERT_EQ(write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  LineReader reader(fds[0], 64);
  auto line = reader.next();
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "a");
  reader.stop();
  std::string more = "ial\nd\n";  // written later: must not be read
  ASSERT_EQ(write(fds[1], more.data(), more.size()), static_cast<ssize_t>(more.size()));
  std::vector<std::string> rest;
  while (auto l = reader.next()) rest.emplace_back(*l);
  EXPECT_EQ(rest, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(reader.line_number(), 3u);
  EXPECT_FALSE(reader.at_end());
  close(fds[1]);
  close(fds[0]);
}

TEST(LineReader, AtEndOnlyAfterTheLastLine) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "x\ny", 3), 3);
  close(fds[1]);
  LineReader reader(fds[0], 64);
  EXPECT_TRUE(reader.next());
  EXPECT_FALSE(reader.at_end());
  EXPECT_TRUE(reader.next());  // "y": a last line without '\n' counts
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.at_end());
  close(fds[0]);
}

}  // namespace
}  // namespace dtbus::commands::pub
