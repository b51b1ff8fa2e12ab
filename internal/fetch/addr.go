package fetch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// blockedPrefixes are the special-purpose ranges netip's Is* methods do not
// cover (IANA IPv4/IPv6 special-purpose address registries).
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: IPv4 in the low 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4: IPv4 in bits 16-47
)

// isPublic reports whether a is an ordinary internet address that a news
// site may live on. Everything else could reach the machine dozor runs on or
// its network (SSRF), so it is refused unless Options.AllowPrivate is set.
func isPublic(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	// Addresses that carry an IPv4 address inside are as public as it is.
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return isPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return isPublic(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

// dialControl refuses, at connect time, addresses that are not public. It
// runs after DNS resolution for every connection, so a host name that later
// resolves elsewhere (DNS rebinding) or a redirect to an internal host is
// caught too.
func dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Error{Kind: KindPrivateAddress, Err: err, detail: address}
	}
	if !isPublic(ap.Addr()) {
		return &Error{Kind: KindPrivateAddress, detail: ap.Addr().String()}
	}
	return nil
}

// CheckURL tells an admin adding a source whether dozor can fetch rawURL: it
// must be an absolute http(s) URL whose host resolves, and unless
// Options.AllowPrivate every address it resolves to must be public.
func (f *Fetcher) CheckURL(ctx context.Context, rawURL string) error {
	u, err := parseURL(rawURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return classify(ctx, err, 0)
		}
	}
	if f.opts.AllowPrivate {
		return nil
	}
	for _, a := range addrs {
		if !isPublic(a) {
			return &Error{Kind: KindPrivateAddress, detail: a.Unmap().String()}
		}
	}
	return nil
}

// parseURL accepts only absolute http and https URLs with a host.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the repeated "parse <url>:" prefix
		}
		return nil, badURL("%q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return nil, badURL("%q is not an absolute http(s) URL", rawURL)
		}
		return nil, badURL("scheme %q is not supported, only http and https", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, badURL("%q has no host", rawURL)
	}
	return u, nil
}
