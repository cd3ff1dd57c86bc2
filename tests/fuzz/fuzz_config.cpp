// SPDX-License-Identifier: Apache-2.0
// brokers.yaml loader (lib/config/loader.cpp) and ${VAR} expansion (lib/config/env_expand.cpp):
// the input is the file's content, the environment a fixed small map. Loading reports every
// problem as a diagnostic: it must never throw anything but dtbus::Error, nor crash.
#include <map>
#include <optional>
#include <string>

#include "dtbus/config/config.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "fuzz_util.hpp"

namespace {

using dtbus::fuzz::check;
namespace config = dtbus::config;

std::optional<std::string> env(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> variables = {
      {"HOME", "/home/fuzz"}, {"MQTT_HOST", "broker.example"}, {"MQTT_PORT", "8883"},
      {"EMPTY", ""},          {"XDG_STATE_HOME", "/state"},    {"SECRET", "s3cr3t"},
      {"TLS", "true"},        {"NESTED", "${MQTT_HOST}"},      {"DOLLAR", "$$"}};
  auto it = variables.find(name);
  if (it == variables.end()) return std::nullopt;
  return it->second;
}

// What callers rely on when the load reported no error.
void check_loaded(const config::LoadResult& result) {
  const config::Config& c = result.config;
  check(c.broker_order.size() == c.brokers.size(), "broker_order lists each broker once");
  for (const auto& name : c.broker_order) check(c.brokers.contains(name), "ordered broker exists");
  if (!result.ok()) return;
  if (!c.default_broker.empty()) {
    check(c.brokers.contains(c.default_broker), "default_broker names a broker");
  }
  for (const auto& [name, broker] : c.brokers) {
    check(broker.port >= 1 && broker.port <= 65535, "port in range");
    check(broker.protocol == 5 || broker.protocol == 311, "protocol 5 or 311");
    check(broker.token_provider.empty() || c.token_providers.contains(broker.token_provider),
          "token_provider names a provider");
    if (broker.dlq)
      check(!dtbus::topic::filter_problem(broker.dlq->topic), "dlq topic is a filter");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = dtbus::fuzz::as_text(data, size);
  config::LoadOptions options;
  options.env = env;
  try {
    config::LoadResult result = config::load_string(text, "brokers.yaml", options);
    for (const auto& diagnostic : result.diagnostics) (void)diagnostic.format();
    check_loaded(result);
  } catch (const dtbus::Error&) {
    // The front-end prints it with its exit code.
  }

  config::Expansion expansion = config::expand_env(text, env);
  check(!expansion.error || expansion.value.empty(), "a failed expansion has no value");
  return 0;
}
