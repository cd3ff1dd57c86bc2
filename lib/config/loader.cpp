// SPDX-License-Identifier: Apache-2.0
// brokers.yaml parsing and validation (SPEC §3): every problem in one pass, with file:line:column.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <streambuf>
#include <tuple>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "dtbus/config/config.hpp"
#include "dtbus/config/paths.hpp"
#include "dtbus/config/schema.hpp"
#include "dtbus/core/proxy_url.hpp"
#include "dtbus/core/tls_psk.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/util/text.hpp"

namespace dtbus::config {

std::string Diagnostic::format() const {
  std::string out;
  if (!where.file.empty()) {
    out = where.file;
    if (where.line > 0) out += ":" + std::to_string(where.line);
    if (where.line > 0 && where.column > 0) out += ":" + std::to_string(where.column);
    out += ": ";
  }
  out += severity == Severity::error ? "error: " : "warning: ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

bool LoadResult::ok() const { return errors().empty(); }

std::vector<Diagnostic> LoadResult::errors() const {
  std::vector<Diagnostic> out;
  for (const auto& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::error) out.push_back(d);
  }
  return out;
}

std::vector<Diagnostic> LoadResult::warnings() const {
  std::vector<Diagnostic> out;
  for (const auto& d : diagnostics) {
    if (d.severity == Diagnostic::Severity::warning) out.push_back(d);
  }
  return out;
}

namespace {

namespace fs = std::filesystem;
using Severity = Diagnostic::Severity;

// Quotes a user value for a message (never used for secrets).
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a sequence";
  return "a scalar";
}

std::optional<long long> parse_integer(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_number(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

std::optional<std::string> file_problem(const std::string& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (!fs::exists(status)) return "file not found: " + path;
  if (fs::is_directory(status)) return "is a directory, not a file: " + path;
  if (::access(path.c_str(), R_OK) != 0) {
    return "file not readable: " + path + " (" + std::strerror(errno) + ")";
  }
  return std::nullopt;
}

// The offset of the first byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF included); nullopt when `text` is valid.
std::optional<size_t> invalid_utf8_at(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
    if (extra == 0 || i + extra >= text.size()) return i;
    uint32_t cp = c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += extra + 1;
  }
  return std::nullopt;
}

// A read-only streambuf over text held elsewhere: yaml-cpp reads the file's bytes without a copy.
class TextBuffer : public std::streambuf {
 public:
  explicit TextBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());  // never written: no overflow/putback writes
    setg(begin, begin, begin + text.size());
  }
};

// One key/value of a mapping as the walker hands it to a field handler.
struct Field {
  std::string key;
  std::string path;  // e.g. brokers.mqtt_local.config.port
  Location key_at;
  Location value_at;  // the key's location when the value is empty
  YAML::Node value;
};

using Fields = std::map<std::string, Field>;  // what a walk found, by key
using schema::KeyInfo;
using schema::Kind;
// Readers of the keys without a field (schema::Key::member), by key.
using OwnReaders = std::map<std::string_view, std::function<void(const Field&, const KeyInfo&)>>;

class Loader {
 public:
  Loader(std::string file, std::string base_dir, const LoadOptions& options)
      : file_(std::move(file)),
        base_dir_(std::move(base_dir)),
        strict_(options.strict),
        env_(options.env ? options.env : process_env()) {}

  LoadResult run(std::string_view yaml) {
    result_.config.file = file_;
    if (auto root = parse(yaml)) document(*root);
    finish();
    return std::move(result_);
  }

 private:
  // ---- diagnostics ---------------------------------------------------------
  void report(Severity severity, std::string path, Location where, std::string message) {
    result_.diagnostics.push_back(
        {severity, std::move(path), std::move(where), std::move(message)});
  }
  void error(const std::string& path, const Location& where, std::string message) {
    report(Severity::error, path, where, std::move(message));
  }
  void warning(const std::string& path, const Location& where, std::string message) {
    report(Severity::warning, path, where, std::move(message));
  }

  Location at(const YAML::Mark& mark) const {
    if (mark.is_null()) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }

