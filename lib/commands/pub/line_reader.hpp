// SPDX-License-Identifier: Apache-2.0
// Streaming line reader over a file descriptor: large read() calls, no per-line allocation,
// bounded memory (the buffer grows only to the longest line).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dtbus::commands::pub {

class LineReader {
 public:
  explicit LineReader(int fd, size_t buffer_size = 1 << 16);
  // The next line without its '\n' (valid until the next call); a last line without '\n'
  // counts; std::nullopt at end of input or when a signal interrupted the read.
  // Throws Error(runtime) on a read error.
  std::optional<std::string_view> next();
  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }
  bool interrupted() const { return interrupted_; }
  // Reads no more: next() returns the complete lines already buffered, then std::nullopt (the
  // start of a line whose end was not read yet is not returned; see at_end()).
  void stop() { interrupted_ = true; }
  // True when the whole input was read and returned.
  bool at_end() const { return eof_ && start_ == end_; }

 private:
  bool fill();  // false at EOF/interrupt
  int fd_;
  std::vector<char> buffer_;
  size_t start_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool interrupted_ = false;
  uint64_t line_number_ = 0;
};

// All bytes of a descriptor (`-s`) or a file (`-f`; throws Error(usage) naming it).
std::string read_all(int fd);
std::string read_file(const std::string& path);

}  // namespace dtbus::commands::pub
