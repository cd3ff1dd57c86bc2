// SPDX-License-Identifier: Apache-2.0
#include <mosquitto.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "dtbus/cli/command.hpp"
#include "dtbus/cli/docs.hpp"
#include "dtbus/config/config.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/version.hpp"

namespace dtbus::cli {
namespace {

constexpr const char* kGlobalGroup = "Global options";

std::string version_text(const std::string& program) {
  int major = 0, minor = 0, revision = 0;
  mosquitto_lib_version(&major, &minor, &revision);
  return program + " " + dtbus::version + " (libmosquitto " + std::to_string(major) + "." +
         std::to_string(minor) + "." + std::to_string(revision) + ")";
}

void add_global_options(CLI::App& app, GlobalOptions& g, const std::vector<std::string>& formats) {
  app.add_option("-c,--config", g.config_file,
                 "Config file (else $DTBUS_CONFIG, ./config/brokers.yaml, ...)")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app.add_option("-b,--broker", g.broker, "Broker entry in the config (default: default_broker)")
      ->type_name("NAME")
      ->group(kGlobalGroup);
  auto* output = app.add_option("-o,--output", g.output, "Output format")
                     ->type_name("FMT")
                     ->group(kGlobalGroup);
  if (!formats.empty()) output->check(CLI::IsMember(formats));
  app.add_flag("-v,--verbose", g.verbosity, "More log output on stderr (repeatable)")
      ->group(kGlobalGroup);
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr")->group(kGlobalGroup);
  app.add_flag("--no-color", g.no_color, "No colour (also when NO_COLOR is set or not a TTY)")
      ->group(kGlobalGroup);
  app.add_option("-H,--host", g.host, "Broker host (overrides the config)")
      ->type_name("HOST")
      ->group(kGlobalGroup);
  app.add_option("-p,--port", g.port, "Broker port")
      ->type_name("N")
      ->check(CLI::Range(1, 65535))
      ->group(kGlobalGroup);
  app.add_option("--url", g.url, "mqtt://[user@]host[:port] or mqtts://...")
      ->type_name("URL")
      ->group(kGlobalGroup);
  app.add_option("-u,--username", g.username, "Username")->type_name("U")->group(kGlobalGroup);
  app.add_option("--password-file", g.password_file, "Read the password from a file")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app.add_option("-P,--password", g.password, "Password (prefer --password-file or MQTT_PASSWORD)")
      ->type_name("P")
      ->group(kGlobalGroup);
  app.add_option("-i,--client-id", g.client_id, "Client id (default dtbus-<command>-<host>-<pid>)")
      ->type_name("ID")
      ->group(kGlobalGroup);
  app.add_flag("--tls", g.tls, "Use TLS")->group(kGlobalGroup);
  app.add_option("--cafile", g.cafile, "CA certificates for TLS")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app.add_option("--cert", g.cert, "Client certificate")->type_name("FILE")->group(kGlobalGroup);
  app.add_option("--key", g.key, "Client private key")->type_name("FILE")->group(kGlobalGroup);
  app.add_flag("--insecure", g.insecure, "Do not verify the server certificate")
      ->group(kGlobalGroup);
  app.add_option("--tls-version", g.tls_version, "Only this TLS version (default 1.2 or newer)")
      ->type_name("tlsv1.2|tlsv1.3")
      ->check(CLI::IsMember({"tlsv1.2", "tlsv1.3"}))
      ->group(kGlobalGroup);
  app.add_option("--ciphers", g.ciphers, "TLS ciphers, OpenSSL list (TLS_* = TLS 1.3 suites)")
      ->type_name("LIST")
      ->group(kGlobalGroup);
  app.add_option("--alpn", g.alpn, "TLS ALPN protocol to offer (e.g. mqtt)")
      ->type_name("PROTO")
      ->group(kGlobalGroup);
  app.add_option("--key-password-file", g.key_password_file,
                 "Read the passphrase of an encrypted --key from a file")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app.add_option("--psk", g.psk,
                 "TLS-PSK key in hex (instead of certificates; with --psk-identity)")
      ->type_name("HEX")
      ->group(kGlobalGroup);
  app.add_option("--psk-identity", g.psk_identity, "TLS-PSK identity (the broker's psk_file user)")
      ->type_name("ID")
      ->group(kGlobalGroup);
  app.add_option("--proxy", g.proxy,
                 "Connect through a SOCKS5 proxy: socks5h://[user[:password]@]host[:port]")
      ->type_name("URL")
      ->group(kGlobalGroup);
  app.add_option("-V,--protocol", g.protocol,
                 "MQTT version: 5, 311 (3.1.1) or 31 (3.1) (default 5, then 311 if refused)")
      ->type_name("5|311|31")
      ->check(CLI::IsMember({5, 311, 31}))
      ->group(kGlobalGroup);
  app.add_option("-k,--keepalive", g.keepalive,
                 "Keepalive in seconds, 0 (off) or 5..65535 (default 60)")
      ->type_name("S")
      ->check(CLI::Range(0, 65535))
      ->check(CLI::Validator(
          [](std::string& value) {
            int seconds = std::stoi(value);  // a number: the range check ran first
            return seconds > 0 && seconds < config::kMinKeepalive
                       ? "libmosquitto takes 0 (off) or 5..65535 seconds, not " + value
                       : std::string();
          },
          "", "keepalive"))
      ->group(kGlobalGroup);
  app.add_option("--connect-timeout", g.connect_timeout, "Connect timeout in seconds (default 10)")
      ->type_name("S")
      ->check(CLI::PositiveNumber)
      ->group(kGlobalGroup);
  app.add_option("--retry", g.retry,
                 "Retry a failed first connect N times, backing off (default 0: exit 4 at once)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber)
      ->group(kGlobalGroup);
  app.add_option("--retry-for", g.retry_for,
                 "Keep retrying the first connect this long (30s, 2m, 1h; seconds if bare)")
      ->type_name("DURATION")
      ->group(kGlobalGroup);
  app.add_option("--session-expiry", g.session_expiry,
                 "MQTT 5 session expiry: how long the broker keeps our session once we are gone "
                 "(30s, 2m, 1h, 7d, never)")
      ->type_name("DURATION")
      ->group(kGlobalGroup);
  app.add_option("--will-topic", g.will_topic, "Will message topic (sent if we vanish)")
      ->type_name("TOPIC")
      ->group(kGlobalGroup);
  app.add_option("--will-payload", g.will_payload, "Will message payload (default empty)")
      ->type_name("MSG")
      ->group(kGlobalGroup);
  app.add_option("--will-qos", g.will_qos, "Will message QoS (default 0)")
      ->type_name("Q")
      ->check(CLI::Range(0, 2))
      ->group(kGlobalGroup);
  app.add_flag("--will-retain", g.will_retain, "Retain the will message")->group(kGlobalGroup);
  app.add_flag("--no-prefix", g.no_prefix, "Do not prepend the broker's topic_prefix")
      ->group(kGlobalGroup);
}

// %* in the log pattern: the message with control bytes escaped, as print_error does, since
// warnings carry topics, broker strings and file names from outside.
class EscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = escape_controls(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

void setup_logging(const std::string& command, const GlobalOptions& g) {
  auto mode = g.color_stderr() ? spdlog::color_mode::always : spdlog::color_mode::never;
  auto logger = std::make_shared<spdlog::logger>(
      "dtbus", std::make_shared<spdlog::sinks::stderr_color_sink_mt>(mode));
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('*').set_pattern("dtbus " + command + ": %^%l%$: %*");
  logger->set_formatter(std::move(formatter));
  spdlog::level::level_enum level = spdlog::level::warn;
  if (g.quiet) level = spdlog::level::err;
  if (g.verbosity == 1) level = spdlog::level::info;
  if (g.verbosity == 2) level = spdlog::level::debug;
  if (g.verbosity >= 3) level = spdlog::level::trace;
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

// A repeatable option takes one value per occurrence (`-t a -t b`), so `--where k=v topic` leaves
// `topic` to the positional arguments instead of swallowing it.
void limit_repeatable_options(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    bool named = !option->get_lnames().empty() || !option->get_snames().empty();
    if (named && option->get_expected_max() > 1) option->allow_extra_args(false);
  }
  for (CLI::App* sub : app.get_subcommands({})) limit_repeatable_options(*sub);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Overwrites the -P value in argv (`-P x`, `-Px`, `--password=x`) so ps and /proc/<pid>/cmdline
// show stars, as mysql does: the kernel reads argv's memory as it is now. The parser has copied
// the value already; until this runs the password is visible.
void hide_in_argv(int argc, char** argv, const std::string& secret) {
  if (secret.empty()) return;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    bool value_here = arg == secret || (arg.starts_with('-') && arg.ends_with(secret));
    if (value_here) std::memset(argv[i] + arg.size() - secret.size(), '*', secret.size());
  }
}

// The password part of a --proxy URL in argv (`--proxy URL`, `--proxy=URL`), the same way.
void hide_proxy_password_in_argv(int argc, char** argv, const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at || colon + 1 == at) return;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.ends_with(url)) continue;
    size_t offset = arg.size() - url.size();
    std::memset(argv[i] + offset + colon + 1, '*', at - colon - 1);
  }
}

}  // namespace