  // ---- YAML syntax -----------------------------------------------------------
  std::optional<YAML::Node> parse(std::string_view yaml) {
    check_utf8(yaml);
    try {
      TextBuffer buffer(yaml);
      std::istream stream(&buffer);
      return YAML::Load(stream);
    } catch (const YAML::DeepRecursion& e) {
      error("", at(e.mark),
            "nesting too deep: the YAML parser gives up at this depth (a brokers.yaml nests 4 "
            "levels)");
    } catch (const YAML::ParserException& e) {
      // yaml-cpp's tab errors are cryptic and sometimes point at the line before: name the tab.
      if (auto tab = indentation_tab(yaml, e.mark.line, e.msg.find("tab") != std::string::npos)) {
        error("", *tab, "tab character used for indentation (YAML requires spaces)");
      } else {
        error("", at(e.mark), "YAML syntax error: " + e.msg);
      }
    } catch (const YAML::Exception& e) {
      error("", at(e.mark), "YAML error: " + e.msg);
    }
    return std::nullopt;
  }

  // YAML text is UTF-8: each line with an invalid byte is an error at that byte (columns count
  // bytes, as yaml-cpp's do). yaml-cpp passes such bytes through into values, so this is the
  // check. A binary file gets the first few lines and a count.
  void check_utf8(std::string_view yaml) {
    constexpr int kMaxReported = 10;
    int line = 1;
    int reported = 0;
    int more = 0;
    for (size_t start = 0; start < yaml.size();) {
      size_t end = yaml.find('\n', start);
      if (end == std::string_view::npos) end = yaml.size();
      if (auto bad = invalid_utf8_at(yaml.substr(start, end - start))) {
        invalid_utf8_lines_.insert(line);
        if (reported++ < kMaxReported) {
          char byte[8];
          std::snprintf(byte, sizeof(byte), "0x%02x",
                        static_cast<unsigned char>(yaml[start + *bad]));
          error("", {file_, line, static_cast<int>(*bad) + 1},
                std::string("invalid UTF-8 (byte ") + byte + "): YAML files must be UTF-8");
        } else {
          ++more;
        }
      }
      start = end + 1;
      ++line;
    }
    if (more > 0) {
      error("", {file_, 0, 0},
            "invalid UTF-8 on " + std::to_string(more) + " more line" + (more == 1 ? "" : "s"));
    }
  }

  // Where a tab indents the failing line (yaml-cpp sometimes marks the line before); for a tab
  // error without one there, the nearest tab-indented line above.
  std::optional<Location> indentation_tab(std::string_view yaml, int fail_line, bool tab_error) {
    std::vector<int> tab_column;  // per line, -1 = none
    std::istringstream lines{std::string(yaml)};
    for (std::string line; std::getline(lines, line);) {
      size_t tab = line.substr(0, line.find_first_not_of(" \t")).find('\t');
      tab_column.push_back(tab == std::string::npos ? -1 : static_cast<int>(tab));
    }
    auto has_tab = [&](int n) {
      return n >= 0 && n < static_cast<int>(tab_column.size()) && tab_column[n] >= 0;
    };
    auto location = [&](int n) { return Location{file_, n + 1, tab_column[n] + 1}; };
    if (has_tab(fail_line)) return location(fail_line);
    if (has_tab(fail_line + 1)) return location(fail_line + 1);
    for (int n = fail_line - 1; tab_error && n >= 0; --n) {
      if (has_tab(n)) return location(n);
    }
    return std::nullopt;
  }

  // ---- mapping walker --------------------------------------------------------
  // The entries of a mapping in document order: duplicate keys reported (the first wins), merge
  // keys (`<<: *anchor`) folded in under explicit keys, non-string keys rejected.
  std::vector<Field> entries(const YAML::Node& map, const std::string& path, bool report_dups) {
    std::vector<Field> out;
    std::unordered_map<std::string, int> first_line;  // keys of `out`: linear in the entries
    std::vector<Field> merged;
    if (open_maps_.empty()) merged_maps_.clear();  // a new mapping, not one reached by a merge
    open_maps_.push_back(map);
    for (auto it = map.begin(); it != map.end(); ++it) {
      Location key_at = at(it->first.Mark());
      if (!it->first.IsScalar()) {
        if (report_dups) error(path, key_at, "mapping keys must be strings");
        continue;
      }
      Field field{it->first.Scalar(), join_path(path, it->first.Scalar()), key_at, key_at,
                  it->second};
      if (!it->second.IsNull() && !it->second.Mark().is_null())
        field.value_at = at(it->second.Mark());
      if (field.key == "<<" && it->first.Tag() == "?") {
        merge_into(merged, field, path);
        continue;
      }
      auto [first, added] = first_line.emplace(field.key, key_at.line);
      if (!added) {
        if (report_dups) {
          error(field.path, key_at,
                "duplicate key " + quote(field.key) + " (first defined at line " +
                    std::to_string(first->second) + ")");
        }
        continue;
      }
      out.push_back(std::move(field));
    }
    for (auto& field : merged) {
      if (!first_line.contains(field.key)) out.push_back(std::move(field));
    }
    open_maps_.pop_back();
    return out;
  }

