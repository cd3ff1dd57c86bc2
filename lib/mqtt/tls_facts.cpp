// SPDX-License-Identifier: Apache-2.0
// TlsFacts from a live OpenSSL session (declared in broker_info.hpp).
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "dtbus/mqtt/broker_info.hpp"

namespace dtbus::mqtt {
namespace {

std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return "";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio) return "";
  // RFC 2253 order and escaping, UTF-8 kept as is (not \xNN escaped).
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return length > 0 ? std::string(data, static_cast<size_t>(length)) : std::string();
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  int n = ASN1_STRING_length(ip);
  char text[64] = {};
  if (n == 4) {
    std::snprintf(text, sizeof(text), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  } else if (n == 16) {
    std::string out;
    for (int i = 0; i < 16; i += 2) {
      char group[8];
      std::snprintf(group, sizeof(group), "%s%x", i ? ":" : "", (b[i] << 8) | b[i + 1]);
      out += group;
    }
    return out;
  }
  return text;
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> names;
  auto* list =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (list == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(list); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(list, i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      names.push_back("DNS:" +
                      std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                  static_cast<size_t>(ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      names.push_back("IP:" + ip_text(name->d.iPAddress));
    } else if (name->type == GEN_EMAIL) {
      const ASN1_IA5STRING* mail = name->d.rfc822Name;
      names.push_back("email:" +
                      std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(mail)),
                                  static_cast<size_t>(ASN1_STRING_length(mail))));
    }
  }
  GENERAL_NAMES_free(list);
  return names;
}

}  // namespace

std::optional<int> TlsFacts::days_left(std::chrono::system_clock::time_point now) const {
  if (!not_after) return std::nullopt;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*not_after - now).count();
  // Whole days, rounded towards minus infinity: 0.5 days left is 0, an hour past expiry is -1.
  long long days = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
  return static_cast<int>(days);
}

std::optional<TlsFacts> read_tls_facts(const ssl_st* ssl, bool verified) {
  if (ssl == nullptr) return std::nullopt;
  TlsFacts facts;
  facts.verified = verified;
  facts.protocol = SSL_get_version(ssl);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    facts.cipher = SSL_CIPHER_get_name(cipher);
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), &X509_free);
  if (!cert) return facts;
  facts.subject = name_text(X509_get_subject_name(cert.get()));
  facts.issuer = name_text(X509_get_issuer_name(cert.get()));
  facts.alt_names = alt_names(cert.get());
  std::tm end{};
  if (const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
      not_after != nullptr && ASN1_TIME_to_tm(not_after, &end) == 1) {
    facts.not_after = std::chrono::system_clock::from_time_t(timegm(&end));
  }
  return facts;
}

}  // namespace dtbus::mqtt
