package fetch

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// From testdata/seeds/vtb-ai-centre-china.ru.txt (no «» or dashes, which
// koi8-r lacks).
const (
	ruTitle = "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований"
	ruText  = "Банк ВТБ активно прорабатывает инициативу по созданию специализированного центра компетенций в области искусственного интеллекта (ИИ) на территории Китая."
)

func encode(t testing.TB, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func rssFeed(prolog string) string {
	return prolog + "\n<rss version=\"2.0\"><channel><title>Новости</title><link>https://example.com/</link>" +
		"<item><title>" + ruTitle + "</title><description>" + ruText + "</description></item></channel></rss>"
}

func TestDecodeFeed(t *testing.T) {
	noEnc := `<?xml version="1.0"?>`
	withEnc := func(label string) string { return `<?xml version="1.0" encoding="` + label + `"?>` }
	tests := []struct {
		name        string
		body        []byte
		contentType string
		wantEnc     string
	}{
		{"windows-1251 header only", encode(t, charmap.Windows1251, rssFeed(noEnc)), "application/rss+xml; charset=windows-1251", "windows-1251"},
		{"windows-1251 no label", encode(t, charmap.Windows1251, rssFeed(noEnc)), "text/xml", "windows-1251"},
		{"windows-1251 no prolog no header", encode(t, charmap.Windows1251, rssFeed("")), "", "windows-1251"},
		{"windows-1251 prolog says koi8-r", encode(t, charmap.Windows1251, rssFeed(withEnc("koi8-r"))), "", "windows-1251"},
		{"windows-1251 prolog says utf-8", encode(t, charmap.Windows1251, rssFeed(withEnc("utf-8"))), "text/xml", "windows-1251"},
		{"windows-1251 labelled right", encode(t, charmap.Windows1251, rssFeed(withEnc("windows-1251"))), "text/xml; charset=cp1251", "windows-1251"},
		{"koi8-r header only", encode(t, charmap.KOI8R, rssFeed(noEnc)), "text/xml; charset=KOI8-R", "koi8-r"},
		{"koi8-r no label", encode(t, charmap.KOI8R, rssFeed(noEnc)), "", "koi8-r"},
		{"koi8-r prolog says windows-1251", encode(t, charmap.KOI8R, rssFeed(withEnc("windows-1251"))), "", "koi8-r"},
		{"koi8-r header and prolog both wrong", encode(t, charmap.KOI8R, rssFeed(withEnc("utf-8"))), "text/xml; charset=windows-1251", "koi8-r"},
		{"utf-8 labelled windows-1251", []byte(rssFeed(withEnc("windows-1251"))), "text/xml; charset=windows-1251", "utf-8"},
		{"utf-8 labelled koi8-r in header", []byte(rssFeed(noEnc)), "text/xml; charset=koi8-r", "utf-8"},
		{"utf-8 with BOM", append([]byte{0xEF, 0xBB, 0xBF}, rssFeed(withEnc("utf-8"))...), "", "utf-8"},
		{"utf-8 with one broken byte", bytes.Replace([]byte(rssFeed(noEnc)), []byte("Новости"), []byte("Новости\xff"), 1), "", "utf-8"},
		{"utf-16le with BOM", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), rssFeed(withEnc("utf-16"))), "", "utf-16le"},
		{"whitespace before prolog", encode(t, charmap.Windows1251, "\r\n  "+rssFeed(withEnc("windows-1251"))), "", "windows-1251"},
		{"malformed content type", encode(t, charmap.Windows1251, rssFeed(noEnc)), "text/xml; charset=windows-1251;;", "windows-1251"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, enc, err := DecodeFeed(tt.body, tt.contentType)
			if err != nil {
				t.Fatalf("DecodeFeed: %v", err)
			}
			if enc != tt.wantEnc {
				t.Errorf("encoding = %q, want %q", enc, tt.wantEnc)
			}
			if !bytes.Contains(out, []byte(ruText)) || !bytes.Contains(out, []byte(ruTitle)) {
				t.Fatalf("Russian text not decoded exactly:\n%s", out)
			}
			if m := xmlProlog.Find(out); m != nil && prologEncoding.Match(m) && !bytes.Contains(m, []byte(`encoding="UTF-8"`)) {
				t.Errorf("prolog still names another encoding: %s", m)
			}
			// The real downstream parser must see the same text, not a
			// second decoding of it.
			feed, err := gofeed.NewParser().ParseString(string(out))
			if err != nil {
				t.Fatalf("gofeed: %v", err)
			}
			if len(feed.Items) != 1 || feed.Items[0].Title != ruTitle || feed.Items[0].Description != ruText {
				t.Errorf("gofeed read title %q", feed.Items[0].Title)
			}
		})
	}
}

