// SPDX-License-Identifier: Apache-2.0
// The keys of brokers.yaml (SPEC §3), one table per mapping: which keys the loader accepts and how
// it reads each value, the order and masking of `dtbus config show`, and the key list of
// dtbus-brokers.yaml(5).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtbus/config/config.hpp"
#include "dtbus/core/proxy_url.hpp"

namespace dtbus::config::schema {

enum class Kind {
  string,
  path,            // ~ expanded, relative to the file's directory
  url,             // http:// or https://
  boolean,         // true/false, yes/no, on/off
  integer,         // within min..max
  number,          // > 0
  number_or_zero,  // >= 0
  choice,          // one of `choices`
  proxy,           // a SOCKS5 proxy URL (core/proxy_url.hpp); its password masked when shown
  mapping,         // a nested mapping, read by the loader itself
};

struct KeyInfo {
  std::string_view name;
  Kind kind = Kind::string;
  std::string_view arg;   // man page argument (HOST, SECONDS); choices and mappings need none
  bool optional = false;  // no default: unset is null in `config show`
  bool secret = false;    // never printed: masked by `config show`, not quoted in messages
  long long min = 0;      // integer range
  long long max = 0;
  std::vector<std::string> choices;
  std::string_view computed_default;  // documented default the field's initial value cannot show
  std::string_view description;       // one line
};

// The field a key is read into; monostate for keys the loader reads itself (mappings, `type`).
template <class T>
using Member = std::variant<std::monostate, std::string T::*, std::optional<std::string> T::*,
                            bool T::*, int T::*, std::optional<int> T::*, double T::*>;

template <class T>
struct Key {
  KeyInfo info;
  Member<T> member;
};

template <class T>
struct Section {
  std::string_view path;     // field path, with <name> for an entry's name: brokers.<name>.config
  std::string_view heading;  // its man page heading line; empty when nested under its parent key
  std::vector<Key<T>> keys;

  const Key<T>* find(std::string_view name) const {
    for (const auto& key : keys) {
      if (key.info.name == name) return &key;
    }
    return nullptr;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& key : keys) out.emplace_back(key.info.name);
    return out;
  }
};

const Section<Config>& document();                       // the top level
const Section<BrokerSettings>& broker();                 // brokers.<name>
const Section<BrokerSettings>& broker_config();          // brokers.<name>.config
const Section<envelope::Source>& source();               // brokers.<name>.source
const Section<DlqSettings>& dlq();                       // brokers.<name>.dlq
const Section<WillConfig>& will();                       // brokers.<name>.will
const Section<TokenProviderSettings>& token_provider();  // token_providers.<name>

// A value as `config show` prints it: secrets masked, unset optional keys null.
inline nlohmann::ordered_json shown(const KeyInfo& key, const std::string& value) {
  if (value.empty() && key.optional) return nullptr;
  if (key.kind == Kind::proxy) return mask_proxy_url(value);
  return key.secret ? "***" : value;
}
inline nlohmann::ordered_json shown(const KeyInfo&, const std::optional<std::string>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}
inline nlohmann::ordered_json shown(const KeyInfo&, const std::optional<int>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}
template <class V>
nlohmann::ordered_json shown(const KeyInfo&, V value) {
  return value;
}

// The section's keys that have a field, in table order, as `config show` prints them.
template <class T>
nlohmann::ordered_json shown(const Section<T>& section, const T& settings) {
  auto out = nlohmann::ordered_json::object();
  for (const auto& key : section.keys) {
    std::visit(
        [&](auto member) {
          if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
            out[std::string(key.info.name)] = shown(key.info, settings.*member);
          }
        },
        key.member);
  }
  return out;
}

// The key list as roff for dtbus-brokers.yaml(5): each section's heading, then a .TP paragraph
// per key; a section without a heading is nested (.RS/.RE) under its parent key.
std::string key_list_roff();

}  // namespace dtbus::config::schema
