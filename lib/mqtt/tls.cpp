// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/tls.hpp"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <openssl/err.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "dtbus/core/error.hpp"

namespace dtbus::mqtt {
namespace {

// The oldest queued OpenSSL error, as text; the queue is emptied.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string utc_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "an unreadable date";
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string common_name(const X509_NAME* name) {
  if (name == nullptr) return "";
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

// The names a certificate is valid for: its subjectAltName DNS and IP entries, else its CN.
std::string certificate_names(X509* cert) {
  std::vector<std::string> names;
  auto* alt =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; alt != nullptr && i < sk_GENERAL_NAME_num(alt); ++i) {
    const GENERAL_NAME* entry = sk_GENERAL_NAME_value(alt, i);
    if (entry->type == GEN_DNS) {
      const ASN1_STRING* dns = entry->d.dNSName;
      names.push_back("DNS:" +
                      std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                  static_cast<size_t>(ASN1_STRING_length(dns))));
    } else if (entry->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = entry->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int length = ASN1_STRING_length(ip);
      int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text))) {
        names.push_back(std::string("IP:") + text);
      }
    }
  }
  GENERAL_NAMES_free(alt);
  if (names.empty()) {
    std::string cn = common_name(X509_get_subject_name(cert));
    if (!cn.empty()) names.push_back("CN=" + cn);
  }
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text.empty() ? "no name" : text;
}

std::string hostname_mismatch(X509* leaf, const std::string& host) {
  return "hostname mismatch: the server certificate is for " + certificate_names(leaf) + ", not '" +
         host + "'";
}

// Why `store` refused the server's chain, in words that say what to fix.
std::string describe_failure(X509_STORE_CTX* store, const std::string& host) {
  int error = X509_STORE_CTX_get_error(store);
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (cert == nullptr) cert = leaf;
  std::string which = "the server certificate";
  if (cert != nullptr && cert != leaf) {
    which = "the CA certificate '" + common_name(X509_get_subject_name(cert)) + "'";
  }
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return "unknown CA: " + which + " was issued by '" +
             (cert ? common_name(X509_get_issuer_name(cert)) : std::string()) +
             "', which is not a trusted CA (check cafile/capath or the broker's ca_certs)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired: " + which + " was valid until " +
             utc_text(cert ? X509_get0_notAfter(cert) : nullptr);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not yet valid: " + which + " is valid from " +
             utc_text(cert ? X509_get0_notBefore(cert) : nullptr);
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      if (leaf != nullptr) return hostname_mismatch(leaf, host);
      break;
    default:
      break;
  }
  return std::string("certificate refused: ") + X509_verify_cert_error_string(error);
}

}  // namespace

CertificateCheck::CertificateCheck(std::string host) : host_(std::move(host)) {}

void CertificateCheck::apply_options(void* context, const TlsSettings& tls) {
  SSL_CTX* ctx = static_cast<SSL_CTX*>(context);
  if (!tls.version.empty()) {
    int version = tls.version == "tlsv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
  }
  if (!tls.ciphers.empty()) {
    // OpenSSL keeps TLS 1.3 suites (TLS_AES_128_GCM_SHA256...) apart from the older cipher list.
    std::string suites, list;
    std::string rest = tls.ciphers;
    for (size_t start = 0; start <= rest.size();) {
      size_t end = rest.find(':', start);
      if (end == std::string::npos) end = rest.size();
      std::string name = rest.substr(start, end - start);
      if (!name.empty()) (name.starts_with("TLS_") ? suites : list) += (name + ":");
      start = end + 1;
    }
    if (!suites.empty()) suites.pop_back();
    if (!list.empty()) list.pop_back();
    if ((!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) ||
        (!suites.empty() && SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1)) {
      throw Error(ExitCode::usage, "--ciphers " + tls.ciphers + ": no cipher OpenSSL knows (" +
                                       openssl_error() + ")");
    }
  }
  if (!tls.alpn.empty()) {
    if (tls.alpn.size() > 255) throw Error(ExitCode::usage, "--alpn: at most 255 bytes");
    std::string wire(1, static_cast<char>(tls.alpn.size()));
    wire += tls.alpn;
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      throw Error(ExitCode::usage, "--alpn " + tls.alpn + ": refused by OpenSSL");
    }
  }
}

namespace {

// The client key's passphrase for OpenSSL (PEM callback); userdata is the TlsSettings.
int key_password_callback(char* buffer, int size, int, void* userdata) {
  const auto* tls = static_cast<const TlsSettings*>(userdata);
  int length = static_cast<int>(tls->key_password.size());
  if (length > size) return -1;
  std::memcpy(buffer, tls->key_password.data(), static_cast<size_t>(length));
  return length;
}

}  // namespace

void* CertificateCheck::make_context(const TlsSettings& tls) {
  const std::string& cafile = tls.cafile;
  const std::string& capath = tls.capath;
  const std::string& certfile = tls.certfile;
  const std::string& keyfile = tls.keyfile;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            &SSL_CTX_free);
  if (!context) throw Error(ExitCode::runtime, "cannot create a TLS context: " + openssl_error());
  SSL_CTX* ctx = context.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (cafile.empty() && capath.empty()) SSL_CTX_set_default_verify_paths(ctx);
  if (!cafile.empty() && SSL_CTX_load_verify_file(ctx, cafile.c_str()) != 1) {
    throw Error(ExitCode::config,
                "cannot load CA certificates from cafile '" + cafile + "': " + openssl_error());
  }
  if (!capath.empty() && SSL_CTX_load_verify_dir(ctx, capath.c_str()) != 1) {
    throw Error(ExitCode::config, "cannot use capath '" + capath + "': " + openssl_error());
  }
  if (!certfile.empty() || !keyfile.empty()) {
    if (certfile.empty() || keyfile.empty()) {
      throw Error(ExitCode::config, "a client certificate needs both cert and key");
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) {
      throw Error(ExitCode::config,
                  "cannot load the client certificate '" + certfile + "': " + openssl_error());
    }
    // Without a passphrase an encrypted key fails instead of OpenSSL prompting on the terminal.
    SSL_CTX_set_default_passwd_cb(ctx, &key_password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<TlsSettings*>(&tls));
    bool loaded = SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (!loaded && tls.key_password.empty()) {
      throw Error(ExitCode::config, "cannot use the client key '" + keyfile +
                                        "': " + openssl_error() +
                                        " (an encrypted key needs --key-password-file)");
    }
    if (!loaded || SSL_CTX_check_private_key(ctx) != 1) {
      throw Error(ExitCode::config, "cannot use the client key '" + keyfile + "' with '" +
                                        certfile + "': " + openssl_error());
    }
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str()) != 1) {
    X509_VERIFY_PARAM_set1_host(param, host_.c_str(), host_.size());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &CertificateCheck::verify, this);
  apply_options(ctx, tls);
  return context.release();
}

void CertificateCheck::free_context(void* context) { SSL_CTX_free(static_cast<SSL_CTX*>(context)); }

// Runs in place of OpenSSL's own X509_verify_cert call, which it makes: the decision stays
// OpenSSL's, only the reason is kept.
int CertificateCheck::verify(X509_STORE_CTX* store, void* self) {
  auto* check = static_cast<CertificateCheck*>(self);
  int verdict = X509_verify_cert(store);
  check->record(verdict > 0 ? std::string() : describe_failure(store, check->host_));
  return verdict;
}

void CertificateCheck::record(std::string failure) {
  std::lock_guard lock(mutex_);
  failure_ = std::move(failure);
}

std::string CertificateCheck::last_failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

}  // namespace dtbus::mqtt