  void merge_into(std::vector<Field>& merged, const Field& merge, const std::string& path) {
    std::vector<YAML::Node> sources;
    if (merge.value.IsMap()) sources.push_back(merge.value);
    if (merge.value.IsSequence()) {
      for (const auto& item : merge.value) sources.push_back(item);
    }
    if (sources.empty() ||
        std::any_of(sources.begin(), sources.end(), [](auto& s) { return !s.IsMap(); })) {
      error(merge.path, merge.key_at, "merge key expects a mapping or a sequence of mappings");
      return;
    }
    // Earlier sources win over later ones (YAML merge-key semantics).
    for (const auto& source : sources) {
      // yaml-cpp resolves `x: &a {<<: *a}` into a cycle.
      auto self = [&](const YAML::Node& open) { return open.is(source); };
      if (std::any_of(open_maps_.begin(), open_maps_.end(), self)) {
        error(merge.path, merge.key_at, "merge key refers to its own mapping");
        continue;
      }
      // A mapping merged again (`<<: [*a, *a]`, or through two other merges) adds nothing: its
      // keys are all taken already. Skipping it keeps nested merges of aliases linear, not
      // exponential.
      if (std::any_of(merged_maps_.begin(), merged_maps_.end(), self)) continue;
      merged_maps_.push_back(source);
      for (auto& field : entries(source, path, false)) {
        auto same = [&](auto& f) { return f.key == field.key; };
        if (std::none_of(merged.begin(), merged.end(), same)) merged.push_back(std::move(field));
      }
    }
  }

  // Reads each key of `node` (a mapping, or empty) that `section` lists into its field of
  // `target`, or with its reader in `own`; unknown keys get a did-you-mean, `x-` keys are ignored
  // (Compose extension fields, handy for anchors).
  template <class T>
  Fields walk(const YAML::Node& node, const std::string& path, const Location& where,
              const schema::Section<T>& section, T& target, const OwnReaders& own = {}) {
    Fields seen;
    if (!node || node.IsNull()) return seen;
    if (!node.IsMap()) {
      error(path, where, "expected a mapping, got " + describe(node));
      return seen;
    }
    for (auto& field : entries(node, path, true)) {
      if (const auto* key = section.find(field.key)) {
        std::visit(
            [&](auto member) {
              if constexpr (std::is_same_v<decltype(member), std::monostate>) {
                own.at(key->info.name)(field, key->info);
              } else {
                read(field, key->info, target.*member);
              }
            },
            key->member);
        seen.emplace(field.key, field);
      } else if (!field.key.starts_with("x-")) {
        std::string message = "unknown key";
        if (auto guess = util::closest_match(field.key, section.names())) {
          message += " (did you mean " + quote(*guess) + "?)";
        }
        error(field.path, field.key_at, message);
      }
    }
    return seen;
  }

