// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/pub/line_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dtbus/core/error.hpp"
#include "dtbus/util/interrupt.hpp"

namespace dtbus::commands::pub {

LineReader::LineReader(int fd, size_t buffer_size) : fd_(fd), buffer_(buffer_size) {}

bool LineReader::fill() {
  if (eof_ || interrupted_) return false;
  if (start_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than the buffer
  while (true) {
    ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) {
      if (interrupt::interrupted()) {
        interrupted_ = true;
        return false;
      }
      continue;
    }
    throw Error(ExitCode::runtime, std::string("cannot read stdin: ") + std::strerror(errno));
  }
}

std::optional<std::string_view> LineReader::next() {
  size_t scanned = start_;
  while (true) {
    const void* found = std::memchr(buffer_.data() + scanned, '\n', end_ - scanned);
    if (found != nullptr) {
      size_t pos = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
      std::string_view line(buffer_.data() + start_, pos - start_);
      start_ = pos + 1;
      line_number_++;
      return line;
    }
    size_t consumed = end_ - start_;
    if (!fill()) {
      if (interrupted_ || start_ == end_) return std::nullopt;
      std::string_view line(buffer_.data() + start_, end_ - start_);
      start_ = end_;
      line_number_++;
      return line;
    }
    scanned = start_ + consumed;
  }
}

std::string read_all(int fd) {
  std::string data;
  char chunk[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      data.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return data;
    } else if (errno != EINTR || interrupt::interrupted()) {
      throw Error(errno == EINTR ? ExitCode::interrupted : ExitCode::runtime,
                  std::string("cannot read stdin: ") + std::strerror(errno));
    }
  }
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ExitCode::usage, "cannot read '" + path + "': " + std::strerror(errno));
  try {
    std::string data = read_all(fd);
    ::close(fd);
    return data;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

}  // namespace dtbus::commands::pub
