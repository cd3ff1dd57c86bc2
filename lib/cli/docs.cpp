// SPDX-License-Identifier: Apache-2.0
#include "dtbus/cli/docs.hpp"
#include "dtbus/core/error.hpp"

#include <algorithm>
#include <sstream>

#include "dtbus/version.hpp"

namespace dtbus::docs {
namespace {

using nlohmann::json;

// CLI11 renders IsMember validators into the type name as "NAME:{a,b}"; recover the choices.
std::vector<std::string> choices_from_type(const std::string& type_name) {
  std::vector<std::string> choices;
  auto open = type_name.find('{');
  auto close = type_name.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return choices;
  std::stringstream list(type_name.substr(open + 1, close - open - 1));
  std::string item;
  while (std::getline(list, item, ',')) {
    if (!item.empty()) choices.push_back(item);
  }
  return choices;
}

std::string base_type(const std::string& type_name) {
  auto colon = type_name.find(':');
  return colon == std::string::npos ? type_name : type_name.substr(0, colon);
}

json describe_option(const CLI::Option* opt) {
  json o;
  json names = json::array();
  for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
  o["names"] = names;
  o["help"] = opt->get_description();
  o["group"] = opt->get_group();
  bool takes_value = opt->get_type_size() != 0 && opt->get_expected_max() != 0;
  if (takes_value) {
    o["value"] = base_type(opt->get_type_name());
    auto choices = choices_from_type(opt->get_type_name());
    if (!choices.empty()) o["choices"] = choices;
  }
  o["repeatable"] = opt->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll ||
                    opt->get_expected_max() > 1;
  return o;
}

std::string roff_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return text;
}

// Appends the visible options of `app` (or of one of its option groups) to spec.
void describe_options(const CLI::App& app, json& spec) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) continue;  // hidden
    if (opt->get_lnames().empty() && opt->get_snames().empty()) {
      spec["positionals"].push_back(
          {{"name", upper(opt->get_name())}, {"help", opt->get_description()}});
      continue;
    }
    json option = describe_option(opt);
    bool known = std::any_of(spec["options"].begin(), spec["options"].end(),
                             [&](const json& o) { return o["names"] == option["names"]; });
    if (!known) spec["options"].push_back(std::move(option));  // an option group repeats --help
  }
}

void man_options(const json& options, const std::string& group_filter, bool include,
                 std::string& out) {
  for (const auto& o : options) {
    bool is_global = o["group"] == "Global options";
    if (is_global != (group_filter == "Global options") || !include) continue;
    out += ".TP\n";
    std::string names;
    for (const auto& n : o["names"]) {
      if (!names.empty()) names += ", ";
      names += "\\fB" + roff_escape(n.get<std::string>()) + "\\fR";
    }
    if (o.contains("value")) names += " \\fI" + roff_escape(o["value"].get<std::string>()) + "\\fR";
    out += names + "\n" + roff_escape(o["help"].get<std::string>());
    if (o.contains("choices")) {
      std::string list;
      for (const auto& c : o["choices"]) list += (list.empty() ? "" : ", ") + c.get<std::string>();
      out += " (" + roff_escape(list) + ")";
    }
    out += "\n";
  }
}

std::string synopsis_of(const json& spec, const std::string& prefix) {
  std::string line = "\\fB" + roff_escape(prefix) + "\\fR";
  if (!spec["subcommands"].empty()) {
    line += " \\fICOMMAND\\fR";
  }
  line += " [\\fIOPTIONS\\fR]";
  for (const auto& p : spec["positionals"])
    line += " [\\fI" + roff_escape(p["name"].get<std::string>()) + "\\fR...]";
  return line;
}

}  // namespace