  // ---- scalar readers --------------------------------------------------------
  // The expanded text of a scalar; nullopt when null, empty after expansion, or invalid.
  std::optional<std::string> text(const Field& f, bool secret = false) {
    if (!f.value || f.value.IsNull()) return std::nullopt;
    if (!f.value.IsScalar()) {
      error(f.path, f.value_at,
            secret ? "expected string" : "expected string, got " + describe(f.value));
      return std::nullopt;
    }
    Expansion expansion = expand_env(f.value.Scalar(), env_);
    if (expansion.error) {
      error(f.path, f.value_at, *expansion.error);
      return std::nullopt;
    }
    for (const auto& name : expansion.unset_without_default) {
      warning(f.path, f.value_at, "${" + name + "} is not set (no default given)");
    }
    if (expansion.value.empty()) return std::nullopt;
    // Bytes from the environment or a YAML escape ("\udc00"); the file's own bytes are reported
    // by check_utf8.
    if (invalid_utf8_at(expansion.value) && !invalid_utf8_lines_.contains(f.value_at.line)) {
      error(f.path, f.value_at,
            f.value.Scalar() == expansion.value
                ? "value is not valid UTF-8"
                : "value is not valid UTF-8 after ${VAR} expansion (check the variables it uses)");
      return std::nullopt;
    }
    filled_.insert(f.path);
    return std::move(expansion.value);
  }

  void read(const Field& f, std::string& out, bool secret = false) {
    if (auto value = text(f, secret)) out = std::move(*value);
  }

  void read(const Field& f, std::optional<std::string>& out) {
    if (auto value = text(f)) out = std::move(*value);
  }

  void read_path(const Field& f, std::string& out) {
    auto value = text(f);
    if (!value) return;
    fs::path path = detail::expand_home(*value, env_);
    // A "~" left (HOME unknown) is not a relative path to anchor at the file.
    if (path.is_relative() && !base_dir_.empty() && !value->starts_with('~')) {
      path = fs::path(base_dir_) / path;
    }
    out = path.lexically_normal().string();
  }

  void read(const Field& f, bool& out) {
    auto value = text(f);
    if (!value) return;
    if (auto parsed = parse_bool(*value)) {
      out = *parsed;
    } else {
      error(f.path, f.value_at, "expected true or false, got " + quote(*value));
    }
  }

  void read_int(const Field& f, int& out, long long min, long long max) {
    std::optional<int> value;
    read_int(f, value, min, max);
    if (value) out = *value;
  }

  void read_int(const Field& f, std::optional<int>& out, long long min, long long max) {
    auto value = text(f);
    if (!value) return;
    auto parsed = parse_integer(*value);
    if (parsed && *parsed >= min && *parsed <= max) {
      out = static_cast<int>(*parsed);
    } else {
      error(f.path, f.value_at,
            "expected integer " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                quote(*value));
    }
  }

  // A number > 0, or >= 0 when zero is allowed.
  void read_number(const Field& f, double& out, bool allow_zero) {
    auto value = text(f);
    if (!value) return;
    auto parsed = parse_number(*value);
    if (parsed && (*parsed > 0 || (allow_zero && *parsed == 0))) {
      out = *parsed;
    } else {
      error(f.path, f.value_at,
            std::string(allow_zero ? "expected a number >= 0" : "expected a number > 0") +
                ", got " + quote(*value));
    }
  }

