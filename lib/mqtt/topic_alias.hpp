// SPDX-License-Identifier: Apache-2.0
// The topic aliases of one network connection (MQTT 5 §3.3.2.3.4), for pub --topic-alias: the
// first `maximum` topics get aliases 1..maximum; a topic's first message carries the topic and
// its alias, later ones the alias only. The broker forgets them with the connection, so reset()
// runs at every CONNACK (with its Topic Alias Maximum) and at every loss (with 0).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dtbus::mqtt {

class TopicAliases {
 public:
  struct Use {
    uint16_t alias = 0;  // 0: none (not allowed, or every alias is taken)
    bool known = false;  // the broker has the topic for it: send the alias only
  };

  void reset(uint16_t maximum) {
    maximum_ = maximum;
    next_ = 1;
    free_.clear();
    aliases_.clear();
  }
  uint16_t maximum() const { return maximum_; }

  Use use(const std::string& topic) {
    if (auto it = aliases_.find(topic); it != aliases_.end()) return {it->second, true};
    uint16_t alias = 0;
    if (!free_.empty()) {
      alias = free_.back();
      free_.pop_back();
    } else if (next_ <= maximum_) {
      alias = static_cast<uint16_t>(next_++);
    } else {
      return {};
    }
    aliases_.emplace(topic, alias);
    return {alias, false};
  }

  // The message that was to introduce `topic` was not sent after all.
  void forget(const std::string& topic) {
    auto it = aliases_.find(topic);
    if (it == aliases_.end()) return;
    free_.push_back(it->second);
    aliases_.erase(it);
  }

 private:
  uint16_t maximum_ = 0;
  uint32_t next_ = 1;           // the lowest alias never handed out
  std::vector<uint16_t> free_;  // handed out, then forgotten
  std::unordered_map<std::string, uint16_t> aliases_;
};

}  // namespace dtbus::mqtt