json describe(const CLI::App& app) {
  json spec;
  spec["name"] = app.get_name();
  spec["description"] = app.get_description();
  spec["options"] = json::array();
  spec["positionals"] = json::array();
  spec["subcommands"] = json::array();
  describe_options(app, spec);
  for (const CLI::App* sub : app.get_subcommands({})) {
    // An option group (add_option_group) is a nameless App: its options are the command's own.
    if (sub->get_name().empty()) {
      describe_options(*sub, spec);
    } else {
      spec["subcommands"].push_back(describe(*sub));
    }
  }
  return spec;
}

namespace {

// A hand-written .sections file split at its `.SH` lines; text before the first one belongs to
// DESCRIPTION.
struct ManSection {
  std::string title;
  std::string body;
};

std::vector<ManSection> split_sections(const std::string& roff) {
  std::vector<ManSection> sections;
  std::istringstream in(roff);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(".SH ", 0) == 0) {
      std::string title = line.substr(4);
      if (title.size() >= 2 && title.front() == '"' && title.back() == '"') {
        title = title.substr(1, title.size() - 2);
      }
      sections.push_back({title, ""});
    } else {
      if (sections.empty()) sections.push_back({"DESCRIPTION", ""});
      sections.back().body += line + "\n";
    }
  }
  return sections;
}

// Sections that follow OPTIONS, in the order of man-pages(7); any other hand-written section
// (DESCRIPTION and topics of its own) comes before OPTIONS, in the order written.
const std::vector<std::string> kTrailingSections = {
    "EXIT STATUS", "ENVIRONMENT", "FILES", "NOTES", "SECURITY", "BUGS", "EXAMPLES", "SEE ALSO"};

std::string section(const std::string& title, const std::string& body) {
  return ".SH " + (title.find(' ') == std::string::npos ? title : "\"" + title + "\"") + "\n" +
         body;
}

// Variables every command reads; a page's own ENVIRONMENT section adds to them.
constexpr const char* kCommonEnvironment =
    ".TP\n\\fBDTBUS_CONFIG\\fR\nConfig file when \\fB\\-c\\fR is not given.\n"
    ".TP\n\\fBXDG_CONFIG_HOME\\fR, \\fBHOME\\fR\nWhere the user's "
    "\\fBdtbus/brokers.yaml\\fR is looked for (default \\fB~/.config\\fR).\n"
    ".TP\n\\fBMQTT_PASSWORD\\fR\nPassword when neither \\fB\\-\\-password\\-file\\fR, "
    "\\fB\\-P\\fR nor the config gives one (a user name is still needed).\n"
    ".TP\n\\fBNO_COLOR\\fR\nWhen set (to anything), no colour; as \\fB\\-\\-no\\-color\\fR.\n"
    ".TP\nVariables named in brokers.yaml\nExpanded in its values, e.g. "
    "\\fB${MQTT_HOST:\\-localhost}\\fR; see \\fBdtbus\\-brokers.yaml\\fR(5).\n";

std::string default_exit_status() {
  std::string out;
  for (const auto& e : exit_code_meanings())
    out +=
        ".TP\n" + std::to_string(static_cast<int>(e.code)) + "\n" + roff_escape(e.meaning) + "\n";
  return out;
}

}  // namespace

