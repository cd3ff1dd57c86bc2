// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "dtbus/core/error.hpp"

using namespace dtbus;

TEST(EscapeControls, PrintableAsciiAndUtf8PassUnchanged) {
  EXPECT_EQ(escape_controls("tracker/events/created 'x' \\ ~"), "tracker/events/created 'x' \\ ~");
  EXPECT_EQ(escape_controls("ünïcode/€/😀"), "ünïcode/€/😀");
  EXPECT_EQ(escape_controls(""), "");
}

TEST(EscapeControls, C0ControlsAndDelBecomeHex) {
  EXPECT_EQ(escape_controls("a\x1b[31mred"), "a\\x1b[31mred");
  EXPECT_EQ(escape_controls("line\nnext\r\t"), "line\\x0anext\\x0d\\x09");
  EXPECT_EQ(escape_controls(std::string("nul\0here", 8)), "nul\\x00here");
  EXPECT_EQ(escape_controls("bell\x07 del\x7f"), "bell\\x07 del\\x7f");
}

TEST(EscapeControls, C1ControlsAndInvalidUtf8BecomeHex) {
  EXPECT_EQ(escape_controls("csi\xc2\x9b"
                            "2J"),
            "csi\\xc2\\x9b2J");  // U+009B
  EXPECT_EQ(escape_controls("raw\x9b"
                            "2J"),
            "raw\\x9b2J");  // 8-bit CSI
  EXPECT_EQ(escape_controls("bad\xff"), "bad\\xff");
  EXPECT_EQ(escape_controls("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_controls("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(escape_controls("cut\xe2\x82"), "cut\\xe2\\x82");     // truncated sequence
  EXPECT_EQ(escape_controls("\xc2\xa0nbsp"), "\xc2\xa0nbsp");     // U+00A0 is printable
}

TEST(PrintError, EscapesTheMessageOnOneLine) {
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  std::FILE* saved = stderr;
  stderr = capture;
  print_error("sub", "cannot write topic 'a\x1b]0;owned\x07' to\nout");
  stderr = saved;
  std::rewind(capture);
  char buffer[256] = {};
  size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, capture);
  std::fclose(capture);
  EXPECT_EQ(std::string(buffer, n),
            "dtbus sub: error: cannot write topic 'a\\x1b]0;owned\\x07' to\\x0aout\n");
}
