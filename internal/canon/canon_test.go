package canon

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

var urlTests = []struct {
	name, in, want string
}{
	{"already canonical", "https://example.com/news/1", "https://example.com/news/1"},
	{"scheme and host case", "HTTPS://WWW.Example.COM/News/1", "https://www.example.com/News/1"},
	{"surrounding space", "  https://example.com/a \n", "https://example.com/a"},
	{"default http port", "http://example.com:80/a", "http://example.com/a"},
	{"default https port", "https://example.com:443/a", "https://example.com/a"},
	{"zero-padded default port", "http://example.com:0080/a", "http://example.com/a"},
	{"other port kept", "https://example.com:8443/a", "https://example.com:8443/a"},
	{"http port on https kept", "https://example.com:80/a", "https://example.com:80/a"},
	{"empty port", "http://example.com:/a", "http://example.com/a"},
	{"fragment dropped", "https://example.com/a#comments", "https://example.com/a"},
	{"user info dropped", "https://user:secret@example.com/a", "https://example.com/a"},
	{"empty path", "https://example.com", "https://example.com/"},
	{"empty path with query", "https://example.com?id=1", "https://example.com/?id=1"},
	{"trailing slash kept", "https://example.com/a/", "https://example.com/a/"},
	{"no trailing slash kept", "https://example.com/a", "https://example.com/a"},
	{"dot segments kept", "https://example.com/a/../b", "https://example.com/a/../b"},
	{"trailing dot in host", "https://example.com./a", "https://example.com/a"},
	{"utm removed", "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://example.com/a"},
	{"utm any case", "https://example.com/a?UTM_Source=rss&Utm_Content=y&id=5", "https://example.com/a?id=5"},
	{"click ids removed", "https://example.com/a?fbclid=1&gclid=2&yclid=3&dclid=4&msclkid=5&igshid=6&ysclid=7", "https://example.com/a"},
	{"mailing and analytics removed", "https://example.com/a?mc_cid=1&mc_eid=2&_ga=3&_openstat=4&ref_src=5&p=2", "https://example.com/a?p=2"},
	{"escaped tracking key removed", "https://example.com/a?utm%5Fsource=x", "https://example.com/a"},
	{"params sorted", "https://example.com/a?b=2&a=1&c=3", "https://example.com/a?a=1&b=2&c=3"},
	{"repeated params keep their order", "https://example.com/a?tag=z&id=1&tag=a", "https://example.com/a?id=1&tag=z&tag=a"},
	{"empty query dropped", "https://example.com/a?", "https://example.com/a"},
	{"empty params dropped", "https://example.com/a?&&id=1&", "https://example.com/a?id=1"},
	{"value-less param kept", "https://example.com/a?print&id=1", "https://example.com/a?id=1&print"},
	{"plus and %20 kept apart", "https://example.com/s?q=a+b&r=a%20b", "https://example.com/s?q=a+b&r=a%20b"},
	{"reserved escapes kept", "https://example.com/a%2Fb?x=%26%3D", "https://example.com/a%2Fb?x=%26%3D"},
	{"escape hex upper-cased", "https://example.com/a%2fb?x=%2b", "https://example.com/a%2Fb?x=%2B"},
	{"unreserved escapes decoded", "https://example.com/%7Euser/%41bc?k=%61", "https://example.com/~user/Abc?k=a"},
	{"stray percent escaped", "https://example.com/s?q=100%", "https://example.com/s?q=100%25"},
	{"cyrillic path escaped", "https://example.ru/новости/1", "https://example.ru/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/1"},
	{"cyrillic query escaped", "https://example.ru/s?q=втб", "https://example.ru/s?q=%D0%B2%D1%82%D0%B1"},
	{"lower-case escapes of cyrillic", "https://example.ru/%d0%bd", "https://example.ru/%D0%BD"},
	{"idn host to punycode", "https://Пример.РФ/a", "https://xn--e1afmkfd.xn--p1ai/a"},
	{"punycode host kept", "https://XN--E1AFMKFD.xn--p1ai/a", "https://xn--e1afmkfd.xn--p1ai/a"},
	{"underscore host", "https://my_site.example.com/", "https://my_site.example.com/"},
	{"ipv4", "http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"},
	{"ipv6", "http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"},
}

func TestURL(t *testing.T) {
	for _, tt := range urlTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := URL(tt.in)
			if err != nil {
				t.Fatalf("URL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again, err := URL(got); err != nil || again != got {
				t.Errorf("URL(%q) = %q, %v: not idempotent", got, again, err)
			}
		})
	}
}

