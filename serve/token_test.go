package serve

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	tokSecret = bytes.Repeat([]byte("k"), 32)
	tokNow    = time.Unix(1_900_000_000, 0)
)

// signRaw signs any text the way SignSelfCheck does, so a malformed token
// can carry a valid signature (and be refused for its form, not its
// signature).
func signRaw(secret []byte, signed string) string {
	return signed + "." + tokenB64.EncodeToString(selfCheckMAC(secret, signed))
}

func TestSelfCheckTokenRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		userID string
		ttl    time.Duration
		nonce  []byte
	}{
		{"plain", "u-1001", 5 * time.Minute, nil},
		{"nonce", "u-1001", 5 * time.Minute, bytes.Repeat([]byte{0xfe}, 16)},
		{"long nonce", "42", time.Minute, bytes.Repeat([]byte{1}, 64)},
		{"unicode id", "用户-ü", time.Second, nil},
		{"dots and slashes", "a.b/c+d=e", 15 * time.Minute, nil},
		{"max length id", strings.Repeat("x", MaxSelfCheckUserIDLen), 10 * time.Minute, nil},
		{"sql-looking id", "1' OR '1'='1", time.Minute, nil},
		{"markup-looking id", `<script>alert("x")</script>`, time.Minute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := tokNow.Add(tc.ttl)
			tok := SignSelfCheck(tokSecret, tc.userID, exp, tc.nonce)
			if n := strings.Count(tok, "."); (tc.nonce == nil && n != 2) || (tc.nonce != nil && n != 3) {
				t.Fatalf("token %q has %d dots", tok, n)
			}
			uid, gotExp, err := VerifySelfCheck(tokSecret, tok, tokNow, 0)
			if err != nil {
				t.Fatalf("VerifySelfCheck: %v", err)
			}
			if uid != tc.userID || !gotExp.Equal(exp) {
				t.Errorf("got (%q, %v), want (%q, %v)", uid, gotExp, tc.userID, exp)
			}
		})
	}
}

// A token made by hand from the documented format (as a backend in another
// language would) verifies.
func TestSelfCheckTokenDocumentedFormat(t *testing.T) {
	signed := "dS0xMDAx.1900000300" // base64url("u-1001"), expiry
	tok := signRaw(tokSecret, signed)
	if want := SignSelfCheck(tokSecret, "u-1001", time.Unix(1900000300, 0), nil); tok != want {
		t.Fatalf("hand-made %q, SignSelfCheck %q", tok, want)
	}
	if uid, _, err := VerifySelfCheck(tokSecret, tok, tokNow, 0); err != nil || uid != "u-1001" {
		t.Fatalf("got (%q, %v), want u-1001", uid, err)
	}
}

