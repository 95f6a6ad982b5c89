package serve

// Self-check tokens.
//
// The company's backend signs a token for one signed-in person and its site
// (or backend) sends it to GET /api/v1/self-check in the header
//
//	Authorization: Bearer <token>
//
// never in the URL (URLs end up in logs). A token is three or four segments
// joined by dots:
//
//	<uid>.<exp>.<sig>
//	<uid>.<exp>.<nonce>.<sig>
//
//	uid    base64url without padding (RFC 4648 §5, no "=") of the user id's
//	       UTF-8 bytes: 1 to 256 bytes, no control characters
//	exp    expiry, Unix seconds, decimal digits only (no sign, no spaces);
//	       at most 15 minutes ahead (the server's SelfCheckMaxTTL)
//	nonce  optional: 16 to 64 random bytes, base64url without padding; lets
//	       the backend mint several tokens a second for one person
//	sig    base64url without padding of HMAC-SHA256(secret, signed), where
//	       signed is the token up to (not including) its last dot
//
// The secret is shared with breachctl through BREACHCTL_SELFCHECK_SECRET (at
// least 32 bytes). A token answers once: a second use is refused as a
// replay. The whole token is at most 4096 bytes. In Python:
//
//	import base64, hashlib, hmac, os, time
//	b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
//	signed = b64(user_id.encode()) + "." + str(int(time.time()) + 300) + "." + b64(os.urandom(16))
//	token = signed + "." + b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Refusal reasons of the self-check API (TokenError.Reason and the keys of
// Server.SelfCheckStats).
const (
	ReasonMissing      = "missing"       // no Authorization: Bearer token
	ReasonMalformed    = "malformed"     // not a token of the format above
	ReasonBadSignature = "bad-signature" // not signed with the secret
	ReasonExpired      = "expired"       // its expiry has passed
	ReasonTooFar       = "too-far"       // its expiry is more than the max TTL ahead
	ReasonReplayed     = "replayed"      // it was used before
	ReasonRateLimited  = "rate-limited"  // too many requests for the token or the address
)

// refusalReasons lists every reason, in the order they are reported.
var refusalReasons = []string{ReasonMissing, ReasonMalformed, ReasonBadSignature, ReasonExpired, ReasonTooFar, ReasonReplayed, ReasonRateLimited}

// TokenError is a refused self-check token.
type TokenError struct {
	Reason string // one of the Reason constants
}

func (e *TokenError) Error() string { return "self-check token: " + e.Reason }

// Limits of a self-check token.
const (
	// MaxSelfCheckTokenLen bounds a token: longer ones are refused before
	// any decoding.
	MaxSelfCheckTokenLen = 4096
	// MaxSelfCheckUserIDLen bounds a user id, in bytes.
	MaxSelfCheckUserIDLen = 256
	// MinSelfCheckSecretLen is the shortest secret accepted, in bytes.
	MinSelfCheckSecretLen = 32
	// DefaultSelfCheckMaxTTL is how far ahead a token's expiry may be, by
	// default: the replay list keeps a used token until it expires.
	DefaultSelfCheckMaxTTL = 15 * time.Minute
	// selfCheckClockSkew is allowed on top of the max TTL for a backend
	// whose clock is a little ahead.
	selfCheckClockSkew = 30 * time.Second
	minNonceLen        = 16
	maxNonceLen        = 64
)

var tokenB64 = base64.RawURLEncoding.Strict()

// CheckSelfCheckSecret says whether b can sign self-check tokens.
func CheckSelfCheckSecret(b []byte) error {
	if len(b) < MinSelfCheckSecretLen {
		return fmt.Errorf("the self-check secret (BREACHCTL_SELFCHECK_SECRET) has %d bytes: use at least %d random bytes (e.g. openssl rand -base64 48)", len(b), MinSelfCheckSecretLen)
	}
	return nil
}

// SignSelfCheck makes a self-check token for userID, valid until expiry
// (Unix seconds: any fraction is dropped). nonce may be nil; when given it
// should be 16 to 64 random bytes.
func SignSelfCheck(secret []byte, userID string, expiry time.Time, nonce []byte) string {
	signed := tokenB64.EncodeToString([]byte(userID)) + "." + strconv.FormatInt(expiry.Unix(), 10)
	if nonce != nil {
		signed += "." + tokenB64.EncodeToString(nonce)
	}
	return signed + "." + tokenB64.EncodeToString(selfCheckMAC(secret, signed))
}

func selfCheckMAC(secret []byte, signed string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// VerifySelfCheck checks a token at now and returns whom it is for and when
// it expires. maxTTL (DefaultSelfCheckMaxTTL when 0 or less) bounds how far
// ahead the expiry may be. A refusal is a *TokenError (never "replayed" or
// "rate-limited": the server decides those).
func VerifySelfCheck(secret []byte, token string, now time.Time, maxTTL time.Duration) (userID string, expiry time.Time, err error) {
	refuse := func(reason string) (string, time.Time, error) {
		return "", time.Time{}, &TokenError{Reason: reason}
	}
	if token == "" {
		return refuse(ReasonMissing)
	}
	if len(token) > MaxSelfCheckTokenLen {
		return refuse(ReasonMalformed)
	}
	if len(secret) == 0 {
		// Nobody can have signed it (the server answers 503 before this).
		return refuse(ReasonBadSignature)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 && len(parts) != 4 {
		return refuse(ReasonMalformed)
	}
	uid, err := tokenB64.DecodeString(parts[0])
	if err != nil || !validSelfCheckUserID(uid) {
		return refuse(ReasonMalformed)
	}
	exp, ok := parseUnixSeconds(parts[1])
	if !ok {
		return refuse(ReasonMalformed)
	}
	if len(parts) == 4 {
		nonce, err := tokenB64.DecodeString(parts[2])
		if err != nil || len(nonce) < minNonceLen || len(nonce) > maxNonceLen {
			return refuse(ReasonMalformed)
		}
	}
	sigText := parts[len(parts)-1]
	sig, err := tokenB64.DecodeString(sigText)
	// One text per signature: the replay list keys on the token's text, so
	// a second spelling of the same signature must not exist.
	if err != nil || len(sig) != sha256.Size || tokenB64.EncodeToString(sig) != sigText {
		return refuse(ReasonMalformed)
	}
	signed := token[:len(token)-len(sigText)-1]
	if !hmac.Equal(sig, selfCheckMAC(secret, signed)) {
		return refuse(ReasonBadSignature)
	}
	if maxTTL <= 0 {
		maxTTL = DefaultSelfCheckMaxTTL
	}
	expiry = time.Unix(exp, 0)
	if !now.Before(expiry) {
		return refuse(ReasonExpired)
	}
	if expiry.Sub(now) > maxTTL+selfCheckClockSkew {
		return refuse(ReasonTooFar)
	}
	return string(uid), expiry, nil
}

// validSelfCheckUserID: 1 to 256 bytes of UTF-8 without control characters
// or line and paragraph separators.
func validSelfCheckUserID(b []byte) bool {
	if len(b) == 0 || len(b) > MaxSelfCheckUserIDLen || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// parseUnixSeconds reads 1 to 18 decimal digits (no sign).
func parseUnixSeconds(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tokenSHA256 is the hex SHA-256 of a token: what the replay list and the
// per-token limiter keep (never the token).
func tokenSHA256(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// reasonOf is the refusal reason of err ("" when err is not a TokenError).
func reasonOf(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}
