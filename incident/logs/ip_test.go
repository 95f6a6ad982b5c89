package logs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		in, want string // want "" = rejected
		reason   string // part of the reject reason
	}{
		{in: "203.0.113.9", want: "203.0.113.9"},
		{in: "203.0.113.9:51234", want: "203.0.113.9"},
		{in: "0.0.0.0", want: "0.0.0.0"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "::1", want: "::1"},
		{in: "::", want: "::"},
		{in: "::ffff:203.0.113.9", want: "::ffff:203.0.113.9"},
		{in: "1:2:3:4:5:6:7:8", want: "1:2:3:4:5:6:7:8"},
		{in: "1:2:3:4:5:6:7::", want: "1:2:3:4:5:6:7::"},
		{in: "[2001:db8::1]:443", want: "2001:db8::1"},
		{in: "[2001:db8::1]", want: "2001:db8::1"},
		{in: "", reason: "is empty"},
		{in: "-", reason: "is empty"},
		{in: "unix:", reason: "unix socket"},
		{in: "client.example.jp", reason: "is not an IP address"},
		{in: "203.0.113", reason: "is not an IP address"},
		{in: "203.0.113.256", reason: "is not an IP address"},
		{in: "203.0.113.09", reason: "is not an IP address"},
		{in: "203.0.113.9:", reason: "is not an IP address"},
		{in: "203.0.113.9:65536", reason: "is not an IP address"},
		{in: "203.0.113.9, 198.51.100.1", reason: "is not an IP address"},
		{in: "1:2:3:4:5:6:7:8:9", reason: "is not an IP address"},
		{in: "1::2::3", reason: "is not an IP address"},
		{in: "1:2:3:4:5:6:7:8::", reason: "is not an IP address"},
		{in: "12345::1", reason: "is not an IP address"},
		{in: "fe80::1%eth0", reason: "is not an IP address"},
		{in: "[2001:db8::1]:x", reason: "is not an IP address"},
		{in: "[203.0.113.9]:80", reason: "is not an IP address"},
		{in: "203.0.113.9\x00", reason: "is not an IP address"},
		{in: "<script>", reason: "is not an IP address"},
	}
	for _, tc := range tests {
		got, err := clientAddr("c-ip", []byte(tc.in))
		switch {
		case tc.want != "" && (err != nil || string(got) != tc.want):
			t.Errorf("clientAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.HasPrefix(err.Error(), "c-ip ")):
			t.Errorf("clientAddr(%q) = %q, %v; want a reject naming c-ip and saying %q", tc.in, got, err, tc.reason)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		_, _ = clientAddr("ip", []byte("[2001:db8::1]:443"))
		_, _ = clientAddr("ip", []byte("203.0.113.9:51234"))
	}); n != 0 {
		t.Errorf("clientAddr of a valid address: %v allocations, want 0", n)
	}
}

// FuzzClientAddr: the address validators agree with net/netip (zones
// aside), and whatever clientAddr returns is an address netip parses.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "::ffff:1.2.3.4", "1:2:3:4:5:6:7::", "::1.2.3.4", "1::2:3:4:5:6:7", "[::1]:80", "1.2.3.4:80", "1:2:3:4:5:6:1.2.3.4", "1::1.2.3.4", "-", "unix:", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "%") {
			return // zones: netip takes them, a client address has none
		}
		a, err := netip.ParseAddr(s)
		want := err == nil
		if got := validIPv4([]byte(s)) || validIPv6([]byte(s)); got != want {
			t.Fatalf("valid(%q) = %v, netip says %v (%v)", s, got, want, err)
		}
		if want && validIPv4([]byte(s)) != a.Is4() {
			t.Fatalf("validIPv4(%q) = %v, netip Is4 %v", s, !a.Is4(), a.Is4())
		}
		if addr, err := clientAddr("ip", []byte(s)); err == nil {
			if _, perr := netip.ParseAddr(string(addr)); perr != nil {
				t.Fatalf("clientAddr(%q) = %q, which netip rejects: %v", s, addr, perr)
			}
		}
	})
}

func BenchmarkClientAddr(b *testing.B) {
	for _, s := range []string{"198.51.100.7", "2001:db8:85a3::8a2e:370:7334", "[2001:db8::1]:443"} {
		v := []byte(s)
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				if _, err := clientAddr("ip", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClientAddrMixed: varied addresses, as a log has them (about one
// in nine IPv6, as the simulator writes): the branches of the checks are
// not the same from one line to the next.
func BenchmarkClientAddrMixed(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([][]byte, 4096)
	for i := range addrs {
		if rng.IntN(9) == 0 {
			addrs[i] = fmt.Appendf(nil, "2001:db8:%x:%x::%x", rng.IntN(65536), rng.IntN(65536), rng.IntN(65536))
		} else {
			addrs[i] = fmt.Appendf(nil, "%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		}
	}
	i := 0
	for b.Loop() {
		if _, err := clientAddr("ip", addrs[i&4095]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
