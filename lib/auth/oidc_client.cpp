// SPDX-License-Identifier: Apache-2.0
// The token endpoint: OIDC discovery and the OAuth2 client-credentials grant over libcurl.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "dtbus/auth/jwt.hpp"
#include "dtbus/auth/libcurl.hpp"
#include "dtbus/auth/token.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/version.hpp"

namespace dtbus::token {
namespace {

using nlohmann::json;

// Token responses are small; a huge answer is a misconfigured URL, not a token.
constexpr size_t kMaxResponseBytes = 1 << 20;

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63],
            kAlphabet[n & 63]};
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { libcurl().easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { libcurl().slist_free_all(list); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

struct HttpResponse {
  long status = 0;
  std::string body;
  bool too_large = false;  // the body was cut off at kMaxResponseBytes
};

// Replaces any occurrence of the client secret (a server may echo what it got) with ***.
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

class Request {
 public:
  Request(const config::TokenProviderSettings& provider, std::string url)
      : provider_(provider), url_(std::move(url)) {}

  // Prefix of every message: "token provider 'kc' (https://idp/token)".
  std::string where() const {
    return "token provider '" + provider_.name + "' (" + redact_url(url_) + ")";
  }

  // GET when `form` is null, else POST of the form body. Throws connect (4) for anything that
  // kept an HTTP status from arriving.
  HttpResponse perform(const std::string* form, const HeaderList& headers) {
    const Libcurl& api = libcurl();
    CurlHandle curl(api.easy_init());
    if (!curl) throw Error(ExitCode::runtime, where() + ": cannot create a libcurl handle");
    HttpResponse response;
    char error_buffer[CURL_ERROR_SIZE] = {};
    long timeout_ms = std::lround((provider_.timeout > 0 ? provider_.timeout : 10.0) * 1000.0);
    set(curl, CURLOPT_URL, url_.c_str());
    set(curl, CURLOPT_ERRORBUFFER, error_buffer);
    set(curl, CURLOPT_NOSIGNAL, 1L);  // called from network threads too
    set(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    set(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    // A redirect may carry the form (and so the secret) on: only ever to https.
    set(curl, CURLOPT_FOLLOWLOCATION, 1L);
    set(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    set(curl, CURLOPT_MAXREDIRS, 5L);
    set(curl, CURLOPT_USERAGENT, (std::string("dtbus/") + dtbus::version).c_str());
    if (!provider_.ca_certs.empty()) set(curl, CURLOPT_CAINFO, provider_.ca_certs.c_str());
    // A declared Content-Length over the limit fails before the body is read.
    set(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxResponseBytes));
    set(curl, CURLOPT_WRITEFUNCTION, &Request::collect);
    set(curl, CURLOPT_WRITEDATA, &response);
    // SIGINT/SIGTERM (when the command handles them) ends a slow request within a second.
    set(curl, CURLOPT_NOPROGRESS, 0L);
    set(curl, CURLOPT_XFERINFOFUNCTION, &Request::progress);
    if (headers) set(curl, CURLOPT_HTTPHEADER, headers.get());
    if (form) {
      set(curl, CURLOPT_POSTFIELDS, form->c_str());
      set(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form->size()));
    }
    spdlog::debug("{}: {} request", where(), form ? "POST" : "GET");
    CURLcode rc = api.easy_perform(curl.get());
    if (rc != CURLE_OK) throw transfer_error(rc, error_buffer, response.too_large);
    CURLcode info = api.easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    if (info != CURLE_OK) {
      throw Error(ExitCode::runtime, where() + ": no HTTP status: " + api.easy_strerror(info));
    }
    spdlog::debug("{}: HTTP {} ({} bytes)", where(), response.status, response.body.size());
    return response;
  }

  // Parses a 2xx JSON object answer or throws per the SPEC's exit codes.
  json json_answer(const HttpResponse& response, const char* what) const {
    json body = json::parse(response.body, nullptr, false);
    if (response.status >= 200 && response.status < 300) {
      if (body.is_discarded() || !body.is_object()) {
        throw Error(ExitCode::runtime, where() + ": the " + what + " is not a JSON object (HTTP " +
                                           std::to_string(response.status) + ", " +
                                           std::to_string(response.body.size()) + " bytes)");
      }
      return body;
    }
    std::string status = "HTTP " + std::to_string(response.status);
    if (response.status >= 500) {
      throw Error(ExitCode::connect, where() + ": server error (" + status + ")");
    }
    if (response.status >= 400) {
      std::string detail = status;
      if (body.is_object()) {
        std::string error = body.value("error", std::string());
        std::string description = body.value("error_description", std::string());
        if (!description.empty()) detail = description + " (" + status + ")";
        if (!error.empty()) detail = error + ": " + detail;
      }
      throw Error(ExitCode::auth, where() + ": refused: " + scrub(detail, provider_.client_secret));
    }
    throw Error(ExitCode::runtime, where() + ": unexpected " + status);
  }

 private:
  template <typename T>
  void set(const CurlHandle& curl, CURLoption option, T value) {
    CURLcode rc = libcurl().easy_setopt(curl.get(), option, value);
    if (rc != CURLE_OK) {
      throw Error(ExitCode::runtime, where() + ": libcurl option " + std::to_string(option) +
                                         " rejected: " + libcurl().easy_strerror(rc));
    }
  }

  static size_t collect(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    size_t bytes = size * count;
    if (response->body.size() + bytes > kMaxResponseBytes) {
      response->too_large = true;
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    response->body.append(data, bytes);
    return bytes;
  }

  static int progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return interrupt::interrupted() ? 1 : 0;  // nonzero aborts with CURLE_ABORTED_BY_CALLBACK
  }

  Error transfer_error(CURLcode rc, const char* detail, bool too_large) const {
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
      return Error(ExitCode::interrupted, where() + ": interrupted while waiting for the answer");
    }
    if ((rc == CURLE_WRITE_ERROR && too_large) || rc == CURLE_FILESIZE_EXCEEDED) {
      return Error(ExitCode::connect,
                   where() + ": response too large (over 1 MiB); is this the token endpoint?");
    }
    std::string text = *detail != '\0' ? std::string(detail) : libcurl().easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Error(ExitCode::connect, where() + ": no answer within " +
                                          fmt::format("{:g}", provider_.timeout) + " s (timeout)");
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_TOO_MANY_REDIRECTS) {
      text += " (redirects are followed to https only)";
    }
    return Error(ExitCode::connect, where() + ": " + scrub(text, provider_.client_secret));
  }

  const config::TokenProviderSettings& provider_;
  std::string url_;
};

std::string discover_endpoint(const config::TokenProviderSettings& provider) {
  std::string base = provider.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  // A long-running command renews its token many times: discover once per process.
  static std::mutex mutex;
  static std::map<std::string, std::string> discovered;
  {
    std::lock_guard lock(mutex);
    if (auto known = discovered.find(base); known != discovered.end()) return known->second;
  }
  Request request(provider, base + "/.well-known/openid-configuration");
  HttpResponse response = request.perform(nullptr, nullptr);
  if (response.status >= 400 && response.status < 500) {
    throw Error(ExitCode::config, request.where() + ": no discovery document (HTTP " +
                                      std::to_string(response.status) +
                                      "); check base_url or set token_url");
  }
  json document = request.json_answer(response, "discovery document");
  auto endpoint = document.find("token_endpoint");
  if (endpoint == document.end() || !endpoint->is_string() ||
      endpoint->get<std::string>().empty()) {
    throw Error(ExitCode::runtime,
                request.where() + ": the discovery document has no token_endpoint");
  }
  spdlog::debug("token provider '{}': token endpoint {}", provider.name,
                redact_url(endpoint->get<std::string>()));
  std::lock_guard lock(mutex);
  discovered[base] = endpoint->get<std::string>();
  return endpoint->get<std::string>();
}

void check_provider(const config::TokenProviderSettings& provider) {
  std::string name = "token provider '" + provider.name + "'";
  if (provider.token_url.empty() && provider.base_url.empty()) {
    throw Error(ExitCode::config, name + ": neither token_url nor base_url is set");
  }
  if (provider.client_id.empty()) throw Error(ExitCode::config, name + ": client_id is empty");
  if (provider.auth_method != "client_secret_basic" &&
      provider.auth_method != "client_secret_post") {
    throw Error(ExitCode::config,
                name + ": auth_method must be client_secret_basic or client_secret_post");
  }
  if (!provider.ca_certs.empty() && access(provider.ca_certs.c_str(), R_OK) != 0) {
    throw Error(ExitCode::config, name + ": ca_certs " + provider.ca_certs + " is not readable");
  }
}

}  // namespace