bool is_flag(const CLI::Option& option) { return option.get_items_expected_max() == 0; }

// The global options as defined, read off a parser that holds only them: the dispatcher's
// pass-through and help cannot miss a new one.
const std::vector<const CLI::Option*>& global_option_definitions() {
  static CLI::App app;
  static GlobalOptions globals;  // the parser binds to it; never read
  static const std::vector<const CLI::Option*> options = [] {
    add_global_options(app, globals, {});
    std::vector<const CLI::Option*> out;
    for (const CLI::Option* option : app.get_options()) {
      if (option->get_group() == kGlobalGroup) out.push_back(option);
    }
    return out;
  }();
  return options;
}

const std::vector<std::string>& global_options_with_value() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const CLI::Option* option : global_option_definitions()) {
      if (is_flag(*option)) continue;
      for (const auto& s : option->get_snames()) out.push_back("-" + s);
      for (const auto& l : option->get_lnames()) out.push_back("--" + l);
    }
    return out;
  }();
  return names;
}

std::vector<std::string> global_options_synopsis() {
  std::vector<std::string> out;
  for (const CLI::Option* option : global_option_definitions()) {
    const auto& shorts = option->get_snames();
    std::string name = shorts.empty() ? "--" + option->get_lnames().front() : "-" + shorts.front();
    // CLI11 appends its validators' text to the type name ("N:INT in [1 - 65535]").
    if (!is_flag(*option))
      name += " " + option->get_type_name().substr(0, option->get_type_name().find(':'));
    out.push_back(name);
  }
  return out;
}

