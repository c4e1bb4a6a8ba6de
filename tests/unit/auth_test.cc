// HMAC tags on status datagrams: signing, verification, key files, tampering.
#include "ispfailover/core/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ispfailover/core/status_message.h"
#include "support/sample_status.h"

namespace ispf {
namespace {

const std::string kKeyA = "correct horse battery staple";
const std::string kKeyB = "another sixteen+ character key";

std::string Body() { return encode(test::SampleStatus()); }

std::span<const char> Span(const std::string& text) { return {text.data(), text.size()}; }

TEST(AuthTest, SignedDatagramVerifiesAndStillDecodes) {
  std::string signed_datagram = sign_datagram(Body(), kKeyA);
  EXPECT_LE(signed_datagram.size(), kMaxDatagramBytes);
  auto verified = verify_datagram(Span(signed_datagram), {kKeyA});
  ASSERT_TRUE(verified.has_value()) << to_string(verified.error());
  EXPECT_EQ(*verified, 0u);
  auto decoded = decode(Span(signed_datagram));
  ASSERT_TRUE(decoded.has_value()) << to_string(decoded.error().error);
  EXPECT_EQ(decoded->seq, test::SampleStatus().seq);
}

TEST(AuthTest, KnownVectorTagIsHmacSha256OfTheBody) {
  // RFC 4231 test case 2 style check through our framing: key "Jefe..." padded to 16 bytes.
  const std::string key = "Jefe-Jefe-Jefe-Jefe";
  std::string out = sign_datagram("ISPF 1\n", key);
  ASSERT_EQ(out.substr(0, 7), "ISPF 1\n");
  EXPECT_EQ(out.size(), 7 + kTagKey.size() + kTagHexLength + 1);
  // The same body and key always give the same tag; another key another tag.
  EXPECT_EQ(out, sign_datagram("ISPF 1\n", key));
  EXPECT_NE(out, sign_datagram("ISPF 1\n", kKeyA));
}

TEST(AuthTest, WrongKeyIsBadTag) {
  std::string signed_datagram = sign_datagram(Body(), kKeyA);
  auto verified = verify_datagram(Span(signed_datagram), {kKeyB});
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error(), AuthError::kBadTag);
}

TEST(AuthTest, RotationAcceptsAnyListedKey) {
  std::string by_b = sign_datagram(Body(), kKeyB);
  auto verified = verify_datagram(Span(by_b), {kKeyA, kKeyB});
  ASSERT_TRUE(verified.has_value());
  EXPECT_EQ(*verified, 1u);
}

TEST(AuthTest, UnsignedDatagramIsMissingTag) {
  auto verified = verify_datagram(Span(Body()), {kKeyA});
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error(), AuthError::kMissingTag);
}

TEST(AuthTest, EveryTamperedByteIsCaught) {
  const std::string good = sign_datagram(Body(), kKeyA);
  for (std::size_t i = 0; i < good.size() - 1; ++i) {
    std::string bad = good;
    bad[i] = bad[i] == 'x' ? 'y' : 'x';
    auto verified = verify_datagram(Span(bad), {kKeyA});
    EXPECT_FALSE(verified.has_value()) << "byte " << i << " changed and still verified";
  }
}

TEST(AuthTest, TagThatIsNotLastOrMalformedIsRejected) {
  std::string signed_datagram = sign_datagram(Body(), kKeyA);
  EXPECT_EQ(verify_datagram(Span(signed_datagram + "extra=1\n"), {kKeyA}).error(),
            AuthError::kMissingTag);
  std::string upper = signed_datagram;
  for (std::size_t i = signed_datagram.size() - 65; i < signed_datagram.size() - 1; ++i) {
    if (upper[i] >= 'a' && upper[i] <= 'f') upper[i] = static_cast<char>(upper[i] - 32);
  }
  if (upper != signed_datagram) {
    EXPECT_EQ(verify_datagram(Span(upper), {kKeyA}).error(), AuthError::kMalformedTag);
  }
  std::string short_tag = Body() + "hmac=abcd\n";
  EXPECT_EQ(verify_datagram(Span(short_tag), {kKeyA}).error(), AuthError::kMalformedTag);
  for (std::size_t cut = 0; cut < signed_datagram.size(); ++cut) {
    EXPECT_FALSE(verify_datagram(Span(signed_datagram.substr(0, cut)), {kKeyA}).has_value());
  }
}

TEST(AuthTest, KeyFileParsing) {
  auto keys = parse_key_file("# rotation: new key first\n  " + kKeyA + "  \n\n" + kKeyB + "\r\n");
  ASSERT_TRUE(keys.has_value()) << keys.error();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0], kKeyA);
  EXPECT_EQ((*keys)[1], kKeyB);
  auto empty = parse_key_file("# nothing\n\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error().find("no key"), std::string::npos);
  auto too_short = parse_key_file(kKeyA + "\nshort\n");
  ASSERT_FALSE(too_short.has_value());
  EXPECT_NE(too_short.error().find("line 2"), std::string::npos) << too_short.error();
}

}  // namespace
}  // namespace ispf
