// SPDX-License-Identifier: Apache-2.0
// Envelope validation (lib/core/envelope.cpp) on an untrusted MQTT payload, as
// `sub --validate` runs it on the network thread, and wrapping it as `pub --envelope` does:
// what wrap() builds must pass validate().
#include <string>

#include "dtbus/core/envelope.hpp"
#include "dtbus/replay/replay.hpp"
#include "dtbus/util/time.hpp"
#include "fuzz_util.hpp"

namespace {

using dtbus::fuzz::check;
namespace envelope = dtbus::envelope;

void check_wrapped(const envelope::Json& payload) {
  envelope::Options tracker;
  tracker.kind = envelope::Kind::tracker;
  tracker.event_kind = "fuzz_event";
  check(envelope::validate(envelope::Kind::tracker, envelope::wrap(tracker, payload)).empty(),
        "a tracker envelope built by wrap() is valid");

  envelope::Options dt;
  dt.kind = envelope::Kind::dt;
  dt.event_type = "FuzzEvent";
  dt.source = {"fuzz", "1.0", "fuzzer"};
  check(envelope::validate(envelope::Kind::dt, envelope::wrap(dt, payload)).empty(),
        "a dt envelope built by wrap() is valid");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = dtbus::fuzz::as_text(data, size);
  envelope::Json payload = envelope::Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!payload.is_discarded()) {
    for (auto kind : {envelope::Kind::none, envelope::Kind::tracker, envelope::Kind::dt}) {
      auto errors = envelope::validate(kind, payload);
      if (kind == envelope::Kind::none) check(errors.empty(), "kind none accepts anything");
    }
    auto kind = envelope::event_kind(payload);
    check(kind == envelope::event_kind(nlohmann::json(payload)),
          "event_kind: same for both JSON types");
    check_wrapped(payload);
  }

  // The date-time check must agree with the strict time parser of replay (lib/replay/time.cpp),
  // within the years that parser can represent.
  if (envelope::is_iso8601(bytes)) {
    int year = std::stoi(std::string(bytes.substr(0, 4)));
    check(year < 1700 || year > 2250 || dtbus::util::parse_time(bytes).has_value(),
          "an ISO 8601 date-time is a time");
  }
  if (envelope::is_uuid(bytes)) check(bytes.size() == 36, "a UUID has 36 characters");
  return 0;
}
