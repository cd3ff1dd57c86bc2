// SPDX-License-Identifier: Apache-2.0
// MQTT topic/filter validation and matching (lib/mqtt/topic.cpp). The input is split into a
// filter and a topic name. Besides not crashing, matching must follow MQTT: a valid topic
// matches itself, "#" (unless it starts with '$') and itself with any level replaced by "+".
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "fuzz_util.hpp"

namespace {

using dtbus::fuzz::check;
namespace topic = dtbus::topic;

bool throws_error(void (*require)(std::string_view), std::string_view text) {
  try {
    require(text);
    return false;
  } catch (const dtbus::Error&) {
    return true;
  }
}

void check_valid_topic(const std::string& name) {
  if (name.starts_with("$share/")) return;  // a filter with that prefix means a shared subscription
  check(!topic::filter_problem(name), "a valid topic is a valid filter");
  check(topic::matches(name, name), "a topic matches itself");
  check(topic::matches("#", name) == !name.starts_with('$'), "'#' matches all but $-topics");
  check(topic::matches("$share/group/" + name, name), "a shared filter matches like its filter");
  // Each level in turn replaced by '+'.
  size_t start = 0;
  for (int level = 0; level < 8; ++level) {
    size_t end = name.find('/', start);
    std::string filter =
        name.substr(0, start) + "+" + (end == std::string::npos ? "" : name.substr(end));
    bool dollar_first = level == 0 && name.starts_with('$');
    check(topic::matches(filter, name) == !dollar_first, "'+' matches one level");
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  std::string filter = input.ConsumeRandomLengthString(size);
  std::string name = input.ConsumeRemainingBytesAsString();

  auto filter_problem = topic::filter_problem(filter);
  auto name_problem = topic::publish_topic_problem(name);
  check(throws_error(topic::require_filter, filter) == filter_problem.has_value(),
        "require_filter throws exactly when filter_problem reports");
  check(throws_error(topic::require_publish_topic, name) == name_problem.has_value(),
        "require_publish_topic throws exactly when publish_topic_problem reports");

  // sub and replay --topic match only validated filters, but against any recorded topic.
  if (!filter_problem) (void)topic::matches(filter, name);
  (void)topic::valid_utf8(name);
  if (!name_problem) check_valid_topic(name);
  return 0;
}