  void read_choice(const Field& f, std::string& out, const std::vector<std::string>& choices) {
    auto value = text(f);
    if (!value) return;
    if (std::find(choices.begin(), choices.end(), *value) != choices.end()) {
      out = std::move(*value);
      return;
    }
    std::string list;
    for (size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    std::string message = "expected " + list + ", got " + quote(*value);
    if (auto guess = util::closest_match(*value, choices))
      message += " (did you mean " + quote(*guess) + "?)";
    error(f.path, f.value_at, message);
  }

  // A SOCKS5 proxy URL; the problem named, the value (which may hold a password) never quoted.
  void read_proxy(const Field& f, std::string& out) {
    read(f, out, true);
    if (out.empty()) return;
    try {
      parse_proxy_url(out);
    } catch (const std::invalid_argument& e) {
      error(f.path, f.value_at, e.what());
    }
  }

  void read_url(const Field& f, std::string& out) {
    read(f, out);
    if (!out.empty() && !out.starts_with("https://") && !out.starts_with("http://")) {
      error(f.path, f.value_at, "expected an http:// or https:// URL, got " + quote(out));
    }
  }

  // A key's value into its field, as the key's kind says.
  void read(const Field& f, const KeyInfo& key, std::string& out) {
    switch (key.kind) {
      case Kind::path:
        return read_path(f, out);
      case Kind::url:
        return read_url(f, out);
      case Kind::choice:
        return read_choice(f, out, key.choices);
      case Kind::proxy:
        return read_proxy(f, out);
      default:
        return read(f, out, key.secret);
    }
  }
  void read(const Field& f, const KeyInfo&, std::optional<std::string>& out) { read(f, out); }
  void read(const Field& f, const KeyInfo&, bool& out) { read(f, out); }
  void read(const Field& f, const KeyInfo& key, int& out) {
    if (key.kind != Kind::choice) return read_int(f, out, key.min, key.max);
    std::string choice;
    read_choice(f, choice, key.choices);
    if (!choice.empty()) out = std::stoi(choice);
  }
  void read(const Field& f, const KeyInfo& key, std::optional<int>& out) {
    read_int(f, out, key.min, key.max);
  }
  void read(const Field& f, const KeyInfo& key, double& out) {
    read_number(f, out, key.kind == Kind::number_or_zero);
  }

  void require_file(const Field& f, const std::string& path) {
    if (auto problem = file_problem(path)) error(f.path, f.value_at, *problem);
  }

  // ---- schema ----------------------------------------------------------------
  void document(const YAML::Node& root) {
    Location top{file_, 1, 1};
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      error("", at(root.Mark()),
            "expected a mapping with a brokers: section, got " + describe(root));
      return;
    }
    Config& config = result_.config;
    auto seen =
        walk(root, "", top, schema::document(), config,
             {{"brokers", [&](const Field& f, const KeyInfo&) { brokers(f); }},
              {"token_providers", [&](const Field& f, const KeyInfo&) { token_providers(f); }}});
    // A file holding only token providers is complete for `dtbus token`; one with neither
    // section is most likely the wrong file.
    if (config.brokers.empty() && config.token_providers.empty()) {
      warning("brokers", seen.contains("brokers") ? seen.at("brokers").key_at : top,
              "no brokers defined");
    }
    check_references(seen);
  }

  void brokers(const Field& section) {
    if (section.value.IsNull()) return;
    if (!section.value.IsMap()) {
      error(section.path, section.value_at,
            "expected a mapping of broker names, got " + describe(section.value));
      return;
    }
    for (auto& entry : entries(section.value, section.path, true)) broker(entry);
  }

  void broker(const Field& entry) {
    BrokerSettings b;
    b.name = entry.key;
    b.location = entry.key_at;
    std::string type;
    auto seen = walk(entry.value, entry.path, entry.value_at, schema::broker(), b,
                     {{"type", [&](const Field& f, const KeyInfo& key) { read(f, key, type); }},
                      {"config", [&](const Field& f, const KeyInfo&) { broker_config(f, b); }},
                      {"source", [&](const Field& f, const KeyInfo&) { source(f, b.source); }},
                      {"dlq", [&](const Field& f, const KeyInfo&) { dlq(f, b); }},
                      {"will", [&](const Field& f, const KeyInfo&) { will(f, b); }}});
    if (b.class_name.empty()) b.class_name = type;  // `class` wins over `type`
    // After the walk: token_provider (which keeps MQTT_USERNAME/MQTT_PASSWORD out) may follow
    // config.
    for (auto& d : apply_celine_env(b, entry.path + ".config", env_)) {
      d.where.file = file_;
      result_.diagnostics.push_back(std::move(d));
    }
    if (seen.contains("token_provider") && !b.token_provider.empty()) {
      references_.push_back({seen.at("token_provider"), b.token_provider});
    }
    result_.config.broker_order.push_back(b.name);
    result_.config.brokers.emplace(b.name, std::move(b));
  }

