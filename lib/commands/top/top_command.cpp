// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/top/top_command.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "dtbus/commands/top/frame.hpp"
#include "dtbus/commands/top/model.hpp"
#include "dtbus/commands/top/screen.hpp"
#include "dtbus/core/envelope.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/json.hpp"

namespace dtbus::commands::top {
namespace {

// The screen is redrawn at most this often, however fast messages come; the numbers are
// refreshed at the same pace (unless paused).
constexpr auto kFrameInterval = std::chrono::milliseconds(100);
constexpr const char* kSysFilter = "$SYS/broker/#";

std::atomic<int> g_signal{0};

extern "C" void on_signal(int number) { g_signal = number; }

// SIGINT and SIGTERM end the view like q (exit 0), after the terminal is restored.
void catch_signals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

int run(const Invocation& invocation, const Options& o) {
  const GlobalOptions& globals = invocation.globals;
  std::vector<std::string> filters = o.filters.empty() ? std::vector<std::string>{"#"} : o.filters;
  // A full-screen view needs a terminal to draw on and to read keys from.
  if (::isatty(STDOUT_FILENO) == 0 || ::isatty(STDIN_FILENO) == 0) {
    std::string quoted;
    for (const auto& f : filters) quoted += " " + shell_quote(f);
    throw Error(ExitCode::usage,
                std::string(::isatty(STDOUT_FILENO) == 0 ? "stdout" : "stdin") +
                    " is not a terminal: top is a full-screen view; to print the messages "
                    "instead, use `dtbus sub" +
                    quoted + "`");
  }
  if (o.history == 0) throw Error(ExitCode::usage, "--history must be at least 1");
  if (o.max_topics == 0) throw Error(ExitCode::usage, "--max-topics must be at least 1");
  envelope::Kind validate = envelope::Kind::none;
  if (!o.validate.empty()) {
    validate = envelope::parse_kind(o.validate);
    if (validate == envelope::Kind::none)
      throw Error(ExitCode::usage, "--validate must be tracker or dt");
  }
  require_capable_terminal();

  target::Target target = target::resolve(globals, "top");
  std::vector<mqtt::Subscription> subscriptions;
  std::vector<std::string> full_filters;
  for (const auto& filter : filters) {
    std::string full = target.connection.prefixed(filter);
    topic::require_filter(full);
    full_filters.push_back(full);
    // QoS 2 and (MQTT 5) retain as published: the QR column shows how each message was published.
    subscriptions.push_back({full, 2, false, true, 0});
  }
  bool sys_in_tree = std::any_of(full_filters.begin(), full_filters.end(),
                                 [](const std::string& f) { return f.rfind("$SYS", 0) == 0; });

  Limits limits;
  limits.history = o.history;
  limits.max_topics = o.max_topics;
  Model model(limits);
  std::mutex mutex;
  std::atomic<bool> connected{false};

  mqtt::Handlers handlers;
  handlers.on_message = [&](const ReceivedMessage& m) {
    auto now = SteadyClock::now();
    auto received = SystemClock::now();
    bool sys = m.topic.rfind("$SYS/", 0) == 0;
    bool to_tree = !sys || (sys_in_tree && std::any_of(full_filters.begin(), full_filters.end(),
                                                       [&](const std::string& f) {
                                                         return topic::matches(f, m.topic);
                                                       }));
    std::vector<std::string> errors;
    if (to_tree && validate != envelope::Kind::none)
      errors = envelope::validate_payload(validate, m.payload, util::parse_json(m.payload));
    std::lock_guard lock(mutex);
    if (sys) model.sys().add(m.topic, m.payload);
    if (to_tree) model.add(m, now, received, validate != envelope::Kind::none, std::move(errors));
  };
  handlers.on_connect = [&](bool, bool) { connected = true; };
  handlers.on_connection_lost = [&](const std::string&) { connected = false; };

  mqtt::Connection connection(target.connection, std::move(handlers));
  connection.connect();
  connected = true;
  connection.subscribe(subscriptions);
  if (!sys_in_tree) {
    try {
      connection.subscribe({{kSysFilter, 0, false, false, 0}});
    } catch (const Error&) {
      // A broker without $SYS, or one that refuses it: no summary line.
    }
  }

  FrameContext context;
  context.where = target.connection.describe();
  context.filters = joined(filters);
  ViewState state;
  {
    Screen screen(globals.color_stdout());
    catch_signals();
    auto last_frame = SteadyClock::now() - kFrameInterval;
    bool dirty = true;
    while (g_signal == 0) {
      auto now = SteadyClock::now();
      auto next_frame = last_frame + kFrameInterval;
      // Due: a key changed the view, or the numbers are to be refreshed (not while paused).
      if ((dirty || !state.paused) && now >= next_frame) {
        context.width = screen.width();
        context.height = screen.height();
        context.connected = connected;
        std::vector<Line> lines;
        {
          std::lock_guard lock(mutex);
          context.command_line.clear();
          if (state.show_command) {
            std::string topic = selected_topic(model, state, now);
            if (!topic.empty()) context.command_line = sub_command_line(globals, topic);
          }
          lines = compose(model, state, context, now);
        }
        screen.draw(lines);
        last_frame = now;
        dirty = false;
        next_frame = now + kFrameInterval;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_frame - now);
      if (state.paused && !dirty) wait = kFrameInterval;
      char text = 0;
      Key key = screen.read_key(std::clamp(wait, std::chrono::milliseconds(1), kFrameInterval),
                                state.editing_filter, text);
      if (key == Key::none) continue;
      dirty = true;
      if (key == Key::resize) continue;
      std::lock_guard lock(mutex);
      if (apply_key(key, text, model, state, SteadyClock::now())) break;
    }
  }
  connection.disconnect();
  return 0;
}

}  // namespace dtbus::commands::top