func TestURLErrors(t *testing.T) {
	tests := []struct {
		name, in string
		notWeb   bool
	}{
		{"empty", "", true},
		{"relative", "/news/1", true},
		{"no scheme", "example.com/a", true},
		{"ftp", "ftp://example.com/a", true},
		{"javascript", "javascript:alert(1)", true},
		{"mailto", "mailto:a@example.com", true},
		{"tag uri", "tag:example.com,2025:1", true},
		{"no host", "http:///a", true},
		{"opaque", "http:example.com", true},
		{"control character", "https://example.com/\x00", false},
		{"bad escape in host", "https://exa%zzmple.com/", false},
		{"bad port", "https://example.com:port/", false},
		{"slash-mapping idn host", "https://a\uff0fb.example/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := URL(tt.in)
			if err == nil {
				t.Fatalf("URL(%q) = %q, want an error", tt.in, got)
			}
			if tt.notWeb && !errors.Is(err, ErrNotWeb) {
				t.Errorf("URL(%q): %v, want ErrNotWeb", tt.in, err)
			}
			if !strings.HasPrefix(err.Error(), "canon: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestURLSameArticle checks the point of the package: spellings of one
// address that feeds really produce collapse to one key.
func TestURLSameArticle(t *testing.T) {
	spellings := []string{
		"https://www.vedomosti.ru/finance/articles/2025/01/13/vtb?utm_source=yxnews&utm_medium=desktop",
		"https://WWW.VEDOMOSTI.RU:443/finance/articles/2025/01/13/vtb",
		"https://www.vedomosti.ru/finance/articles/2025/01/13/vtb#comments",
		"https://www.vedomosti.ru/finance/articles/2025/01/13/vtb?yclid=123456&fbclid=abc",
		"https://www.vedomosti.ru/finance/articles/2025/01/13/vtb?",
	}
	want := "https://www.vedomosti.ru/finance/articles/2025/01/13/vtb"
	for _, s := range spellings {
		if got, err := URL(s); err != nil || got != want {
			t.Errorf("URL(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
}

func TestIsTrackingParam(t *testing.T) {
	for _, k := range []string{"utm_source", "UTM_TERM", "utm_anything", "fbclid", "GCLID", "yclid", "_openstat", "mc_eid", "igshid"} {
		if !IsTrackingParam(k) {
			t.Errorf("%q is a tracking parameter", k)
		}
	}
	for _, k := range []string{"id", "page", "utm", "q", "ref", "from", "p"} {
		if IsTrackingParam(k) {
			t.Errorf("%q is not a tracking parameter", k)
		}
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name, link, guid, want string
	}{
		{"link wins", "https://Example.com/a?utm_source=x", "guid-1", "url:https://example.com/a"},
		{"guid when no link", "", "  guid-1 \n", "guid:guid-1"},
		{"guid when link unusable", "javascript:void(0)", "guid-1", "guid:guid-1"},
		{"guid when link relative", "/a", "tag:example.com,2025:1", "guid:tag:example.com,2025:1"},
		{"nothing", "", "   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.link, tt.guid); got != tt.want {
				t.Errorf("Key(%q, %q) = %q, want %q", tt.link, tt.guid, got, tt.want)
			}
		})
	}
}

func TestKeyFor(t *testing.T) {
	if got := KeyFor("https://example.com/a", "g", "T"); got != "url:https://example.com/a" {
		t.Errorf("link not preferred: %q", got)
	}
	if got := KeyFor("", "g", "T"); got != "guid:g" {
		t.Errorf("guid not preferred over title: %q", got)
	}
	a := KeyFor("", "", "ВТБ рассматривает создание ИИ-центра в Китае")
	if !strings.HasPrefix(a, "title:") || len(a) != len("title:")+40 {
		t.Fatalf("title key = %q, want title: and 40 hex digits", a)
	}
	for _, same := range []string{
		"  втб рассматривает создание ИИ центра в Китае.",
		"«ВТБ» рассматривает   создание ИИ-центра в Китае!",
	} {
		if got := KeyFor("", "", same); got != a {
			t.Errorf("KeyFor(%q) = %q, want %q", same, got, a)
		}
	}
	if b := KeyFor("", "", "ВТБ рассматривает создание ИИ-центра в Индии"); b == a {
		t.Error("different titles share a key")
	}
	for _, empty := range []string{"", "  ", "«—»!?"} {
		if got := KeyFor("", "", empty); got != "" {
			t.Errorf("KeyFor(title %q) = %q, want empty", empty, got)
		}
	}
}

func TestNormalizeTitle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello, World!", "hello world"},
		{"  Ёлки-палки: «ВТБ» и T1 ", "елки палки втб и t1"},
		{"2024–2025", "2024 2025"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeTitle(tt.in); got != tt.want {
			t.Errorf("NormalizeTitle(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzURL checks that URL never panics, returns only absolute http(s)
// URLs, and is idempotent. The seed corpus runs with every go test.
func FuzzURL(f *testing.F) {
	for _, tt := range urlTests {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"", "http://", "https://%", "http://[::1", "http://[fe80::1%25eth0]/", "http://a.b.:0/",
		"http://a/%", "http://a/?%zz=1&=2&&", "http://a/?a=1;b=2", "http://a/?utm_=x", "http://xn--/",
		"http://a\u3002b\u3002/", "http://ＥＸＡＭＰＬＥ.com/", "http://a..b/", "http://a/b?c#d?e",
		"HtTp://a/b/../../c", "http://a/\\b", "http://a/ b", "http://a/?q=a b+c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := URL(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("URL(%q) = %q: not a canonical web URL (%v)", raw, got, perr)
		}
		again, err := URL(got)
		if err != nil {
			t.Fatalf("URL(%q) = %q, which fails: %v", raw, got, err)
		}
		if again != got {
			t.Fatalf("not idempotent: URL(%q) = %q, URL(%q) = %q", raw, got, got, again)
		}
	})
}