std::string form_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return out;
}

std::string basic_authorization(std::string_view client_id, std::string_view client_secret) {
  return "Basic " + base64_encode(form_encode(client_id) + ":" + form_encode(client_secret));
}

// Longer lifetimes are taken as this (the clock overflows near 292 years).
constexpr double kLongestLifetimeSeconds = 10.0 * 365 * 24 * 3600;

std::optional<TimePoint> response_expiry(const json& response, TimePoint now) {
  auto expires_in = response.find("expires_in");
  if (expires_in != response.end()) {
    std::optional<double> seconds;
    if (expires_in->is_number()) seconds = expires_in->get<double>();
    if (expires_in->is_string()) {
      try {
        size_t used = 0;
        const auto& text = expires_in->get_ref<const std::string&>();
        double value = std::stod(text, &used);
        if (used == text.size()) seconds = value;
      } catch (const std::exception&) {
        // not numeric: fall through to the JWT exp
      }
    }
    if (seconds && std::isfinite(*seconds) && *seconds >= 0) {
      // A lifetime beyond the clock's range (1e300) would overflow it: ten years is "long".
      seconds = std::min(*seconds, kLongestLifetimeSeconds);
      return now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       std::chrono::duration<double>(*seconds));
    }
  }
  auto token = response.find("access_token");
  if (token != response.end() && token->is_string()) return jwt::expiry(token->get<std::string>());
  return std::nullopt;
}

