// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/top/frame.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <functional>
#include <unordered_map>

#include "dtbus/core/error.hpp"
#include "dtbus/core/payload_text.hpp"

namespace dtbus::commands::top {
namespace {

// Columns after the topic: messages, msg/s, msg/s over a minute, bytes/s, age, QoS+retain.
constexpr size_t kNumberWidth = 6;
constexpr size_t kAgeWidth = 5;
constexpr size_t kFlagsWidth = 2;
constexpr size_t kFixedWidth = 1 + 4 * (1 + kNumberWidth) + (1 + kAgeWidth) + (1 + kFlagsWidth) + 1;
// Bytes of a payload previewed on one line (the rest would not fit anyway).
constexpr size_t kPreviewBytes = 512;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t columns(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += !is_continuation(c);
  return n;
}

// Names compare with digit runs as numbers: sensor/2 before sensor/10.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view da(a.data() + i, ie - i), db(b.data() + j, je - j);
      while (da.size() > 1 && da[0] == '0') da.remove_prefix(1);
      while (db.size() > 1 && db[0] == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

bool contains_folded(const std::string& haystack, const std::string& needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char x, char y) {
                          return std::tolower(static_cast<unsigned char>(x)) ==
                                 std::tolower(static_cast<unsigned char>(y));
                        });
  return it != haystack.end();
}

double rate_1s(const Node& n, int64_t now_second) {
  return static_cast<double>(n.rates.messages_in(now_second - 1));
}
double rate_1m(const Node& n, int64_t now_second) {
  return static_cast<double>(n.rates.messages_in_minute_to(now_second)) / RateWindow::kSeconds;
}

std::string hex(std::string_view bytes, size_t max) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    if (i) out.push_back(' ');
    auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::vector<std::string> hex_dump(std::string_view bytes, size_t max_lines) {
  std::vector<std::string> lines;
  for (size_t at = 0; at < bytes.size() && lines.size() < max_lines; at += 16) {
    char offset[32];
    std::snprintf(offset, sizeof offset, "%06zx  ", at);
    std::string_view chunk = bytes.substr(at, 16);
    std::string line = offset + hex(chunk, 16);
    line.append(2 + (16 - chunk.size()) * 3, ' ');
    for (char c : chunk) line.push_back(c >= 0x20 && c < 0x7f ? c : '.');
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string clock_text(SystemClock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

std::string verdict_text(const Sample& s) {
  if (!s.validated) return {};
  if (s.errors.empty()) return "✓ valid";
  std::string text = "✗ invalid: ";
  for (size_t i = 0; i < s.errors.size(); ++i) text += (i ? "; " : "") + s.errors[i];
  return text;
}

std::string pad_left(const std::string& text, size_t width) {
  size_t n = columns(text);
  return n >= width ? text : std::string(width - n, ' ') + text;
}

bool row_expanded(const Node& node, const ViewState& state) {
  if (auto found = state.expanded.find(node.topic); found != state.expanded.end())
    return found->second;
  return node.depth < kAutoExpandDepth && node.children.size() <= kAutoExpandChildren;
}

}  // namespace

const char* sort_name(Sort sort) {
  switch (sort) {
    case Sort::name:
      return "name";
    case Sort::rate:
      return "rate";
    case Sort::last_seen:
      return "last seen";
  }
  return "name";
}

std::string count_text(uint64_t n) {
  char text[32];
  if (n < 1000000)
    std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(n));
  else if (n < 1000000000)
    std::snprintf(text, sizeof text, "%.1fM", static_cast<double>(n) / 1e6);
  else
    std::snprintf(text, sizeof text, "%.1fG", static_cast<double>(n) / 1e9);
  return text;
}

std::string rate_text(double r) {
  char text[32];
  if (r <= 0)
    return "0";
  else if (r < 1)
    std::snprintf(text, sizeof text, "%.2f", r);
  else if (r < 10)
    std::snprintf(text, sizeof text, "%.1f", r);
  else if (r < 100000)
    std::snprintf(text, sizeof text, "%.0f", r);
  else
    std::snprintf(text, sizeof text, "%.0fk", r / 1000);
  return text;
}

std::string bytes_text(uint64_t b) {
  char text[32];
  if (b < 1024)
    std::snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(b));
  else if (b < 1024 * 1024)
    std::snprintf(text, sizeof text, "%.1fK", static_cast<double>(b) / 1024);
  else
    std::snprintf(text, sizeof text, "%.1fM", static_cast<double>(b) / (1024 * 1024));
  return text;
}

std::string age_text(SteadyClock::duration age) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(age).count();
  if (s < 0) s = 0;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string preview_text(const Sample& s) {
  std::string_view head(s.payload.data(), std::min(s.payload.size(), kPreviewBytes));
  payload_text::Rendered r =
      payload_text::render(s.payload.size() <= kPreviewBytes ? std::string_view(s.payload) : head);
  if (r.kind == payload_text::Kind::binary)
    return "hex " + hex(head, 32) + " (" + std::to_string(s.size) + " B)";
  return escape_controls(r.text);
}

std::string fit(const std::string& raw, size_t width) {
  std::string text = escape_controls(raw);
  size_t n = columns(text);
  if (n <= width) return text + std::string(width - n, ' ');
  if (width == 0) return {};
  // Cut after width-1 columns and mark the cut.
  size_t seen = 0, at = 0;
  for (; at < text.size(); ++at) {
    if (!is_continuation(static_cast<unsigned char>(text[at]))) {
      if (seen == width - 1) break;
      ++seen;
    }
  }
  return text.substr(0, at) + "…";
}

std::vector<Row> visible_rows(const Model& model, const ViewState& state, int64_t now_second) {
  std::vector<Row> rows;
  std::unordered_map<const Node*, bool> matches;  // the filter matches the node or below
  std::function<bool(const Node&)> subtree_matches = [&](const Node& node) {
    if (auto found = matches.find(&node); found != matches.end()) return found->second;
    bool match = contains_folded(node.topic, state.filter);
    for (const auto& child : node.children) match = subtree_matches(*child) || match;
    matches[&node] = match;
    return match;
  };
  bool filtering = !state.filter.empty();
  std::function<void(const Node&)> walk = [&](const Node& parent) {
    std::vector<const Node*> children;
    children.reserve(parent.children.size());
    for (const auto& child : parent.children) {
      if (!filtering || subtree_matches(*child)) children.push_back(child.get());
    }
    switch (state.sort) {
      case Sort::name:
        std::sort(children.begin(), children.end(),
                  [](const Node* a, const Node* b) { return natural_less(a->name, b->name); });
        break;
      case Sort::rate:
        std::sort(children.begin(), children.end(), [&](const Node* a, const Node* b) {
          // The minute first: it orders the rows steadily, the last second breaks ties.
          double ma = rate_1m(*a, now_second), mb = rate_1m(*b, now_second);
          if (ma != mb) return ma > mb;
          double ra = rate_1s(*a, now_second), rb = rate_1s(*b, now_second);
          if (ra != rb) return ra > rb;
          return natural_less(a->name, b->name);
        });
        break;
      case Sort::last_seen:
        std::sort(children.begin(), children.end(), [](const Node* a, const Node* b) {
          if (a->last_seen != b->last_seen) return a->last_seen > b->last_seen;
          return natural_less(a->name, b->name);
        });
        break;
    }
    for (const Node* child : children) {
      bool has_children = !child->children.empty();
      bool expanded = has_children && row_expanded(*child, state);
      // While filtering, a node whose match lies below it opens (unless closed by hand).
      if (filtering && has_children && !state.expanded.count(child->topic) &&
          !contains_folded(child->topic, state.filter)) {
        expanded = true;
      }
      rows.push_back({child, has_children, expanded});
      if (expanded) walk(*child);
    }
  };
  walk(model.root());
  return rows;
}

namespace {

// Finds the selected row again (it may have moved) and keeps it on screen.
void place_cursor(const std::vector<Row>& rows, ViewState& state) {
  if (rows.empty()) {
    state.cursor = 0;
    state.scroll = 0;
    return;
  }
  auto found = std::find_if(rows.begin(), rows.end(),
                            [&](const Row& r) { return r.node->topic == state.selected; });
  if (found != rows.end())
    state.cursor = static_cast<size_t>(found - rows.begin());
  else
    state.cursor = std::min(state.cursor, rows.size() - 1);
  state.selected = rows[state.cursor].node->topic;
  size_t height = std::max<size_t>(state.tree_height, 1);
  if (state.cursor < state.scroll) state.scroll = state.cursor;
  if (state.cursor >= state.scroll + height) state.scroll = state.cursor + 1 - height;
  if (state.scroll + height > rows.size())
    state.scroll = rows.size() > height ? rows.size() - height : 0;
}

}  // namespace

std::string selected_topic(const Model& model, ViewState& state, SteadyClock::time_point now) {
  auto rows = visible_rows(model, state, Model::second_of(now));
  place_cursor(rows, state);
  return rows.empty() ? std::string() : state.selected;
}

bool apply_key(Key key, char text, const Model& model, ViewState& state,
               SteadyClock::time_point now) {
  if (state.editing_filter) {
    switch (key) {
      case Key::text:
        state.filter.push_back(text);
        return false;
      case Key::backspace:
        if (!state.filter.empty()) state.filter.pop_back();
        return false;
      case Key::toggle:
        state.editing_filter = false;
        return false;
      case Key::escape:
        state.filter.clear();
        state.editing_filter = false;
        return false;
      default:
        break;  // moving works while typing
    }
  }
  auto rows = visible_rows(model, state, Model::second_of(now));
  place_cursor(rows, state);
  size_t page = std::max<size_t>(state.tree_height, 1);
  auto select = [&](size_t index) {
    if (rows.empty()) return;
    state.cursor = std::min(index, rows.size() - 1);
    state.selected = rows[state.cursor].node->topic;
  };
  const Row* row = rows.empty() ? nullptr : &rows[state.cursor];
  switch (key) {
    case Key::up:
      select(state.cursor == 0 ? 0 : state.cursor - 1);
      break;
    case Key::down:
      select(state.cursor + 1);
      break;
    case Key::page_up:
      select(state.cursor > page ? state.cursor - page : 0);
      break;
    case Key::page_down:
      select(state.cursor + page);
      break;
    case Key::home:
      select(0);
      break;
    case Key::end:
      select(rows.empty() ? 0 : rows.size() - 1);
      break;
    case Key::toggle:
      if (row && row->has_children) state.expanded[row->node->topic] = !row->expanded;
      break;
    case Key::expand:
      if (row && row->has_children) state.expanded[row->node->topic] = true;
      break;
    case Key::collapse:
      if (row && row->has_children && row->expanded) {
        state.expanded[row->node->topic] = false;
      } else if (row && row->node->parent && row->node->parent->depth >= 0) {
        state.selected = row->node->parent->topic;
      }
      break;
    case Key::filter:
      state.editing_filter = true;
      break;
    case Key::escape:
      state.filter.clear();
      state.show_command = false;
      break;
    case Key::sort:
      state.sort = state.sort == Sort::name   ? Sort::rate
                   : state.sort == Sort::rate ? Sort::last_seen
                                              : Sort::name;
      break;
    case Key::pause:
      state.paused = !state.paused;
      break;
    case Key::command:
      state.show_command = !state.show_command;
      break;
    case Key::quit:
      return true;
    default:
      break;
  }
  return false;
}

std::vector<Line> compose(const Model& model, ViewState& state, const FrameContext& context,
                          SteadyClock::time_point now) {
  const size_t width = static_cast<size_t>(std::max(context.width, 20));
  const size_t height = static_cast<size_t>(std::max(context.height, 3));
  const int64_t second = Model::second_of(now);
  std::vector<Line> lines;
  auto add = [&](const std::string& text, Style style) {
    lines.push_back({fit(text, width), style});
  };

  // Title.
  // What changes first, where and what last: a narrow screen cuts the end.
  std::string title = "dtbus top · " + std::to_string(model.topics()) +
                      (model.topics() == 1 ? " topic · " : " topics · ") +
                      count_text(model.messages()) + " msgs · " +
                      rate_text(rate_1s(model.root(), second)) + " msg/s · sort " +
                      sort_name(state.sort);
  if (!state.filter.empty()) title += " · filter \"" + state.filter + "\"";
  if (state.paused) title += " · PAUSED";
  if (!context.connected) title += " · reconnecting";
  if (model.untracked() > 0)
    title += " · " + count_text(model.untracked()) + " msgs on topics beyond --max-topics";
  title += " · " + context.where + " · " + context.filters;
  add(title, Style::title);
  std::string sys = model.sys().line();
  if (!sys.empty() && height >= 12) add("$SYS " + sys, Style::sys);

  // Bottom: the filter being typed, the sub command (wrapped when long), or the keys.
  std::vector<std::string> bottom;
  if (state.editing_filter) {
    bottom.push_back("/" + state.filter + "▏  (enter keeps, esc clears)");
  } else if (state.show_command && !context.command_line.empty()) {
    const std::string& command = context.command_line;
    for (size_t at = 0; at < command.size() && bottom.size() < 3; at += width)
      bottom.push_back(command.substr(at, width));
  } else {
    bottom.push_back("↑↓/jk move  enter/←→ fold  / filter  s sort  p pause  c sub command  q quit");
  }

  size_t used = lines.size() + 1 + bottom.size();  // + the column header
  size_t room = height > used ? height - used : 0;
  size_t detail = room >= 12 ? room * 2 / 5 : 0;  // the detail pane, title included
  size_t tree = room - detail;
  state.tree_height = std::max<size_t>(tree, 1);

  auto rows = visible_rows(model, state, second);
  place_cursor(rows, state);
  // The topic column is as wide as the labels on screen need, up to half of what is left.
  auto label = [&](const Row& row) {
    const Node& n = *row.node;
    return std::string(std::min<size_t>(2 * static_cast<size_t>(n.depth), 16), ' ') +
           (row.has_children ? (row.expanded ? "▾ " : "▸ ") : "  ") +
           (n.name.empty() ? "\"\"" : n.name);
  };
  size_t widest = 12;
  for (size_t i = state.scroll; i < rows.size() && i < state.scroll + tree; ++i)
    widest = std::max(widest, columns(escape_controls(label(rows[i]))));
  const size_t name_width =
      std::min(widest, std::max<size_t>((width - std::min(width, kFixedWidth)) / 2, 12));
  const size_t payload_width =
      width > kFixedWidth + name_width ? width - kFixedWidth - name_width : 0;
  add(" " + fit("TOPIC", name_width) + " " + pad_left("MSGS", kNumberWidth) + " " +
          pad_left("MSG/S", kNumberWidth) + " " + pad_left("1MIN/S", kNumberWidth) + " " +
          pad_left("B/S", kNumberWidth) + " " + pad_left("AGE", kAgeWidth) + " QR " + "PAYLOAD",
      Style::header);

  for (size_t i = 0; i < tree; ++i) {
    size_t index = state.scroll + i;
    if (index >= rows.size()) {
      add(i == 0 && rows.empty()
              ? (state.filter.empty() ? "  waiting for messages…" : "  no topic matches the filter")
              : "",
          Style::normal);
      continue;
    }
    const Row& row = rows[index];
    const Node& n = *row.node;
    std::string name = label(row);
    std::string flags = "  ";
    std::string payload;
    if (!n.history.empty()) {
      const Sample& last = n.history.back();
      flags = std::to_string(last.qos) + (last.retain ? "r" : " ");
      payload = preview_text(last);
    } else {
      payload = "(" + std::to_string(n.topics) + (n.topics == 1 ? " topic)" : " topics)");
    }
    std::string text = (index == state.cursor ? ">" : " ") + fit(name, name_width) + " " +
                       pad_left(count_text(n.messages), kNumberWidth) + " " +
                       pad_left(rate_text(rate_1s(n, second)), kNumberWidth) + " " +
                       pad_left(rate_text(rate_1m(n, second)), kNumberWidth) + " " +
                       pad_left(bytes_text(n.rates.bytes_in(second - 1)), kNumberWidth) + " " +
                       pad_left(n.messages ? age_text(now - n.last_seen) : "-", kAgeWidth) + " " +
                       flags + " " + fit(payload, payload_width);
    add(text, index == state.cursor ? Style::selected : Style::normal);
  }

  // Detail pane of the selected topic.
  if (detail > 0) {
    const Node* n = rows.empty() ? nullptr : rows[state.cursor].node;
    std::vector<std::string> body;
    std::string head = "── ";
    if (n == nullptr) {
      head += "no topic selected ";
    } else if (n->history.empty()) {
      head += n->topic + " ── " + count_text(n->messages) + " msgs in " +
              std::to_string(n->topics) + " topics below ";
      body.push_back("no message on this topic itself; enter opens it");
    } else {
      const Sample& last = n->history.back();
      head += n->topic + " ── " + count_text(n->own_messages) + " msgs · q" +
              std::to_string(last.qos) + (last.retain ? " · retained" : "") + " · " +
              std::to_string(last.size) + " B · " + age_text(now - n->last_seen) + " ago ";
      size_t room_for_history =
          std::min(n->history.size() + 1, std::max<size_t>((detail - 1) / 2, 1));
      size_t room_for_payload = detail - 1 - room_for_history;
      std::vector<std::string> payload_lines;
      if (!last.properties.empty()) payload_lines.push_back("properties: " + last.properties);
      if (last.validated) payload_lines.push_back(verdict_text(last));
      if (last.truncated()) {
        payload_lines.push_back("(first " + std::to_string(last.payload.size()) + " of " +
                                std::to_string(last.size) + " bytes kept)");
      }
      payload_text::Rendered pretty = payload_text::render(last.payload, 2);
      std::vector<std::string> text = pretty.kind == payload_text::Kind::binary
                                          ? hex_dump(last.payload, room_for_payload)
                                          : split_lines(pretty.text);
      for (auto& line : text) {
        if (payload_lines.size() >= room_for_payload) break;
        payload_lines.push_back("  " + line);
      }
      body = payload_lines;
      body.resize(room_for_payload);
      // The last messages, newest first, under a heading when there is room for one.
      size_t entries = room_for_history;
      if (room_for_history >= 2) {
        --entries;
        body.push_back("last " + std::to_string(n->history.size()) + " messages, newest first:");
      }
      for (auto it = n->history.rbegin(); it != n->history.rend() && entries > 0; ++it, --entries) {
        std::string line = "  " + clock_text(it->received) + " q" + std::to_string(it->qos) +
                           (it->retain ? "r" : " ") + " " + pad_left(bytes_text(it->size), 6) +
                           "  ";
        // The verdict ahead of the preview, which the screen's edge cuts; the newest message's
        // errors are spelled out above.
        if (it->validated) line += it->errors.empty() ? "✓ " : "✗ ";
        body.push_back(line + preview_text(*it));
      }
    }
    for (size_t n = columns(head); n < width; ++n) head += "─";
    add(head, Style::detail_title);
    for (size_t i = 0; i + 1 < detail; ++i) add(i < body.size() ? body[i] : "", Style::detail);
  }
  for (const auto& b : bottom) add(b, Style::status);
  while (lines.size() < height) add("", Style::normal);
  lines.resize(height);
  return lines;
}

std::string shell_quote(const std::string& word) {
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./:=@,").find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

std::string sub_command_line(const GlobalOptions& g, const std::string& topic) {
  std::string out = "dtbus sub";
  auto option = [&](const char* flag, const std::string& value) {
    out += std::string(" ") + flag + " " + shell_quote(value);
  };
  if (g.config_file) option("-c", *g.config_file);
  if (g.broker) option("-b", *g.broker);
  if (g.url) option("--url", *g.url);
  if (g.host) option("-H", *g.host);
  if (g.port) option("-p", std::to_string(*g.port));
  if (g.username) option("-u", *g.username);
  if (g.password_file) option("--password-file", *g.password_file);
  if (g.tls) out += " --tls";
  if (g.cafile) option("--cafile", *g.cafile);
  if (g.cert) option("--cert", *g.cert);
  if (g.key) option("--key", *g.key);
  if (g.insecure) out += " --insecure";
  if (g.protocol) option("-V", std::to_string(*g.protocol));
  if (g.no_prefix) out += " --no-prefix";
  option("-t", topic);
  return out;
}

}  // namespace dtbus::commands::top