  void broker_config(const Field& section, BrokerSettings& b) {
    auto seen = walk(section.value, section.path, section.value_at, schema::broker_config(), b);
    for (const auto& [key, field] : seen) {
      if (filled_.contains(field.path)) b.set_at.emplace(key, field.value_at);
    }
    if (!b.shared_group.empty() && b.shared_group.find_first_of("/+#") != std::string::npos) {
      error(seen.at("shared_group").path, seen.at("shared_group").value_at,
            "a group name cannot hold '/', '+' or '#', got " + quote(b.shared_group));
    }
    if (b.keepalive > 0 && b.keepalive < kMinKeepalive) {  // libmosquitto refuses 1..4
      error(seen.at("keepalive").path, seen.at("keepalive").value_at,
            "0 (off) or 5..65535 seconds, got " + std::to_string(b.keepalive));
    }
    if (b.use_shared_subscriptions && b.shared_group.empty()) {
      const Field& flag = seen.at("use_shared_subscriptions");
      error(flag.path, flag.value_at, "true needs a shared_group");
    }

    // Files are checked after the walk: use_tls may come after ca_certs.
    if (b.use_tls && !b.ca_certs.empty()) require_file(seen.at("ca_certs"), b.ca_certs);
    if (!b.certfile.empty()) require_file(seen.at("certfile"), b.certfile);
    if (!b.keyfile.empty()) require_file(seen.at("keyfile"), b.keyfile);
    if (b.certfile.empty() != b.keyfile.empty()) {
      const Field& set = seen.at(b.certfile.empty() ? "keyfile" : "certfile");
      error(set.path, set.value_at, "certfile and keyfile must be given together");
    }
    if (!b.psk.empty()) {
      const Field& psk = seen.at("psk");
      if (auto problem = psk_problem(b.psk)) error(psk.path, psk.value_at, *problem);
      if (b.psk_identity.empty()) error(psk.path, psk.value_at, "a psk needs a psk_identity");
      if (!b.ca_certs.empty() || !b.certfile.empty()) {
        error(psk.path, psk.value_at,
              "psk replaces certificates: ca_certs, certfile and keyfile cannot be set with it");
      }
    } else if (!b.psk_identity.empty()) {
      error(seen.at("psk_identity").path, seen.at("psk_identity").value_at,
            "a psk_identity needs a psk");
    }
    if (!b.username.empty() || !b.password.empty()) {
      const Field& credential = seen.at(b.username.empty() ? "password" : "username");
      credentials_.push_back({credential, b.name});
    }
  }

  void source(const Field& section, envelope::Source& s) {
    // All scalars are strings here: app_version 1.0 must stay "1.0".
    walk(section.value, section.path, section.value_at, schema::source(), s);
  }

  void will(const Field& section, BrokerSettings& b) {
    WillConfig w;
    auto seen = walk(section.value, section.path, section.value_at, schema::will(), w);
    if (!seen.contains("topic") || w.topic.empty()) {
      error(section.path, section.value_at, "a will needs a topic");
      return;
    }
    if (auto problem = topic::publish_topic_problem(w.topic)) {
      error(seen.at("topic").path, seen.at("topic").value_at,
            "invalid will topic " + quote(w.topic) + ": " + *problem);
    }
    b.will = std::move(w);
  }

  void dlq(const Field& section, BrokerSettings& b) {
    DlqSettings d;
    auto seen = walk(section.value, section.path, section.value_at, schema::dlq(), d);
    if (seen.contains("topic")) {
      if (auto problem = topic::filter_problem(d.topic)) {
        error(seen.at("topic").path, seen.at("topic").value_at,
              "invalid topic filter " + quote(d.topic) + ": " + *problem);
      }
    }
    if (d.client_id.empty()) d.client_id = "dtbus-dlq-" + b.name;
    if (d.spool.empty()) {
      d.spool = detail::xdg_dir("XDG_STATE_HOME", ".local/state", env_);
      if (d.spool.empty()) d.spool = ".";  // neither HOME nor XDG_STATE_HOME: next to the caller
      d.spool += "/dtbus/dlq/" + b.name + ".jsonl";
    }
    b.dlq = std::move(d);
  }

  void token_providers(const Field& section) {
    if (section.value.IsNull()) return;
    if (!section.value.IsMap()) {
      error(section.path, section.value_at,
            "expected a mapping of provider names, got " + describe(section.value));
      return;
    }
    for (auto& entry : entries(section.value, section.path, true)) token_provider(entry);
  }