func TestDecodeFeedOtherCases(t *testing.T) {
	t.Run("json feed in windows-1251", func(t *testing.T) {
		body := encode(t, charmap.Windows1251, `{"version":"https://jsonfeed.org/version/1.1","title":"`+ruTitle+`"}`)
		out, enc, err := DecodeFeed(body, "application/feed+json")
		if err != nil || enc != "windows-1251" || !bytes.Contains(out, []byte(ruTitle)) {
			t.Errorf("got %q, %q, %v", out, enc, err)
		}
	})
	t.Run("latin text without label", func(t *testing.T) {
		body := encode(t, charmap.Windows1252, `<?xml version="1.0"?><rss><channel><title>Réforme économique à Noël</title></channel></rss>`)
		out, enc, err := DecodeFeed(body, "")
		if err != nil || enc != "windows-1252" || !bytes.Contains(out, []byte("Réforme économique à Noël")) {
			t.Errorf("got %q, %q, %v", out, enc, err)
		}
	})
	t.Run("latin text labelled iso-8859-1", func(t *testing.T) {
		body := encode(t, charmap.Windows1252, `<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel><title>Straße für Mädchen</title></channel></rss>`)
		out, enc, err := DecodeFeed(body, "")
		if err != nil || enc != "windows-1252" || !bytes.Contains(out, []byte("Straße für Mädchen")) || !bytes.Contains(out, []byte(`encoding="UTF-8"`)) {
			t.Errorf("got %q, %q, %v", out, enc, err)
		}
	})
	t.Run("control characters removed", func(t *testing.T) {
		body := []byte("<?xml version=\"1.0\"?>\n<rss>\x00<title>a\x01b\x1fc\td\ufffee</title></rss>")
		out, _, err := DecodeFeed(body, "")
		want := "<?xml version=\"1.0\"?>\n<rss><title>abc\tde</title></rss>"
		if err != nil || string(out) != want {
			t.Errorf("got %q, %v; want %q", out, err, want)
		}
	})
	for _, body := range []string{"", "  \r\n", "\x00\x00"} {
		t.Run(fmt.Sprintf("empty %q", body), func(t *testing.T) {
			if _, _, err := DecodeFeed([]byte(body), ""); err == nil {
				t.Error("no error for an empty feed")
			}
		})
	}
}

func htmlPage(head string) string {
	return "<!DOCTYPE html><html><head>" + head + "<title>" + ruTitle + "</title></head><body><p>" + ruText + "</p></body></html>"
}

