// SPDX-License-Identifier: Apache-2.0
// How a payload reads to a person, shared by `sub`'s text lines and `top`'s previews: JSON
// objects and arrays re-serialised (one line, or indented), other UTF-8 text as it is, and a
// verdict "binary" for the rest, which each caller shows its own way (sub: base64, top: hex).
#pragma once

#include <string>
#include <string_view>

#include "dtbus/util/export.hpp"

DTBUS_PUBLIC_BEGIN

namespace dtbus::payload_text {

enum class Kind { json, text, binary };

struct Rendered {
  Kind kind;
  std::string text;  // json: the value serialised; text: the payload; binary: empty
};

// `indent` < 0: JSON on one line; otherwise indented by that many spaces per level.
Rendered render(std::string_view payload, int indent = -1);

}  // namespace dtbus::payload_text

DTBUS_PUBLIC_END