std::string man_page(const CLI::App& app, const std::string& page_name, const std::string& summary,
                     const std::string& extra_roff) {
  json spec = describe(app);
  std::string out;
  out += ".TH " + upper(page_name) + " 1 \"\" \"dtbus " + std::string(dtbus::version) +
         "\" \"dtbus manual\"\n";
  out += ".SH NAME\n" + roff_escape(page_name) + " \\- " + roff_escape(summary) + "\n";
  out += ".SH SYNOPSIS\n";
  std::string display = page_name;
  std::replace(display.begin(), display.end(), '-', ' ');
  out += synopsis_of(spec, display) + "\n";
  for (const auto& sub : spec["subcommands"]) {
    out += ".br\n" + synopsis_of(sub, display + " " + sub["name"].get<std::string>()) + "\n";
  }

  auto sections = split_sections(extra_roff);
  auto trailing = [](const ManSection& s) {
    return std::find(kTrailingSections.begin(), kTrailingSections.end(), s.title) !=
           kTrailingSections.end();
  };
  auto find = [&](const std::string& title) -> const ManSection* {
    for (const auto& s : sections) {
      if (s.title == title) return &s;
    }
    return nullptr;
  };
  if (!find("DESCRIPTION")) out += section("DESCRIPTION", roff_escape(summary) + ".\n");
  for (const auto& s : sections) {
    if (!trailing(s)) out += section(s.title, s.body);
  }

  out += ".SH OPTIONS\n";
  man_options(spec["options"], "", true, out);
  for (const auto& sub : spec["subcommands"]) {
    out += ".SS \"" + roff_escape(sub["name"].get<std::string>()) + "\"\n" +
           roff_escape(sub["description"].get<std::string>()) + ".\n";
    man_options(sub["options"], "", true, out);
  }
  out +=
      ".SH \"GLOBAL OPTIONS\"\nAccepted by every dtbus command, before or after the command "
      "name.\n";
  man_options(spec["options"], "Global options", true, out);

  for (const auto& title : kTrailingSections) {
    const ManSection* written = find(title);
    if (title == "ENVIRONMENT") {
      out += section(title, std::string(kCommonEnvironment) + (written ? written->body : ""));
    } else if (written) {
      out += section(title, written->body);
    } else if (title == "EXIT STATUS") {
      out += section(title, default_exit_status());
    } else if (title == "SEE ALSO") {
      out += section(title, "\\fBdtbus\\fR(1), \\fBdtbus\\-brokers.yaml\\fR(5)\n");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
namespace {

std::string join_names(const json& options, bool values_only) {
  std::string out;
  for (const auto& o : options) {
    if (values_only && !o.contains("value")) continue;
    for (const auto& n : o["names"]) out += (out.empty() ? "" : " ") + n.get<std::string>();
  }
  return out;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool is_file_value(const json& o) {
  if (!o.contains("value")) return false;
  auto v = o["value"].get<std::string>();
  return v == "FILE" || v == "DIR" || v == "PATH";
}

void bash_case(const std::string& key, const json& spec, std::string& out) {
  std::string subs;
  for (const auto& s : spec["subcommands"])
    subs += (subs.empty() ? "" : " ") + s["name"].get<std::string>();
  out += "    " + key + ") opts=" + shell_quote(join_names(spec["options"], false)) +
         "; vals=" + shell_quote(join_names(spec["options"], true)) +
         "; subs=" + shell_quote(subs) + " ;;\n";
}

void bash_choices(const std::string& key, const json& spec, std::string& out) {
  for (const auto& o : spec["options"]) {
    if (!o.contains("value")) continue;
    std::string words;
    if (o.contains("choices")) {
      for (const auto& c : o["choices"]) words += (words.empty() ? "" : " ") + c.get<std::string>();
    }
    std::string action = !words.empty()
                             ? "COMPREPLY=($(compgen -W " + shell_quote(words) + " -- \"$cur\"))"
                         : is_file_value(o) ? std::string("COMPREPLY=($(compgen -f -- \"$cur\"))")
                                            : std::string("COMPREPLY=()");
    std::string labels;
    for (const auto& n : o["names"])
      labels += (labels.empty() ? "" : "|") + key + ":" + n.get<std::string>();
    out += "    " + labels + ") " + action + "; return ;;\n";
  }
}

std::string bash_script(const std::vector<CommandSpec>& commands) {
  std::string out =
      "# bash completion for dtbus. Generated by `dtbus completion bash`; do not edit.\n"
      "_dtbus_spec() {\n  opts=''; vals=''; subs=''\n  case \"$1\" in\n";
  std::string names;
  for (const auto& c : commands) {
    names += (names.empty() ? "" : " ") + c.name;
    bash_case(c.name, c.spec, out);
    for (const auto& s : c.spec["subcommands"])
      bash_case(c.name + "_" + s["name"].get<std::string>(), s, out);
  }
  out += "  esac\n}\n\n_dtbus_value() {\n  case \"$1:$2\" in\n";
  for (const auto& c : commands) {
    bash_choices(c.name, c.spec, out);
    for (const auto& s : c.spec["subcommands"])
      bash_choices(c.name + "_" + s["name"].get<std::string>(), s, out);
  }
  out += "  esac\n  return 1\n}\n\n";
  out +=
      "_dtbus() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  local prog=${COMP_WORDS[0]##*/} cmd='' key='' i w opts vals subs skip=0\n"
      "  [[ $prog == dtbus-* ]] && cmd=${prog#dtbus-} && key=$cmd\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${COMP_WORDS[i]}\n"
      "    if ((skip)); then skip=0; continue; fi\n"
      "    if [[ $w == -* ]]; then\n"
      "      _dtbus_spec \"${key:-pub}\"\n"
      "      [[ \" $vals \" == *\" $w \"* ]] && skip=1\n"
      "      continue\n"
      "    fi\n"
      "    if [[ -z $cmd ]]; then cmd=$w; key=$w; continue; fi\n"
      "    _dtbus_spec \"$key\"\n"
      "    [[ $key == \"$cmd\" && \" $subs \" == *\" $w \"* ]] && key=${cmd}_$w\n"
      "  done\n"
      "  if [[ -z $cmd ]]; then\n"
      "    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W '--help --version' -- \"$cur\"))\n"
      "    else COMPREPLY=($(compgen -W " +
      shell_quote(names + " help completion") +
      " -- \"$cur\")); fi\n"
      "    return\n"
      "  fi\n"
      "  if [[ $prev == -* ]] && _dtbus_value \"$key\" \"$prev\"; then return; fi\n"
      "  _dtbus_spec \"$key\"\n"
      "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "  elif [[ -n $subs ]]; then COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\")); fi\n"
      "}\n"
      "complete -F _dtbus dtbus";
  for (const auto& c : commands) out += " dtbus-" + c.name;
  out += "\n";
  return out;
}

std::string zsh_escape(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '[' || c == ']') {
      out += '\\';
      out += c;
    } else if (c == '\'') {
      out += "'\\''";
    } else if (c == ':') {
      out += "\\:";
    } else {
      out += c;
    }
  }
  return out;
}

void zsh_arguments(const json& spec, std::string& out) {
  out += "  _arguments -s";
  for (const auto& o : spec["options"]) {
    std::string tail;
    if (o.contains("value")) {
      tail = ":" + zsh_escape(o["value"].get<std::string>()) + ":";
      if (o.contains("choices")) {
        tail += "(";
        for (const auto& c : o["choices"]) tail += c.get<std::string>() + " ";
        tail += ")";
      } else if (is_file_value(o)) {
        tail += "_files";
      }
    }
    bool repeat = o.value("repeatable", false) || o["names"].front() == "-v";
    for (const auto& n : o["names"]) {
      out += " \\\n    '" + std::string(repeat ? "*" : "") + n.get<std::string>() + "[" +
             zsh_escape(o["help"].get<std::string>()) + "]" + tail + "'";
    }
  }
  if (!spec["subcommands"].empty()) {
    out += " \\\n    '1:command:((";
    for (const auto& s : spec["subcommands"]) {
      out += s["name"].get<std::string>() +
             "\\:" + zsh_escape(s["description"].get<std::string>()) + " ";
    }
    out += "))' \\\n    '*::arg:->sub'";
  } else {
    out += " \\\n    '*:argument:'";
  }
  out += "\n";
}

std::string zsh_script(const std::vector<CommandSpec>& commands) {
  std::string out = "#compdef dtbus";
  for (const auto& c : commands) out += " dtbus-" + c.name;
  out += "\n# zsh completion for dtbus. Generated by `dtbus completion zsh`; do not edit.\n\n";
  for (const auto& c : commands) {
    out += "_dtbus_" + c.name + "() {\n  local state\n";
    zsh_arguments(c.spec, out);
    if (!c.spec["subcommands"].empty()) {
      out += "  [[ $state == sub ]] || return\n  case $words[1] in\n";
      for (const auto& s : c.spec["subcommands"]) {
        out += "    " + s["name"].get<std::string>() + ")\n";
        zsh_arguments(s, out);
        out += "    ;;\n";
      }
      out += "  esac\n";
    }
    out += "}\n\n";
  }
  out +=
      "_dtbus() {\n  local prog=${words[1]:t}\n  if [[ $prog == dtbus-* ]]; then\n"
      "    _dtbus_${prog#dtbus-}\n    return\n  fi\n"
      "  if (( CURRENT == 2 )); then\n    local -a cmds\n    cmds=(";
  for (const auto& c : commands) out += "\n      '" + c.name + ":" + zsh_escape(c.summary) + "'";
  out +=
      "\n      'help:Show help for a command'\n      'completion:Print a completion script')\n"
      "    _describe command cmds\n    return\n  fi\n"
      "  shift words; (( CURRENT-- ))\n"
      "  (( $+functions[_dtbus_${words[1]}] )) && _dtbus_${words[1]}\n}\n\n_dtbus \"$@\"\n";
  return out;
}

std::string fish_escape(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\'' ? std::string("\\'") : std::string(1, c);
  return out;
}

void fish_options(const std::string& head, const json& spec, std::string& out) {
  for (const auto& o : spec["options"]) {
    out += head;
    for (const auto& n : o["names"]) {
      auto name = n.get<std::string>();
      out += name.rfind("--", 0) == 0 ? " -l " + name.substr(2) : " -s " + name.substr(1);
    }
    out += " -d '" + fish_escape(o["help"].get<std::string>()) + "'";
    if (o.contains("choices")) {
      std::string words;
      for (const auto& c : o["choices"]) words += (words.empty() ? "" : " ") + c.get<std::string>();
      out += " -x -a '" + words + "'";
    } else if (is_file_value(o)) {
      out += " -r -F";
    } else if (o.contains("value")) {
      out += " -x";
    }
    out += "\n";
  }
}

std::string fish_script(const std::vector<CommandSpec>& commands) {
  std::string out =
      "# fish completion for dtbus. Generated by `dtbus completion fish`; do not edit.\n";
  std::string names;
  for (const auto& c : commands) names += (names.empty() ? "" : " ") + c.name;
  out += "complete -c dtbus -f -n 'not __fish_seen_subcommand_from " + names +
         " help completion' -a 'help completion'\n";
  for (const auto& c : commands) {
    out += "complete -c dtbus -f -n 'not __fish_seen_subcommand_from " + names + "' -a " + c.name +
           " -d '" + fish_escape(c.summary) + "'\n";
    std::string in_cmd = "complete -c dtbus -n '__fish_seen_subcommand_from " + c.name + "'";
    std::string direct = "complete -c dtbus-" + c.name;
    fish_options(in_cmd, c.spec, out);
    fish_options(direct, c.spec, out);
    for (const auto& s : c.spec["subcommands"]) {
      auto sub = s["name"].get<std::string>();
      auto desc = fish_escape(s["description"].get<std::string>());
      out += in_cmd + " -f -a " + sub + " -d '" + desc + "'\n";
      out += direct + " -f -n '__fish_use_subcommand' -a " + sub + " -d '" + desc + "'\n";
      fish_options("complete -c dtbus -n '__fish_seen_subcommand_from " + sub + "'", s, out);
    }
  }
  return out;
}

}  // namespace

std::string completion_script(const std::string& shell, const std::vector<CommandSpec>& commands) {
  if (shell == "bash") return bash_script(commands);
  if (shell == "zsh") return zsh_script(commands);
  if (shell == "fish") return fish_script(commands);
  return {};
}

}  // namespace dtbus::docs
