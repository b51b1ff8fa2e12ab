// Package canon gives an article one identity however a feed spells its
// address: the same story linked with and without tracking parameters, with
// an upper-case host or a default port, must be stored once.
package canon

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrNotWeb is returned for addresses that are not absolute http(s) URLs.
var ErrNotWeb = errors.New("not an absolute http(s) URL")

// trackingParams are query parameters that say how a reader arrived, not
// what they read. Matched case-insensitively; any "utm_" prefix matches too.
var trackingParams = map[string]bool{
	// Google, Microsoft, Meta, Yandex and other ad click ids.
	"gclid": true, "gclsrc": true, "dclid": true, "gbraid": true, "wbraid": true,
	"msclkid": true, "fbclid": true, "igshid": true, "yclid": true, "ysclid": true,
	"twclid": true, "ttclid": true, "li_fat_id": true,
	// Analytics and mailing lists.
	"_ga": true, "_gl": true, "_openstat": true, "mc_cid": true, "mc_eid": true,
	"_hsenc": true, "_hsmi": true, "mkt_tok": true, "oly_anon_id": true,
	"oly_enc_id": true, "vero_conv": true, "vero_id": true, "wickedid": true,
	"rb_clickid": true, "s_cid": true,
	// Twitter/X share referrers.
	"ref_src": true, "ref_url": true,
}

// IsTrackingParam reports whether the query parameter key is removed by
// URL. Exposed so the list is documented in one place.
func IsTrackingParam(key string) bool {
	key = strings.ToLower(key)
	return strings.HasPrefix(key, "utm_") || trackingParams[key]
}

// lenientIDNA maps international host names to punycode the way browsers
// do, accepting labels such as "my_site" or "r3---sn" that strict IDNA
// refuses but DNS serves.
var lenientIDNA = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// URL returns the canonical form of an absolute http(s) URL:
//   - scheme and host lower-cased, international hosts in punycode
//     ("пример.рф" → "xn--e1afmkfd.xn--p1ai"), a trailing dot dropped;
//   - user info, default ports (:80, :443) and the fragment dropped;
//   - an empty path written "/";
//   - tracking parameters removed (see IsTrackingParam), the others sorted
//     by name, keeping the order of repeated names, and an empty query
//     dropped with its '?';
//   - percent-encoding normalised: upper-case hex, unreserved characters
//     decoded, characters that must be escaped escaped. Reserved characters
//     stay as they are: "%2F" and "/" differ to a server.
//
// Path case, trailing slashes and dot segments are kept: servers treat them
// as different addresses. URL(URL(x)) == URL(x).
func URL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("canon: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Opaque != "" {
		return "", fmt.Errorf("canon: %q: %w", raw, ErrNotWeb)
	}
	host, err := canonHost(u)
	if err != nil {
		return "", fmt.Errorf("canon: %q: %w", raw, err)
	}

	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(host)
	path := normEscapes(u.EscapedPath(), pathChar)
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if q := canonQuery(u.RawQuery); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String(), nil
}

// canonHost returns host[:port] lower-cased, in punycode, without a
// default port.
func canonHost(u *url.URL) (string, error) {
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", ErrNotWeb
	}
	if strings.Contains(host, ":") { // IPv6 literal
		ip := net.ParseIP(host)
		if ip == nil {
			return "", fmt.Errorf("bad IPv6 host %q", host)
		}
		host = "[" + ip.String() + "]"
	} else {
		if isASCII(host) {
			host = strings.ToLower(host)
		} else {
			h, err := lenientIDNA.ToASCII(host)
			if err != nil {
				return "", fmt.Errorf("bad host name %q: %w", host, err)
			}
			host = h
		}
		host = strings.TrimRight(host, ".") // "example.com." is the same name
		if !validHost(host) {
			return "", fmt.Errorf("bad host name %q", u.Hostname())
		}
	}
	if port != "" {
		// url.Parse has checked it is digits; "0080" is port 80.
		if port = strings.TrimLeft(port, "0"); port == "" {
			port = "0"
		}
		if !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
			host += ":" + port
		}
	}
	return host, nil
}

// canonQuery drops tracking and empty parameters and sorts the rest by
// name. The raw text of each kept parameter is preserved apart from
// percent-encoding: "+" versus "%20" is the server's business.
func canonQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type param struct{ key, raw string }
	var params []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		part = normEscapes(part, queryChar)
		rawKey, _, _ := strings.Cut(part, "=")
		if rawKey == "" {
			continue // "=x" names nothing
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if IsTrackingParam(key) {
			continue
		}
		params = append(params, param{key, part})
	}
	slices.SortStableFunc(params, func(a, b param) int { return strings.Compare(a.key, b.key) })
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = p.raw
	}
	return strings.Join(parts, "&")
}

// normEscapes rewrites percent-encoding in one URL component: valid escapes
// get upper-case hex, escapes of unreserved characters are decoded, a '%'
// that starts no escape becomes "%25", and bytes that may not appear raw
// (allowed says which) are escaped.
func normEscapes(s string, allowed func(byte) bool) string {
	if !needsNorm(s, allowed) {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if unreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(hexDigits[d>>4])
				b.WriteByte(hexDigits[d&15])
			}
			i += 2
		case c == '%':
			b.WriteString("%25")
		case allowed(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// needsNorm is the fast path: most links need no rewriting at all.
func needsNorm(s string, allowed func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) ||
				unreserved(unhex(s[i+1])<<4|unhex(s[i+2])) {
				return true
			}
			i += 2
			continue
		}
		if !allowed(c) {
			return true
		}
	}
	return false
}

// unreserved characters (RFC 3986 section 2.3) mean the same escaped or not.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func subDelim(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }

func pathChar(c byte) bool {
	return unreserved(c) || subDelim(c) || c == ':' || c == '@' || c == '/'
}

func queryChar(c byte) bool {
	return unreserved(c) || subDelim(c) && c != '&' || c == ':' || c == '@' || c == '/' || c == '?'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// validHost accepts the characters of DNS names (and the '_' and '~'
// found in the wild). It rejects what IDNA mapping or url.Parse let through
// that would change the URL's meaning when printed: "／" maps to '/'.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Key is an article's identity: "url:" and the canonical link when the link
// is a web address, else "guid:" and the trimmed GUID, else "". The link
// comes first because reprints of one item across a site's feeds share it
// while GUIDs are often per feed.
func Key(link, guid string) string {
	if c, err := URL(link); err == nil {
		return "url:" + c
	}
	if g := strings.TrimSpace(guid); g != "" {
		return "guid:" + g
	}
	return ""
}

// KeyFor is Key with a last resort for items that have neither a usable
// link nor a GUID: "title:" and the SHA-1 of the normalised title (see
// NormalizeTitle), so such an item is at least not stored twice. It returns
// "" when the title has no letters or digits either.
func KeyFor(link, guid, title string) string {
	if k := Key(link, guid); k != "" {
		return k
	}
	t := NormalizeTitle(title)
	if t == "" {
		return ""
	}
	sum := sha1.Sum([]byte(t))
	return "title:" + hex.EncodeToString(sum[:])
}

// NormalizeTitle lower-cases a title, reads "ё" as "е", and keeps only its
// words (runs of letters and digits) separated by single spaces, so that
// punctuation, quotes and spacing edits do not make a new identity.
func NormalizeTitle(title string) string {
	var b strings.Builder
	b.Grow(len(title))
	pending := false
	for _, r := range title {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		r = unicode.ToLower(r)
		if r == 'ё' {
			r = 'е'
		}
		b.WriteRune(r)
	}
	return b.String()
}