  void token_provider(const Field& entry) {
    TokenProviderSettings p;
    p.name = entry.key;
    p.location = entry.key_at;
    auto seen = walk(entry.value, entry.path, entry.value_at, schema::token_provider(), p);
    oidc_env(entry, p);
    if (p.base_url.empty() && p.token_url.empty()) {
      error(entry.path, entry.key_at, "needs base_url (discovery) or token_url (or OIDC_BASE_URL)");
    }
    if (!seen.contains("client_id") && p.client_id.empty()) {
      error(entry.path, entry.key_at, "missing required key client_id (or OIDC_CLIENT_ID)");
    } else if (p.client_id.empty()) {
      error(seen.at("client_id").path, seen.at("client_id").value_at, "must not be empty");
    }
    if (!p.ca_certs.empty()) require_file(seen.at("ca_certs"), p.ca_certs);
    result_.config.token_providers.emplace(p.name, std::move(p));
  }

  // CELINE's OIDC_* variables fill what a provider entry leaves unset (SPEC §3); base_url only
  // when token_url does not make it unnecessary.
  void oidc_env(const Field& entry, TokenProviderSettings& p) {
    auto fill = [&](std::string& field, const char* key, const char* variable) {
      if (!field.empty()) return;
      auto value = env_(variable);
      if (!value || value->empty()) return;
      std::string path = entry.path + "." + key;
      if (invalid_utf8_at(*value)) {
        error(path, entry.key_at, std::string(variable) + " is not valid UTF-8");
        return;
      }
      if (std::string_view(key) == "base_url" && !value->starts_with("https://") &&
          !value->starts_with("http://")) {
        error(
            path, entry.key_at,
            std::string(variable) + ": expected an http:// or https:// URL, got " + quote(*value));
        return;
      }
      field = *value;
      p.from_env.emplace(key, variable);
    };
    if (p.token_url.empty()) fill(p.base_url, "base_url", "OIDC_BASE_URL");
    fill(p.client_id, "client_id", "OIDC_CLIENT_ID");
    fill(p.client_secret, "client_secret", "OIDC_CLIENT_SECRET");
  }

  // Cross-references need the whole document: token_providers may follow brokers.
  void check_references(const Fields& top) {
    Config& config = result_.config;
    std::vector<std::string> providers;
    for (const auto& [name, provider] : config.token_providers) providers.push_back(name);
    for (const auto& [field, name] : references_) {
      if (config.token_providers.contains(name)) continue;
      std::string message = "no token provider named " + quote(name);
      if (auto guess = util::closest_match(name, providers))
        message += " (did you mean " + quote(*guess) + "?)";
      error(field.path, field.value_at, message);
    }
    for (const auto& [field, broker] : credentials_) {
      if (config.brokers.at(broker).token_provider.empty()) continue;
      warning(field.path, field.value_at,
              "username/password are ignored because token_provider is set");
    }

    if (config.default_broker.empty()) {
      // Without default_broker a single enabled broker is the obvious choice.
      std::vector<std::string> enabled;
      for (const auto& name : config.broker_order) {
        if (config.brokers.at(name).enabled) enabled.push_back(name);
      }
      if (enabled.size() == 1) config.default_broker = enabled.front();
      return;
    }
    const Field& field = top.at("default_broker");
    auto it = config.brokers.find(config.default_broker);
    if (it == config.brokers.end()) {
      std::string message = "no broker named " + quote(config.default_broker);
      if (auto guess = util::closest_match(config.default_broker, config.broker_order)) {
        message += " (did you mean " + quote(*guess) + "?)";
      }
      error(field.path, field.value_at, message);
    } else if (!it->second.enabled) {
      error(field.path, field.value_at,
            "broker " + quote(config.default_broker) + " is disabled (enabled: false)");
    }
  }

  // Document order; file-level problems (no line) last. Identical reports (e.g. a field reached
  // twice through a merge key) are kept once.
  void finish() {
    auto& all = result_.diagnostics;
    if (strict_) {
      for (auto& d : all) d.severity = Severity::error;
    }
    auto key = [](const Diagnostic& d) {
      return std::make_tuple(d.where.line == 0 ? std::numeric_limits<int>::max() : d.where.line,
                             d.where.column);
    };
    std::stable_sort(all.begin(), all.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
    auto same = [](const Diagnostic& a, const Diagnostic& b) {
      return a.severity == b.severity && a.path == b.path && a.where.line == b.where.line &&
             a.where.column == b.where.column && a.message == b.message;
    };
    all.erase(std::unique(all.begin(), all.end(), same), all.end());
  }

  std::string file_;
  std::string base_dir_;  // relative paths in the file are resolved against it
  bool strict_;
  EnvLookup env_;
  LoadResult result_;
  std::vector<std::pair<Field, std::string>> references_;   // token_provider fields → name
  std::vector<std::pair<Field, std::string>> credentials_;  // username/password → broker
  std::set<int> invalid_utf8_lines_;                        // lines check_utf8 reported
  std::set<std::string> filled_;         // field paths whose value is non-empty after expansion
  std::vector<YAML::Node> open_maps_;    // mappings whose entries are being collected
  std::vector<YAML::Node> merged_maps_;  // mappings merged into the one being collected
};

}  // namespace

