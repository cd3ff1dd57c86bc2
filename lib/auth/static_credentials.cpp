// SPDX-License-Identifier: Apache-2.0
#include "dtbus/auth/credentials.hpp"

namespace dtbus::auth {
namespace {

class StaticCredentials : public CredentialSource {
 public:
  StaticCredentials(std::string username, std::string password)
      : credentials_{std::move(username), std::move(password), std::nullopt} {}
  Credentials current() override { return credentials_; }

 private:
  Credentials credentials_;
};

}  // namespace

std::shared_ptr<CredentialSource> static_credentials(std::string username, std::string password) {
  return std::make_shared<StaticCredentials>(std::move(username), std::move(password));
}

}  // namespace dtbus::auth
