// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/json.hpp"

#include <nlohmann/json.hpp>

namespace dtbus::util {

using Json = nlohmann::ordered_json;

bool nested_deeper_than(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skips the escaped character, which may be a quote
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Json parse_json(std::string_view text, int max_depth) {
  if (nested_deeper_than(text, max_depth)) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, false);
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
    }
  }
  out.append(text.data() + run_start, text.size() - run_start);
  out.push_back('"');
}

std::string to_json_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_json_line(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_pretty_json(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string to_pretty_json(const nlohmann::ordered_json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* reserved[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
  for (const char* word : reserved) {
    if (strcasecmp(s.c_str(), word) == 0) return true;
  }
  if (s.find_first_of(":#{}[],&*?|<>=!%@`\"'\n\t\\") != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-') return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

void emit_yaml(const nlohmann::ordered_json& value, int indent, std::string& out);

std::string scalar_yaml(const nlohmann::ordered_json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return needs_quotes(s)
               ? nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
               : s;
  }
  return value.dump();
}

void emit_yaml(const nlohmann::ordered_json& value, int indent, std::string& out) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      out += pad + (needs_quotes(key) ? nlohmann::json(key).dump() : key) + ":";
      if ((child.is_object() || child.is_array()) && !child.empty()) {
        out += "\n";
        emit_yaml(child, indent + 2, out);
      } else if (child.is_object()) {
        out += " {}\n";
      } else if (child.is_array()) {
        out += " []\n";
      } else {
        out += " " + scalar_yaml(child) + "\n";
      }
    }
  } else if (value.is_array()) {
    for (const auto& child : value) {
      if (child.is_object() && !child.empty()) {
        std::string nested;
        emit_yaml(child, indent + 2, nested);
        out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
      } else {
        out += pad + "- " + scalar_yaml(child) + "\n";
      }
    }
  } else {
    out += pad + scalar_yaml(value) + "\n";
  }
}

}  // namespace

std::string to_yaml(const nlohmann::ordered_json& value) {
  std::string out;
  emit_yaml(value, 0, out);
  return out;
}

}  // namespace dtbus::util
