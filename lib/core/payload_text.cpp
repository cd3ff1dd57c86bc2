// SPDX-License-Identifier: Apache-2.0
#include "dtbus/core/payload_text.hpp"

#include "dtbus/core/record.hpp"
#include "dtbus/util/json.hpp"

namespace dtbus::payload_text {

Rendered render(std::string_view payload, int indent) {
  record::Json value = util::parse_json(payload);
  if (!value.is_discarded() && (value.is_object() || value.is_array())) {
    return {Kind::json, value.dump(indent, ' ', false, record::Json::error_handler_t::replace)};
  }
  if (record::classify_payload(payload) == record::PayloadEncoding::base64)
    return {Kind::binary, {}};
  return {Kind::text, std::string(payload)};
}

}  // namespace dtbus::payload_text
