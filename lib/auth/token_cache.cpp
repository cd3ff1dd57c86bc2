// SPDX-License-Identifier: Apache-2.0
// The token cache shared between dtbus processes (SPEC §4 `dtbus token`).
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "dtbus/auth/token.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/util/interrupt.hpp"

namespace dtbus::token {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What identifies a cached token; never the secret.
json key_material(const config::TokenProviderSettings& provider) {
  return {{"endpoint", provider.token_url.empty() ? provider.base_url : provider.token_url},
          {"client_id", provider.client_id},
          {"scope", provider.scope},
          {"audience", provider.audience}};
}

double to_epoch(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// Seconds since the epoch the clock can hold (about ±292 years at nanoseconds; kept well inside).
constexpr double kMaxEpochSeconds = 1e10;

TimePoint from_epoch(double seconds) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds)));
}

void make_private_dir(const fs::path& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw Error(ExitCode::runtime, "cannot create " + dir.string() + ": " + std::strerror(errno));
  }
}

// A symbolic link where the cache keeps its directories or files points the tokens somewhere
// else (another user's directory, a shared folder): never followed, removed with one warning.
// True when `path` was one.
bool remove_symlink(const fs::path& path, const char* what) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) return false;
  std::error_code ignored;
  fs::path target = fs::read_symlink(path, ignored);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(ExitCode::runtime,
                std::string("token cache ") + what + " " + path.string() +
                    " is a symbolic link and cannot be removed: " + std::strerror(errno));
  }
  spdlog::warn("token cache {} {} was a symbolic link (to {}); replaced by a private {}", what,
               path.string(), target.string(), what);
  return true;
}

// The cache directory, 0700 and not a symbolic link. With `create` false a missing directory is
// left missing; returns whether it exists.
bool repair_dir(const fs::path& dir, bool create) {
  bool replaced = remove_symlink(dir.parent_path(), "directory");
  replaced = remove_symlink(dir, "directory") || replaced;
  struct stat info {};
  if (!create && !replaced && lstat(dir.c_str(), &info) != 0 && errno == ENOENT) return false;
  if (create || replaced) {
    std::error_code ignored;  // a failure shows up in the mkdir below
    fs::create_directories(dir.parent_path().parent_path(), ignored);
    make_private_dir(dir.parent_path());
    make_private_dir(dir);
  }
  if (lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw Error(ExitCode::runtime, "token cache " + dir.string() + " is not a directory");
  }
  if ((info.st_mode & 07777) != 0700) {
    // Someone (or an older tool) loosened it: the directory holds secrets.
    if (chmod(dir.c_str(), 0700) != 0) {
      throw Error(ExitCode::runtime,
                  "cannot restrict " + dir.string() + " to 0700: " + std::strerror(errno));
    }
    spdlog::info("token cache {}: permissions restricted to 0700", dir.string());
  }
  return true;
}

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string cache_key(const config::TokenProviderSettings& provider) {
  // FNV-1a 64 names the file; collisions are harmless because load() compares the stored key.
  std::string material = key_material(provider).dump();
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : material) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

fs::path cache_dir(const config::EnvLookup& env) {
  fs::path base;
  if (auto xdg = env("XDG_CACHE_HOME"); xdg && !xdg->empty() && (*xdg)[0] == '/') {
    base = *xdg;
  } else {
    std::string home = env("HOME").value_or("");
    if (home.empty()) {
      if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr)
        home = pw->pw_dir;
    }
    if (home.empty())
      throw Error(ExitCode::runtime,
                  "cannot locate the token cache: neither XDG_CACHE_HOME nor HOME is set");
    base = fs::path(home) / ".cache";
  }
  return base / "dtbus" / "tokens";
}

bool usable(const Token& token, double margin_seconds, TimePoint now) {
  if (!token.expires_at) return false;
  auto margin = std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::duration<double>(margin_seconds));
  return now + margin < *token.expires_at;
}

Cache::Cache(fs::path dir) : dir_(std::move(dir)) {}