std::string redact_url(const std::string& url) {
  auto scheme = url.find("://");
  size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  auto end = url.find_first_of("/?#", authority);
  auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < authority) return url;
  return url.substr(0, authority) + url.substr(at + 1);
}

Token fetch(const config::TokenProviderSettings& provider) {
  check_provider(provider);
  std::string endpoint =
      provider.token_url.empty() ? discover_endpoint(provider) : provider.token_url;
  Request request(provider, endpoint);

  std::string form = "grant_type=client_credentials";
  if (!provider.scope.empty()) form += "&scope=" + form_encode(provider.scope);
  if (!provider.audience.empty()) form += "&audience=" + form_encode(provider.audience);
  const Libcurl& api = libcurl();
  curl_slist* raw = api.slist_append(nullptr, "Accept: application/json");
  HeaderList headers(raw);
  if (provider.auth_method == "client_secret_post") {
    form += "&client_id=" + form_encode(provider.client_id) +
            "&client_secret=" + form_encode(provider.client_secret);
  } else if (raw) {
    std::string header =
        "Authorization: " + basic_authorization(provider.client_id, provider.client_secret);
    if (!api.slist_append(raw, header.c_str())) raw = nullptr;
  }
  if (!raw) throw Error(ExitCode::runtime, request.where() + ": out of memory");

  auto now = std::chrono::system_clock::now();
  json answer = request.json_answer(request.perform(&form, headers), "token response");
  auto access_token = answer.find("access_token");
  if (access_token == answer.end() || !access_token->is_string() ||
      access_token->get<std::string>().empty()) {
    std::string error = answer.value("error", std::string());
    throw Error(
        ExitCode::runtime,
        request.where() + ": the answer has no access_token" +
            (error.empty() ? "" : " (error: " + scrub(error, provider.client_secret) + ")"));
  }
  Token token;
  token.access_token = access_token->get<std::string>();
  if (auto type = answer.find("token_type"); type != answer.end() && type->is_string()) {
    token.token_type = type->get<std::string>();
  }
  token.scope = provider.scope;
  if (auto scope = answer.find("scope"); scope != answer.end() && scope->is_string()) {
    token.scope = scope->get<std::string>();
  }
  token.expires_at = response_expiry(answer, now);
  spdlog::info(
      "token provider '{}': got a token{}", provider.name,
      token.expires_at
          ? fmt::format(
                " valid for {} s",
                std::chrono::duration_cast<std::chrono::seconds>(*token.expires_at - now).count())
          : " without a known expiry (not cached)");
  return token;
}

}  // namespace dtbus::token
