// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "dtbus/commands/top/frame.hpp"

namespace dtbus::commands::top {
namespace {

using namespace std::chrono_literals;

const SteadyClock::time_point t0{std::chrono::seconds(5000)};

void add(Model& model, const std::string& topic, const std::string& payload,
         SteadyClock::time_point at = t0) {
  ReceivedMessage m;
  m.topic = topic;
  m.payload = payload;
  model.add(m, at, SystemClock::now());
}

std::vector<std::string> topics(const Model& model, const ViewState& state,
                                SteadyClock::time_point now = t0) {
  std::vector<std::string> out;
  for (const Row& row : visible_rows(model, state, Model::second_of(now)))
    out.push_back(row.node->topic);
  return out;
}

std::string screen_text(const std::vector<Line>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.text + "\n";
  return out;
}

TEST(TopFrame, RowsFollowExpansionAndNaturalNameOrder) {
  Model model;
  add(model, "s/10", "a");
  add(model, "s/2", "b");
  add(model, "s/1", "c");
  add(model, "a", "d");
  ViewState state;
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"a", "s", "s/1", "s/2", "s/10"}));
  state.expanded["s"] = false;
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"a", "s"}));
}

TEST(TopFrame, ManyChildrenStartCollapsed) {
  Model model;
  for (int i = 0; i < 60; ++i) add(model, "many/" + std::to_string(i), "x");
  ViewState state;
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"many"}));
}

TEST(TopFrame, FilterKeepsMatchesAndOpensTheirParents) {
  Model model;
  add(model, "plant/a/temp", "1");
  add(model, "plant/b/hum", "2");
  add(model, "other/temp", "3");
  ViewState state;
  state.expanded["plant"] = false;
  state.expanded.erase("plant");
  state.filter = "TEMP";
  EXPECT_EQ(topics(model, state),
            (std::vector<std::string>{"other", "other/temp", "plant", "plant/a", "plant/a/temp"}));
  state.filter = "nothing";
  EXPECT_TRUE(topics(model, state).empty());
}

TEST(TopFrame, SortByRateAndByLastSeen) {
  Model model;
  add(model, "slow", "x", t0 - 1s);
  for (int i = 0; i < 5; ++i) add(model, "fast", "x", t0 - 1s);
  add(model, "recent", "x", t0 - 1s + 500ms);
  ViewState state;
  state.sort = Sort::rate;
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"fast", "recent", "slow"}));
  state.sort = Sort::last_seen;
  EXPECT_EQ(topics(model, state)[0], "recent");
}

TEST(TopFrame, KeysMoveFoldFilterSortAndQuit) {
  Model model;
  add(model, "a/x", "1");
  add(model, "b", "2");
  ViewState state;
  EXPECT_EQ(selected_topic(model, state, t0), "a");
  EXPECT_FALSE(apply_key(Key::down, 0, model, state, t0));
  EXPECT_EQ(state.selected, "a/x");
  apply_key(Key::collapse, 0, model, state, t0);  // a leaf: to its parent
  EXPECT_EQ(state.selected, "a");
  apply_key(Key::toggle, 0, model, state, t0);
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"a", "b"}));
  apply_key(Key::end, 0, model, state, t0);
  EXPECT_EQ(state.selected, "b");
  apply_key(Key::filter, 0, model, state, t0);
  EXPECT_TRUE(state.editing_filter);
  apply_key(Key::text, 'q', model, state, t0);  // typed, not quit
  EXPECT_EQ(state.filter, "q");
  apply_key(Key::backspace, 0, model, state, t0);
  apply_key(Key::text, 'b', model, state, t0);
  apply_key(Key::toggle, 0, model, state, t0);  // enter keeps the filter
  EXPECT_FALSE(state.editing_filter);
  EXPECT_EQ(topics(model, state), (std::vector<std::string>{"b"}));
  apply_key(Key::escape, 0, model, state, t0);
  EXPECT_EQ(state.filter, "");
  apply_key(Key::sort, 0, model, state, t0);
  EXPECT_EQ(state.sort, Sort::rate);
  apply_key(Key::pause, 0, model, state, t0);
  EXPECT_TRUE(state.paused);
  EXPECT_TRUE(apply_key(Key::quit, 0, model, state, t0));
}

TEST(TopFrame, ScreenIsExactlyTheTerminalSize) {
  Model model;
  add(model, "plant/a/temp", R"({"value": 21.5, "unit": "C"})");
  model.sys().add("$SYS/broker/version", "mosquitto version 2.0.11");
  ViewState state;
  state.selected = "plant/a/temp";
  FrameContext context;
  context.where = "localhost:1883";
  context.filters = "#";
  auto lines = compose(model, state, context, t0 + 2s);
  ASSERT_EQ(lines.size(), 24u);
  std::string text = screen_text(lines);
  for (const auto& line : lines) {
    size_t columns = 0;
    for (unsigned char c : line.text) columns += (c & 0xC0) != 0x80;
    EXPECT_EQ(columns, 80u) << line.text;
  }
  EXPECT_NE(text.find("$SYS mosquitto version 2.0.11"), std::string::npos) << text;
  EXPECT_NE(text.find("temp"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({"value":21.5,"unit":"C"})"), std::string::npos) << text;  // one line
  EXPECT_NE(text.find(R"(  "value": 21.5,)"), std::string::npos) << text;           // pretty
  EXPECT_NE(text.find("q quit"), std::string::npos) << text;
  EXPECT_EQ(lines[0].style, Style::title);
}

TEST(TopFrame, CommandLineShownWhenAsked) {
  Model model;
  add(model, "plant/it's", "1");
  ViewState state;
  state.show_command = true;
  FrameContext context;
  GlobalOptions g;
  g.host = "10.0.0.5";
  g.port = 1884;
  g.password = "secret-password";
  context.command_line = sub_command_line(g, "plant/it's");
  EXPECT_EQ(context.command_line, R"(dtbus sub -H 10.0.0.5 -p 1884 -t 'plant/it'\''s')");
  std::string text = screen_text(compose(model, state, context, t0));
  EXPECT_NE(text.find(context.command_line), std::string::npos) << text;
}

TEST(TopFrame, Formats) {
  EXPECT_EQ(count_text(999999), "999999");
  EXPECT_EQ(count_text(1500000), "1.5M");
  EXPECT_EQ(rate_text(0), "0");
  EXPECT_EQ(rate_text(2.5), "2.5");
  EXPECT_EQ(rate_text(1.0 / 60), "0.02");
  EXPECT_EQ(rate_text(50000), "50000");
  EXPECT_EQ(bytes_text(2048), "2.0K");
  EXPECT_EQ(age_text(75s), "1m");
  EXPECT_EQ(fit("abc", 5), "abc  ");
  EXPECT_EQ(fit("abcdef", 4), "abc…");
  EXPECT_EQ(fit("a\nb", 6), "a\\x0ab");
  Sample binary;
  binary.payload = std::string("\x00\xff\x10", 3);
  binary.size = 3;
  EXPECT_EQ(preview_text(binary), "hex 00 ff 10 (3 B)");
  Sample text;
  text.payload = "line1\nline2";
  text.size = text.payload.size();
  EXPECT_EQ(preview_text(text), "line1\\x0aline2");
}

}  // namespace
}  // namespace dtbus::commands::top