std::vector<Diagnostic> apply_celine_env(BrokerSettings& b, const std::string& path,
                                         const EnvLookup& env) {
  std::vector<Diagnostic> problems;
  auto variable = [&](const char* key, const char* name) -> std::optional<std::string> {
    if (b.set_at.contains(key)) return std::nullopt;
    auto value = env(name);
    if (!value || value->empty()) return std::nullopt;
    if (invalid_utf8_at(*value)) {
      problems.push_back({Severity::error, path + "." + key, b.location,
                          std::string(name) + " is not valid UTF-8"});
      return std::nullopt;
    }
    return value;
  };
  if (auto host = variable("host", "MQTT_HOST")) {
    b.host = *host;
    b.from_env.emplace("host", "MQTT_HOST");
  }
  if (auto port = variable("port", "MQTT_PORT")) {
    auto parsed = parse_integer(*port);
    if (parsed && *parsed >= 1 && *parsed <= 65535) {
      b.port = static_cast<int>(*parsed);
      b.from_env.emplace("port", "MQTT_PORT");
    } else {
      problems.push_back({Severity::error, path + ".port", b.location,
                          "MQTT_PORT: expected integer 1..65535, got " + quote(*port)});
    }
  }
  // A token provider brings its own credentials: the static ones would only be ignored.
  if (!b.token_provider.empty()) return problems;
  if (auto username = variable("username", "MQTT_USERNAME")) {
    b.username = *username;
    b.from_env.emplace("username", "MQTT_USERNAME");
  }
  if (auto password = variable("password", "MQTT_PASSWORD")) {
    b.password = *password;
    b.from_env.emplace("password", "MQTT_PASSWORD");
  }
  return problems;
}

LoadResult load_string(std::string_view yaml, const std::string& file_label,
                       const LoadOptions& options) {
  return Loader(file_label, "", options).run(yaml);
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  std::string problem;
  if (fs::is_directory(path, ec)) {
    problem = "is a directory, not a config file";
  } else if (std::ifstream in{path, std::ios::binary}; in) {
    // Read at most one byte over the limit: a pipe (-c /dev/stdin) has no size to check first.
    std::string content;
    size_t size = 0;
    if (auto known = fs::file_size(path, ec); !ec && fs::is_regular_file(path, ec)) size = known;
    content.resize(std::min(size, kMaxConfigBytes) + 1);
    size_t used = 0;
    while (in && used <= kMaxConfigBytes) {
      if (used == content.size()) content.resize(std::min(content.size() * 2, kMaxConfigBytes + 1));
      in.read(content.data() + used, static_cast<std::streamsize>(content.size() - used));
      used += static_cast<size_t>(in.gcount());
    }
    if (in.bad()) {
      problem = std::string("cannot read config file: ") + std::strerror(errno);
    } else if (used > kMaxConfigBytes) {
      problem = "config file too large (over " + std::to_string(kMaxConfigBytes / (1024 * 1024)) +
                " MiB; a brokers.yaml is a few kilobytes)";
    } else {
      content.resize(used);
      // Relative TLS and spool paths mean "next to this file", wherever dtbus is run from.
      std::string dir = fs::path(path).parent_path().string();
      return Loader(path, dir.empty() ? "." : dir, options).run(content);
    }
  } else {
    problem = std::string("cannot read config file: ") + std::strerror(errno);
  }
  LoadResult result;
  result.config.file = path;
  result.diagnostics.push_back({Diagnostic::Severity::error, "", {path, 0, 0}, problem});
  return result;
}

}  // namespace dtbus::config