fs::path Cache::file_for(const config::TokenProviderSettings& provider) const {
  return dir_ / (cache_key(provider) + ".json");
}

void Cache::ensure_dir() const { repair_dir(dir_, true); }

std::optional<Token> Cache::load(const config::TokenProviderSettings& provider) const {
  // A reused token gets the same private directory as a fetched one.
  if (!repair_dir(dir_, false)) return std::nullopt;
  fs::path file = file_for(provider);
  if (remove_symlink(file, "file")) return std::nullopt;
  int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) spdlog::warn("token cache {}: {}", file.string(), std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  struct stat info {};
  bool ok = fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  if (ok && (info.st_mode & 077) != 0) {
    // Someone (or an older tool) loosened it: a token is a secret, tighten before reading.
    if (fchmod(fd, 0600) != 0) {
      spdlog::warn("token cache {} is readable by others and cannot be restricted: {}",
                   file.string(), std::strerror(errno));
      ok = false;
    } else {
      spdlog::info("token cache {}: permissions restricted to 0600", file.string());
    }
  }
  char buffer[4096];
  for (ssize_t n; ok && (n = read(fd, buffer, sizeof(buffer))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      ok = false;
    else
      text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (!ok) return std::nullopt;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() ||
      doc.value("key", json()) != key_material(provider) || !doc.contains("access_token") ||
      !doc["access_token"].is_string() || !doc.contains("expires_at") ||
      !doc["expires_at"].is_number() ||
      !(std::fabs(doc["expires_at"].get<double>()) < kMaxEpochSeconds)) {
    spdlog::debug("token cache {}: not a usable entry, ignored", file.string());
    return std::nullopt;
  }
  Token token;
  token.access_token = doc["access_token"].get<std::string>();
  token.token_type = doc.value("token_type", std::string("Bearer"));
  token.scope = doc.value("scope", std::string());
  token.expires_at = from_epoch(doc["expires_at"].get<double>());
  return token;
}

void Cache::store(const config::TokenProviderSettings& provider, const Token& token) const {
  if (!token.expires_at) return;  // unknown lifetime: never reused, so never written
  ensure_dir();
  json doc = {{"key", key_material(provider)},
              {"access_token", token.access_token},
              {"token_type", token.token_type},
              {"scope", token.scope},
              {"expires_at", to_epoch(*token.expires_at)}};
  std::string text = doc.dump() + "\n";
  fs::path file = file_for(provider);
  // Temp file in the same directory (same filesystem, so rename is atomic); mkstemp makes it 0600.
  std::string temp = (dir_ / ("." + file.filename().string() + ".XXXXXX")).string();
  int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0)
    throw Error(ExitCode::runtime,
                "cannot write the token cache in " + dir_.string() + ": " + std::strerror(errno));
  bool ok = fchmod(fd, 0600) == 0 && write_all(fd, text) && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(temp.c_str(), file.c_str()) != 0) {
    int saved = errno;
    unlink(temp.c_str());
    throw Error(ExitCode::runtime,
                "cannot write the token cache " + file.string() + ": " + std::strerror(saved));
  }
  // Make the rename itself durable.
  if (int dir_fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  spdlog::debug("token cache {}: stored", file.string());
}

Cache::Lock::Lock(const fs::path& path) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    spdlog::debug("token cache lock {}: {}; going on unlocked", path.string(),
                  std::strerror(errno));
    return;
  }
  while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    if (interrupt::interrupted()) {
      close(fd_);
      throw Error(
          ExitCode::interrupted,
          "interrupted while waiting for another dtbus to fetch the token (" + path.string() + ")");
    }
  }
}

Cache::Lock::~Lock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

Cache::Lock Cache::lock(const config::TokenProviderSettings& provider) const {
  ensure_dir();
  fs::path path = dir_ / (cache_key(provider) + ".lock");
  remove_symlink(path, "lock file");
  return Lock(path);
}

}  // namespace dtbus::token