func TestDecodeHTML(t *testing.T) {
	metaCS := func(l string) string { return `<meta charset="` + l + `">` }
	metaHE := func(l string) string {
		return `<meta http-equiv="Content-Type" content="text/html; charset=` + l + `">`
	}
	tests := []struct {
		name        string
		body        []byte
		contentType string
		wantEnc     string
	}{
		{"windows-1251 header only", encode(t, charmap.Windows1251, htmlPage("")), "text/html; charset=windows-1251", "windows-1251"},
		{"windows-1251 no label", encode(t, charmap.Windows1251, htmlPage("")), "text/html", "windows-1251"},
		{"windows-1251 meta says utf-8", encode(t, charmap.Windows1251, htmlPage(metaCS("utf-8"))), "text/html", "windows-1251"},
		{"windows-1251 http-equiv", encode(t, charmap.Windows1251, htmlPage(metaHE("windows-1251"))), "", "windows-1251"},
		{"koi8-r meta charset", encode(t, charmap.KOI8R, htmlPage(metaCS("koi8-r"))), "", "koi8-r"},
		{"koi8-r no label", encode(t, charmap.KOI8R, htmlPage("")), "", "koi8-r"},
		{"koi8-r http-equiv says windows-1251", encode(t, charmap.KOI8R, htmlPage(metaHE("windows-1251"))), "text/html; charset=windows-1251", "koi8-r"},
		{"utf-8 meta says windows-1251", []byte(htmlPage(metaCS("windows-1251"))), "text/html; charset=windows-1251", "utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, enc := DecodeHTML(tt.body, tt.contentType)
			if enc != tt.wantEnc {
				t.Errorf("encoding = %q, want %q", enc, tt.wantEnc)
			}
			// What a downstream parser that prescans <meta> decides.
			_, name, _ := charset.DetermineEncoding([]byte(out), "text/html")
			if name != "utf-8" {
				t.Errorf("downstream parser would decode as %q", name)
			}
			doc, err := html.Parse(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if got := textOf(doc); !strings.Contains(got, ruTitle) || !strings.Contains(got, ruText) {
				t.Errorf("parsed text = %q", got)
			}
		})
	}
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var sb strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		sb.WriteString(textOf(c))
		sb.WriteString(" ")
	}
	return sb.String()
}

func TestDecodeHTMLDoesNotModifyInput(t *testing.T) {
	body := []byte(htmlPage(`<meta charset="windows-1251">`))
	orig := string(body)
	out, _ := DecodeHTML(body, "")
	if string(body) != orig {
		t.Error("DecodeHTML changed its input")
	}
	if !strings.Contains(out, `<meta charset="utf-8">`) {
		t.Errorf("meta not rewritten: %s", out)
	}
}

func TestRussianScoreOrdersReadings(t *testing.T) {
	// The right reading must beat both wrong ones, in mixed case and caps.
	for _, text := range []string{ruText, strings.ToUpper(ruText), ruTitle} {
		for _, tc := range []struct {
			name   string
			source *charmap.Charmap
			wrong  *charmap.Charmap
		}{
			{"windows-1251", charmap.Windows1251, charmap.KOI8R},
			{"koi8-r", charmap.KOI8R, charmap.Windows1251},
		} {
			t.Run(tc.name+" "+text[:20], func(t *testing.T) {
				raw := encode(t, tc.source, text)
				right, _ := tc.source.NewDecoder().Bytes(raw)
				wrong, _ := tc.wrong.NewDecoder().Bytes(raw)
				if r, w := score(nil, right), score(nil, wrong); r <= w || r < minRussian {
					t.Errorf("right reading scores %.3f, wrong %.3f", r, w)
				}
			})
		}
	}
}

func BenchmarkDecodeFeed(b *testing.B) {
	seed, err := os.ReadFile("../testdata/seeds/vtb-ai-centre-china.ru.txt")
	if err != nil {
		b.Skip(err)
	}
	paras := strings.Split(strings.TrimSpace(string(seed)), "\n\n")
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="windows-1251"?>` + "\n<rss version=\"2.0\"><channel><title>Новости</title>\n")
	for i := 0; sb.Len() < 50<<10; i++ { // ~30 KB once encoded one byte per letter
		p := paras[i%len(paras)]
		fmt.Fprintf(&sb, "<item><title>%s</title><link>https://example.com/%d</link><description>%s</description></item>\n",
			ruTitle, i, html.EscapeString(p))
	}
	sb.WriteString("</channel></rss>")
	body, err := encoding.ReplaceUnsupported(charmap.Windows1251.NewEncoder()).Bytes([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, enc, err := DecodeFeed(body, "application/rss+xml"); err != nil || enc != "windows-1251" {
			b.Fatal(enc, err)
		}
	}
}