func TestSelfCheckTokenRefused(t *testing.T) {
	exp := "1900000300"
	uid := tokenB64.EncodeToString([]byte("u-1"))
	nonce := tokenB64.EncodeToString(bytes.Repeat([]byte{7}, 16))
	good := SignSelfCheck(tokSecret, "u-1", time.Unix(1900000300, 0), nil)
	sig := good[strings.LastIndexByte(good, '.')+1:]
	other := bytes.Repeat([]byte("o"), 32)
	tests := []struct {
		name   string
		token  string
		secret []byte
		ttl    time.Duration
		reason string
	}{
		{"empty", "", tokSecret, 0, ReasonMissing},
		{"one part", "abc", tokSecret, 0, ReasonMalformed},
		{"two parts", signRaw(tokSecret, uid), tokSecret, 0, ReasonMalformed},
		{"five parts", signRaw(tokSecret, uid+"."+exp+"."+nonce+"."+nonce), tokSecret, 0, ReasonMalformed},
		{"extra dot at end", good + ".", tokSecret, 0, ReasonMalformed},
		{"empty user id", signRaw(tokSecret, "."+exp), tokSecret, 0, ReasonMalformed},
		{"bad base64 user id", signRaw(tokSecret, "u*1."+exp), tokSecret, 0, ReasonMalformed},
		{"three-byte user id (no padding)", signRaw(tokSecret, "dS0x."+exp), tokSecret, 0, ""},
		{"user id with padding sign", signRaw(tokSecret, "dS0xMQ=="+"."+exp), tokSecret, 0, ReasonMalformed},
		{"std base64 alphabet", signRaw(tokSecret, "dS0+."+exp), tokSecret, 0, ReasonMalformed},
		{"user id too long", signRaw(tokSecret, tokenB64.EncodeToString(bytes.Repeat([]byte("x"), MaxSelfCheckUserIDLen+1))+"."+exp), tokSecret, 0, ReasonMalformed},
		{"user id not utf-8", signRaw(tokSecret, tokenB64.EncodeToString([]byte{0xff, 0xfe})+"."+exp), tokSecret, 0, ReasonMalformed},
		{"user id with newline", signRaw(tokSecret, tokenB64.EncodeToString([]byte("u-1\nadmin"))+"."+exp), tokSecret, 0, ReasonMalformed},
		{"user id with NUL", signRaw(tokSecret, tokenB64.EncodeToString([]byte("u\x00"))+"."+exp), tokSecret, 0, ReasonMalformed},
		{"user id with line separator", signRaw(tokSecret, tokenB64.EncodeToString([]byte("u\u2028"))+"."+exp), tokSecret, 0, ReasonMalformed},
		{"non-numeric expiry", signRaw(tokSecret, uid+".19000003OO"), tokSecret, 0, ReasonMalformed},
		{"signed expiry", signRaw(tokSecret, uid+".+1900000300"), tokSecret, 0, ReasonMalformed},
		{"negative expiry", signRaw(tokSecret, uid+".-1"), tokSecret, 0, ReasonMalformed},
		{"fractional expiry", signRaw(tokSecret, uid+".1900000300.5"), tokSecret, 0, ReasonMalformed},
		{"empty expiry", signRaw(tokSecret, uid+"."), tokSecret, 0, ReasonMalformed},
		{"huge expiry", signRaw(tokSecret, uid+"."+strings.Repeat("9", 40)), tokSecret, 0, ReasonMalformed},
		{"short nonce", signRaw(tokSecret, uid+"."+exp+"."+tokenB64.EncodeToString(make([]byte, 15))), tokSecret, 0, ReasonMalformed},
		{"long nonce", signRaw(tokSecret, uid+"."+exp+"."+tokenB64.EncodeToString(make([]byte, 65))), tokSecret, 0, ReasonMalformed},
		{"bad base64 nonce", signRaw(tokSecret, uid+"."+exp+".!!!!!!!!!!!!!!!!!!!!!!!!"), tokSecret, 0, ReasonMalformed},
		{"bad base64 signature", uid + "." + exp + ".not*base64", tokSecret, 0, ReasonMalformed},
		{"short signature", uid + "." + exp + "." + sig[:20], tokSecret, 0, ReasonMalformed},
		{"signature second spelling", uid + "." + exp + "." + sig[:len(sig)-1] + secondSpelling(sig[len(sig)-1]), tokSecret, 0, ReasonMalformed},
		{"huge token", signRaw(tokSecret, uid+"."+exp+"."+strings.Repeat("A", MaxSelfCheckTokenLen)), tokSecret, 0, ReasonMalformed},
		{"spaces", " " + good, tokSecret, 0, ReasonMalformed},
		{"wrong secret", SignSelfCheck(other, "u-1", time.Unix(1900000300, 0), nil), tokSecret, 0, ReasonBadSignature},
		{"no secret", good, nil, 0, ReasonBadSignature},
		{"tampered user id", tokenB64.EncodeToString([]byte("u-2")) + "." + exp + "." + sig, tokSecret, 0, ReasonBadSignature},
		{"tampered expiry", uid + ".1900000301." + sig, tokSecret, 0, ReasonBadSignature},
		{"nonce added", uid + "." + exp + "." + nonce + "." + sig, tokSecret, 0, ReasonBadSignature},
		{"expired", SignSelfCheck(tokSecret, "u-1", tokNow.Add(-time.Second), nil), tokSecret, 0, ReasonExpired},
		{"expires now", SignSelfCheck(tokSecret, "u-1", tokNow, nil), tokSecret, 0, ReasonExpired},
		{"expired long ago", SignSelfCheck(tokSecret, "u-1", time.Unix(0, 0), nil), tokSecret, 0, ReasonExpired},
		{"too far (default 15 min)", SignSelfCheck(tokSecret, "u-1", tokNow.Add(20*time.Minute), nil), tokSecret, 0, ReasonTooFar},
		{"too far (max TTL 1 min)", SignSelfCheck(tokSecret, "u-1", tokNow.Add(5*time.Minute), nil), tokSecret, time.Minute, ReasonTooFar},
		{"within max TTL and skew", SignSelfCheck(tokSecret, "u-1", tokNow.Add(15*time.Minute+20*time.Second), nil), tokSecret, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uid, _, err := VerifySelfCheck(tc.secret, tc.token, tokNow, tc.ttl)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused (%v), want accepted", err)
				}
				return
			}
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("got (%q, %v), want a TokenError %q", uid, err, tc.reason)
			}
			if te.Reason != tc.reason {
				t.Errorf("reason %q, want %q", te.Reason, tc.reason)
			}
			if uid != "" {
				t.Errorf("user id %q returned with a refusal", uid)
			}
		})
	}
}