Command::Command(const std::string& name) : Command(builtin_command(name)) {}

Command::Command(CommandInfo info)
    : name_(std::move(info.name)),
      summary_(std::move(info.summary)),
      output_formats_(std::move(info.formats)),
      app_(summary_, "dtbus-" + name_) {
  app_.set_version_flag("--version", version_text("dtbus-" + name_));
  app_.get_formatter()->column_width(34);
  add_global_options(app_, globals_, output_formats_);
}

std::string Command::output() const {
  if (!globals_.output.empty()) return globals_.output;
  return output_formats_.empty() ? std::string() : output_formats_.front();
}

int Command::run(int argc, char** argv, const std::function<int()>& action) {
  // Writes to a closed pipe must fail with EPIPE (handled quietly), not kill us mid-line.
  std::signal(SIGPIPE, SIG_IGN);
  // Hidden documentation hooks, checked before parsing so required options don't interfere.
  if (argc >= 2 && std::string(argv[1]) == "--dtbus-spec") {
    std::cout << docs::describe(app_).dump(2) << "\n";
    return 0;
  }
  if (argc >= 2 && std::string(argv[1]) == "--dtbus-man") {
    std::string extra = argc >= 3 ? read_file(argv[2]) : std::string();
    std::cout << docs::man_page(app_, "dtbus-" + name_, summary_, extra);
    return 0;
  }
  limit_repeatable_options(app_);
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    dtbus::print_error(name_, std::string(e.what()) + " (see 'dtbus " + name_ + " --help')");
    return static_cast<int>(ExitCode::usage);
  }
  setup_logging(name_, globals_);
  if (globals_.password) {
    hide_in_argv(argc, argv, *globals_.password);
    spdlog::warn(
        "a password on the command line is visible to other users until dtbus hides it, and stays "
        "in the shell history; prefer --password-file or MQTT_PASSWORD");
  }
  // The TLS-PSK key and a proxy password are secrets too (hidden, not warned about: mosquitto_pub
  // takes them the same way, and brokers.yaml with ${VAR} is the documented alternative).
  if (globals_.psk) hide_in_argv(argc, argv, *globals_.psk);
  if (globals_.proxy) hide_proxy_password_in_argv(argc, argv, *globals_.proxy);
  try {
    return action();
  } catch (const Error& e) {
    dtbus::print_error(name_, e.what());
    return e.exit_status();
  } catch (const CLI::ParseError& e) {
    dtbus::print_error(name_, e.what());
    return static_cast<int>(ExitCode::usage);
  } catch (const std::exception& e) {
    dtbus::print_error(name_, e.what());
    return static_cast<int>(ExitCode::runtime);
  }
}

}  // namespace dtbus::cli
