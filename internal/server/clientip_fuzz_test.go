package server

import (
	"net/netip"
	"testing"
)

var fuzzTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// clientIP never panics; from an untrusted peer X-Forwarded-For changes
// nothing; and whatever a client puts in front of the header cannot
// change an address the proxies vouched for. Run as a plain test it
// checks the seeds; `go test -fuzz=FuzzClientIP ./internal/server` looks further.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][3]string{
		{"127.0.0.1:5000", "203.0.113.9", "198.51.100.7"},
		{"127.0.0.1:5000", "203.0.113.9, 10.0.0.2", "1.2.3.4, 5.6.7.8"},
		{"10.1.1.1:443", "  2001:db8::1 ,10.0.0.3", "junk"},
		{"[::1]:80", "[2001:db8::2]:4711", ""},
		{"[::ffff:127.0.0.1]:80", "::ffff:203.0.113.5", "unknown"},
		{"192.0.2.1:1234", "127.0.0.1", "10.0.0.1"},
		{"127.0.0.1:1", "10.0.0.1, 10.0.0.2", ""},
		{"127.0.0.1:1", "fe80::1%eth0", ","},
		{"@", "1.1.1.1", ""},
		{"127.0.0.1:1", ",,,", "1.1.1.1"},
		{"[fd00::1]:9", "203.0.113.1:65535", "x, y"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, remote, xff, spoof string) {
		got := clientIP(remote, []string{xff}, fuzzTrusted)
		direct := clientIP(remote, nil, fuzzTrusted)
		if peer, err := netip.ParseAddr(direct); err != nil || !isTrusted(peer, fuzzTrusted) {
			if got != direct {
				t.Fatalf("untrusted peer %q: X-Forwarded-For %q moved the client from %q to %q", remote, xff, direct, got)
			}
			return
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("clientIP(%q, %q) = %q, not an address", remote, xff, got)
		}
		a := netip.MustParseAddr(got)
		if isTrusted(a, fuzzTrusted) {
			return // no untrusted hop was found: nothing a client chose
		}
		// A client-written prefix, in the same header or an earlier one.
		if again := clientIP(remote, []string{spoof + "," + xff}, fuzzTrusted); again != got {
			t.Fatalf("prefix %q turned client %q (X-Forwarded-For %q) into %q", spoof, got, xff, again)
		}
		if again := clientIP(remote, []string{spoof, xff}, fuzzTrusted); again != got {
			t.Fatalf("an earlier header %q turned client %q (X-Forwarded-For %q) into %q", spoof, got, xff, again)
		}
	})
}