// secondSpelling is the base64url digit with the same high 4 bits as c and
// a low bit set: for the last digit of 32 bytes, which carries 4 bits, the
// same bytes in another spelling.
func secondSpelling(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)|1])
}

func TestCheckSelfCheckSecret(t *testing.T) {
	tests := []struct {
		n  int
		ok bool
	}{{0, false}, {16, false}, {31, false}, {32, true}, {64, true}}
	for _, tc := range tests {
		err := CheckSelfCheckSecret(make([]byte, tc.n))
		if (err == nil) != tc.ok {
			t.Errorf("%d bytes: err %v, want ok %v", tc.n, err, tc.ok)
		}
	}
}

func FuzzVerifySelfCheck(f *testing.F) {
	exp := tokNow.Add(time.Minute)
	f.Add(SignSelfCheck(tokSecret, "u-1", exp, nil))
	f.Add(SignSelfCheck(tokSecret, "u-1", exp, bytes.Repeat([]byte{3}, 16)))
	f.Add(SignSelfCheck(tokSecret, "<b>", exp, nil))
	f.Add("a.b.c")
	f.Add("a.b.c.d")
	f.Add("....")
	f.Add("")
	f.Add(strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, token string) {
		uid, expiry, err := VerifySelfCheck(tokSecret, token, tokNow, 0)
		if err != nil {
			if reasonOf(err) == "" {
				t.Fatalf("refusal %v is not a TokenError", err)
			}
			return
		}
		// Accepted: it is the secret's signature over the documented form.
		if !validSelfCheckUserID([]byte(uid)) || !expiry.After(tokNow) || len(token) > MaxSelfCheckTokenLen {
			t.Fatalf("accepted %q: user id %q, expiry %v", token, uid, expiry)
		}
		i := strings.LastIndexByte(token, '.')
		if signRaw(tokSecret, token[:i]) != token {
			t.Fatalf("accepted %q, which is not signed with the secret", token)
		}
		if _, _, err := VerifySelfCheck(bytes.Repeat([]byte("z"), 32), token, tokNow, 0); err == nil {
			t.Fatalf("%q verifies with another secret too", token)
		}
	})
}
