package analysis

import "strings"

// SiteOf reduces a URL or host name to the form sites are compared in:
// lower case, without scheme, user, port, path, trailing dots and leading
// "www."s. "https://www.Finextra.com:443/news" gives "finextra.com", and
// SiteOf(SiteOf(s)) == SiteOf(s).
func SiteOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	} else if strings.HasPrefix(s, "//") {
		s = s[2:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") { // IPv6 literal
		if i := strings.IndexByte(s, ']'); i >= 0 {
			return strings.ToLower(s[:i+1])
		}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(strings.TrimRight(s, "."))
	for len(s) > len("www.") && strings.HasPrefix(s, "www.") {
		s = s[len("www."):]
	}
	return s
}

// OnSite reports whether the article comes from domain (in SiteOf form) or
// one of its subdomains: "finextra.com" matches finextra.com and
// news.finextra.com but not notfinextra.com.
func (d *Doc) OnSite(domain string) bool {
	s := d.Site
	if len(s) == len(domain) {
		return s == domain
	}
	return len(s) > len(domain) && s[len(s)-len(domain)-1] == '.' && s[len(s)-len(domain):] == domain
}
