package feed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// now is the fixed clock of these tests: after every date in testdata.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const base = "https://base.example.com/feeds/rss.xml"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file string
		want Feed
	}{
		{"rss2_ru.xml", Feed{
			Title: "Финансовые & технологические новости",
			Link:  "https://news.example.ru/",
			Items: []Item{
				{
					GUID:  "news-example-1001",
					URL:   "https://news.example.ru/finance/vtb-ai-china?utm_source=rss",
					Title: "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований",
					// CDATA HTML content wins over the description; script dropped,
					// paragraphs and list items become lines, &nbsp;/&mdash; decoded.
					Text: "Банк ВТБ активно прорабатывает инициативу по созданию специализированного центра компетенций в области искусственного интеллекта (ИИ) на территории Китая.\n" +
						"Основная цель такого центра — ускоренное тестирование устройств, использующих технологии ИИ, непосредственно на китайской территории.\n" +
						"ВТБ уже имеет представительство в Шанхае.\n" +
						"Huawei является партнером ВТБ по созданию лабораторий.",
					Published: date("2025-01-13T06:30:00Z"),
				},
				{
					// Relative link resolved against the channel link; the title
					// was escaped HTML: tags stripped, entities decoded.
					GUID:      "https://news.example.ru/finance/t1-vtb",
					URL:       "https://news.example.ru/finance/t1-vtb",
					Title:     `T1 и ВТБ: "технологическое" партнерство`,
					Text:      "В рамках своих технологических инициатив ВТБ сотрудничает с компанией T1, которая выступает в качестве российского технологического партнера.\nПредставители ВТБ и T1 отказались от подробных комментариев.",
					Published: date("2025-01-13T05:00:00Z"),
				},
				{
					URL:       "https://news.example.ru/tech/data-centres",
					Title:     "Дата-центры в Китае",
					Text:      "Активное строительство дата-центров в Китае наблюдалось в период с 2023 по 2024 год, что значительно увеличило доступность необходимой инфраструктуры.",
					Published: date("2025-01-12T15:15:00Z"), // dc:date
				},
			},
		}},
		{"rss1_rdf.xml", Feed{
			Title: "RDF Site",
			Link:  "https://rdf.example.org/",
			Items: []Item{
				{URL: "https://rdf.example.org/a/1", Title: "Putin orders Russian bank to cooperate with China on AI",
					Text: "Sberbank has been told to work with China on AI-based services.", Published: date("2025-01-02T10:00:00Z")},
				{URL: "https://rdf.example.org/a/2", Title: "Russia begins digital ruble pilot", Text: "The central bank starts a pilot."},
			},
		}},
		{"atom.xml", Feed{
			Title: "Atom & Co",
			Link:  "https://atom.example.com/blog/",
			Items: []Item{
				{
					GUID:      "tag:atom.example.com,2025:1",
					URL:       "https://atom.example.com/blog/posts/sber-china-ai", // xml:base
					Title:     "Sberbank & China: AI cooperation",
					Text:      "TASS reports\nPresident Putin has ordered the government and Sberbank to ensure further co-operation.\nMore to follow.",
					Published: date("2025-01-02T11:00:00Z"),
				},
				{
					GUID:      "tag:atom.example.com,2025:2",
					URL:       "https://atom.example.com/blog/posts/updated-only",
					Title:     "Updated only",
					Text:      "XHTML content here.\nSecond paragraph.",
					Published: date("2025-01-01T00:00:00Z"), // from <updated>
				},
			},
		}},
		{"jsonfeed.json", Feed{
			Title: "JSON News",
			Link:  "https://json.example.net/",
			Items: []Item{
				{GUID: "1", URL: "https://json.example.net/items/1", Title: "VTB & T1", Text: "HTML content\nSecond",
					Published: date("2025-01-05T10:00:00Z")},
				// content_text is plain text: its line breaks stay, a bare "<" too.
				{GUID: "2", URL: "https://json.example.net/items/2", Title: "Plain text item",
					Text: "First line.\nSecond line with a < sign.", Published: date("2025-01-06T08:00:00Z")},
			},
		}},
		{"guid_only.xml", Feed{
			Title: "GUID only",
			Items: []Item{
				{GUID: "tag:guid.example.com,2025:42", Title: "Item with a tag GUID", Text: "No link at all."},
				// A URL guid stands in for the missing link.
				{GUID: "https://guid.example.com/posts/43", URL: "https://guid.example.com/posts/43", Title: "Item with a permalink GUID"},
				// The item with neither title, link nor guid is skipped.
				{GUID: "untitled-44"},
			},
		}},
		{"relative.xml", Feed{
			Title: "Relative",
			Link:  "https://base.example.com/", // "/" against the feed's address
			Items: []Item{
				{URL: "https://base.example.com/news/1.html", Title: "Root-relative"},
				{URL: "https://base.example.com/news/2.html?x=1#top", Title: "Path-relative"},
				{URL: "https://cdn.example.org/news/3", Title: "Protocol-relative"},
				{URL: "https://other.example.org/news/4", Title: "Absolute"},
				{Title: "Script link"}, // javascript: is no article address
			},
		}},
		{"hostile.xml", Feed{
			Title: "Hostile",
			Link:  "https://hostile.example.com/",
			Items: []Item{
				// Year 2101: zeroed. Script, style, noscript and svg dropped;
				// zero-width space and soft hyphen removed.
				{URL: "https://hostile.example.com/1", Title: "Title with markup", Text: "Visibletexthere\nend"},
				// 1970: zeroed. An unclosed script swallows the rest, nothing more.
				{URL: "https://hostile.example.com/2", Title: "Unclosed script", Text: "before"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parse(readTestdata(t, tt.file), base, now)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			assertFeed(t, got, &tt.want)
		})
	}
}

func assertFeed(t *testing.T, got, want *Feed) {
	t.Helper()
	if got.Title != want.Title || got.Link != want.Link {
		t.Errorf("feed = %q %q, want %q %q", got.Title, got.Link, want.Title, want.Link)
	}
	if len(got.Items) != len(want.Items) {
		t.Fatalf("got %d items, want %d:\n%+v", len(got.Items), len(want.Items), got.Items)
	}
	for i, g := range got.Items {
		w := want.Items[i]
		if g.GUID != w.GUID || g.URL != w.URL || g.Title != w.Title || g.Text != w.Text {
			t.Errorf("item %d:\n got %+q\nwant %+q", i, g, w)
		}
		if !g.Published.Equal(w.Published) || g.Published.Location() != time.UTC {
			t.Errorf("item %d published = %v, want %v UTC", i, g.Published, w.Published)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		is     error
		inText string
	}{
		{"empty", nil, ErrNotAFeed, "empty body"},
		{"whitespace", []byte(" \r\n\t "), ErrNotAFeed, "empty body"},
		{"bom only", []byte("\xef\xbb\xbf"), ErrNotAFeed, "empty body"},
		{"html page", readTestdata(t, "html_page.html"), ErrNotAFeed, "the address returned an HTML page, not a feed"},
		{"html without doctype", []byte("\n<HTML><BODY>hi</BODY></HTML>"), ErrNotAFeed, "HTML page"},
		{"binary", readTestdata(t, "binary.bin"), ErrNotAFeed, "binary data"},
		{"invalid utf-8 junk", []byte(strings.Repeat("\xff\xfe\xc0", 100)), ErrNotAFeed, "binary data"},
		{"other xml", []byte(`<?xml version="1.0"?><urlset><url><loc>https://x.example/</loc></url></urlset>`), ErrNotAFeed, "not a recognisable RSS, Atom or JSON feed"},
		{"plain text", []byte("Service temporarily unavailable"), ErrNotAFeed, "not a recognisable"},
		{"json api error", []byte(`{"error":"not found"}`), ErrNotAFeed, "not a recognisable"},
		{"json array", []byte(`[1,2,3]`), ErrNotAFeed, "not a recognisable"},
		{"truncated xml", readTestdata(t, "truncated.xml"), ErrMalformed, "malformed feed: XML syntax error"},
		// Cut inside its only item, or before any: nothing to recover.
		{"cut in the first item", []byte(`<rss><channel><title>t</title><item><title>a</title><link>https://x.example/`), ErrMalformed, "malformed feed: XML syntax error on line 1: unexpected EOF"},
		{"cut before any item", []byte(`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>`), ErrMalformed, "unexpected EOF"},
		{"xhtml page", []byte(`<?xml version="1.0"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml"><body><p>hi</p></body></html>`), ErrNotAFeed, "HTML page"},
		{"junk before html", []byte("Warning: x\n<?xml version=\"1.0\"?><html><body><p>hi</p></body></html>"), ErrNotAFeed, "HTML page"},
		{"junk before other xml", []byte("Warning: x\n<?xml version=\"1.0\"?><urlset><url><loc>https://x.example/</loc></url></urlset>"), ErrNotAFeed, "not a recognisable"},
		{"broken json", []byte(`{"version":"https://jsonfeed.org/version/1.1","items":[`), ErrMalformed, "malformed feed: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse(tt.body, base, now)
			if err == nil {
				t.Fatalf("parse succeeded: %+v", f)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			other := ErrMalformed
			if tt.is == ErrMalformed {
				other = ErrNotAFeed
			}
			if errors.Is(err, other) {
				t.Errorf("error %q is also %v", err, other)
			}
			if !strings.Contains(err.Error(), tt.inText) {
				t.Errorf("error %q does not say %q", err, tt.inText)
			}
		})
	}
}

func TestParseInputRepairs(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantTitle string
	}{
		{"invalid utf-8 inside a feed", "<rss><channel><item><title>ВТБ \xff\xfe Китай</title></item></channel></rss>", "ВТБ \uFFFD Китай"},
		{"byte order mark", "\xef\xbb\xbf<rss><channel><item><title>BOM</title></item></channel></rss>", "BOM"},
		// The body is UTF-8 already; the stale declaration must not make the
		// decoder read it as windows-1251 a second time.
		{"stale encoding declaration", `<?xml version="1.0" encoding="windows-1251"?>` + "\n<rss><channel><item><title>Привет</title></item></channel></rss>", "Привет"},
		{"control characters", "<rss><channel><item><title>a\x01b\x0bc</title></item></channel></rss>", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse([]byte(tt.body), "", now)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(f.Items) != 1 || f.Items[0].Title != tt.wantTitle {
				t.Errorf("items = %+q, want one titled %q", f.Items, tt.wantTitle)
			}
		})
	}
}

func TestParseDates(t *testing.T) {
	tests := []struct {
		name    string
		pubDate string
		want    time.Time
	}{
		{"ordinary", "Sun, 01 Jun 2025 09:00:00 +0300", date("2025-06-01T06:00:00Z")},
		{"a few hours ahead: clock skew, kept", "Sun, 01 Jun 2025 20:00:00 GMT", date("2025-06-01T20:00:00Z")},
		{"two days ahead: zeroed", "Tue, 03 Jun 2025 12:00:00 GMT", time.Time{}},
		{"epoch: zeroed", "Thu, 01 Jan 1970 00:00:00 GMT", time.Time{}},
		{"unparseable: zero", "yesterday-ish", time.Time{}},
		{"missing: zero", "", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf("<rss><channel><item><title>x</title><pubDate>%s</pubDate></item></channel></rss>", tt.pubDate)
			f, err := parse([]byte(body), "", now)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Items[0].Published; !got.Equal(tt.want) || got.IsZero() != tt.want.IsZero() {
				t.Errorf("published = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("item count", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("<rss><channel><title>many</title>")
		for i := range MaxItems + 200 {
			fmt.Fprintf(&b, "<item><title>item %d</title><link>https://x.example/%d</link></item>", i, i)
		}
		b.WriteString("</channel></rss>")
		f, err := parse([]byte(b.String()), "", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Items) != MaxItems {
			t.Fatalf("kept %d items, want %d", len(f.Items), MaxItems)
		}
		if last := f.Items[MaxItems-1].Title; last != fmt.Sprintf("item %d", MaxItems-1) {
			t.Errorf("last item = %q: the first items in feed order must be kept", last)
		}
	})
	t.Run("huge text and title", func(t *testing.T) {
		word := "сообщение "                              // 2-byte letters: a cut could split one
		huge := strings.Repeat("<p>"+word+"</p>", 60_000) // ~1.5 MB of HTML
		body := "<rss><channel><item><title>" + strings.Repeat("ВТБ ", 5000) + "</title><link>https://x.example/1</link>" +
			"<description><![CDATA[" + huge + "]]></description></item></channel></rss>"
		f, err := parse([]byte(body), "", now)
		if err != nil {
			t.Fatal(err)
		}
		it := f.Items[0]
		if len(it.Text) > MaxTextBytes || len(it.Text) < MaxTextBytes-100 {
			t.Errorf("text is %d bytes, want just under %d", len(it.Text), MaxTextBytes)
		}
		if len(it.Title) > maxTitle || len(it.Title) < maxTitle-10 {
			t.Errorf("title is %d bytes, want just under %d", len(it.Title), maxTitle)
		}
		if !utf8.ValidString(it.Text) || !utf8.ValidString(it.Title) {
			t.Error("cut in the middle of a character")
		}
		if !strings.HasPrefix(it.Text, "сообщение\nсообщение\n") {
			t.Errorf("text starts %q", it.Text[:40])
		}
	})
	t.Run("huge link dropped", func(t *testing.T) {
		body := "<rss><channel><item><title>t</title><link>https://x.example/" + strings.Repeat("a", maxURL) + "</link></item></channel></rss>"
		f, err := parse([]byte(body), "", now)
		if err != nil {
			t.Fatal(err)
		}
		if f.Items[0].URL != "" {
			t.Errorf("kept a %d-byte link", len(f.Items[0].URL))
		}
	})
}

func TestParseUsesBaseURLOnlyWhenWeb(t *testing.T) {
	body := []byte("<rss><channel><item><title>t</title><link>/a</link></item></channel></rss>")
	for _, tt := range []struct{ base, want string }{
		{"https://site.example/feed", "https://site.example/a"},
		{"", ""},
		{"file:///etc/passwd", ""},
		{"::not a url", ""},
	} {
		f, err := parse(body, tt.base, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Items[0].URL; got != tt.want {
			t.Errorf("base %q: url = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestParseGUIDStandsInForUnusableLink(t *testing.T) {
	body := []byte(`<rss><channel><item><title>t</title><link>/relative/without/base</link>` +
		`<guid isPermaLink="false">https://wp.example.com/?p=123</guid></item></channel></rss>`)
	f, err := parse(body, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Items[0].URL; got != "https://wp.example.com/?p=123" {
		t.Errorf("url = %q, want the guid", got)
	}
}

func TestToText(t *testing.T) {
	tests := []struct {
		name, in string
		oneLine  bool
		want     string
	}{
		{"empty", "", false, ""},
		{"plain", "  Hello,\t  world  ", false, "Hello, world"},
		{"plain keeps lines", "one\n\n\ntwo\r\nthree", false, "one\ntwo\nthree"},
		{"plain entities", "AT&amp;T &laquo;ВТБ&raquo;", false, "AT&T «ВТБ»"},
		{"less-than is not a tag", "2 < 3 and 5 > 4", false, "2 < 3 and 5 > 4"},
		{"blocks", "<div>a</div><div>b<br>c</div><ul><li>d</li><li>e</li></ul>", false, "a\nb\nc\nd\ne"},
		{"inline", "<p>a <b>bold</b><i>italic</i> <a href='x'>link</a></p>", false, "a bolditalic link"},
		{"source newlines are spaces", "<p>one\ntwo</p>\n\n<p>three</p>", false, "one two\nthree"},
		{"entities", "<p>&lt;tag&gt; &amp; &#1042;&#x422;&#x411; &nbsp;x</p>", false, "<tag> & ВТБ x"},
		{"script and style", "<style>.a{}</style>a<script>var s='<p>x</p>';</script>b", false, "ab"},
		{"comments", "a<!-- hidden -->b", false, "ab"},
		{"one line", "<h1>Title</h1><p>sub</p>", true, "Title sub"},
		{"one line plain", "Title\nsub", true, "Title sub"},
		{"nested skip", "<svg><svg>x</svg>y</svg>z", false, "z"},
		{"stray end tag", "a</script>b", false, "ab"},
		{"self-closing svg", "a<svg/>b", false, "ab"},
		{"minified blocks", "<h1>Газпром нарастил добычу</h1><time>2026-12-01T18:26:54Z</time><p>Компания</p>", false, "Газпром нарастил добычу\n2026-12-01T18:26:54Z\nКомпания"},
		{"minified blocks, one line", "<h1>Газпром</h1><time>2026-12-01</time><p>Компания</p>", true, "Газпром 2026-12-01 Компания"},
		{"minified inline", "<b>Газ</b><i>пром</i>", true, "Газпром"},
		{"blocks inside a skipped element", "a<object><p>b</p></object>c", false, "ac"},
		// Never-closed elements do not swallow the rest: a browser shows an
		// unclosed <object>'s content (its fallback) too.
		{"unclosed object in a title", `safe<object classid="clsid:C932BA85"> description`, true, "safe description"},
		{"unclosed object in a body", "<p>a</p><object data='x.swf'><p>b</p>", false, "a\nb"},
		{"closed object", "a <object><param name='x'>fallback</object> b", false, "a b"},
		{"unclosed svg", "a <svg><p>b</p>", false, "a\nb"},
		{"unclosed script in a body", "<p>a</p><script>var x = '<p>b</p>';", false, "a"},
		{"unclosed script in a title", "a <script>b", true, "a b"},
		{"unclosed iframe in a title", `safe<iframe src="https://x.example/"> description`, true, "safe description"},
		{"unclosed inside closed", "a <object>b <object>c</object> d", true, "a b d"},
		{"unclosed, many", strings.Repeat("<object>x ", 100), true, strings.TrimSpace(strings.Repeat("x ", maxStrayPasses-1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toText(tt.in, 1000, tt.oneLine); got != tt.want {
				t.Errorf("toText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestToTextLimit(t *testing.T) {
	for _, in := range []string{"ВТБ ВТБ ВТБ", "<p>ВТБ</p><p>ВТБ</p><p>ВТБ</p>"} {
		for limit := range 14 {
			got := toText(in, limit, false)
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("toText(%q, %d) = %q", in, limit, got)
			}
		}
	}
}

// FuzzParse checks that no body makes Parse panic and that what it returns
// keeps its promises. The seed corpus (testdata files and the cases below)
// runs with every go test.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "<", "{", "<rss>", "<feed>", "<rdf:RDF>", `{"items":[{}]}`, `{"items":[null]}`,
		"<rss><channel><item><link>javascript:x</link></item></channel></rss>",
		"<rss><channel><item><description>&lt;p&gt;&lt;script&gt;</description></item></channel></rss>",
		"<rss><channel><link>http://[::1</link><item><link>%zz</link><title>t</title></item></channel></rss>",
		"\xef\xbb\xbf<?xml encoding='koi8-r'?><rss/>",
		"<rss><channel><item><title>a</title></item><item><title>b", "junk<?xml?><feed><entry><title>x</title></entry>",
		"<feed><entry><title type='html'>a&lt;object&gt;b</title><title mode='base64'>!!</title></entry></feed",
		"<rss><channel><item><title>a < b</titel></item></item><x:y/></channel></rss><rss>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		feed, err := parse(body, base, now)
		if err != nil {
			if !errors.Is(err, ErrNotAFeed) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %q is neither ErrNotAFeed nor ErrMalformed", err)
			}
			return
		}
		if len(feed.Items) > MaxItems {
			t.Fatalf("%d items", len(feed.Items))
		}
		if feed.Broken != "" && (!strings.HasPrefix(feed.Broken, "malformed XML (") || len(feed.Items) == 0) {
			t.Fatalf("Broken %q with %d items", feed.Broken, len(feed.Items))
		}
		for _, it := range feed.Items {
			if it.URL == "" && it.GUID == "" && it.Title == "" {
				t.Fatalf("item without identity: %+q", it)
			}
			if len(it.Text) > MaxTextBytes || !utf8.ValidString(it.Text) || !utf8.ValidString(it.Title) {
				t.Fatalf("bad text in %+q", it)
			}
			if it.URL != "" && !strings.HasPrefix(it.URL, "http://") && !strings.HasPrefix(it.URL, "https://") {
				t.Fatalf("non-web url %q", it.URL)
			}
			if it.Published.After(now.Add(futureSlack)) {
				t.Fatalf("future date %v", it.Published)
			}
		}
	})
}

// benchFeed is a 50-item RSS 2.0 feed in Russian. With full, every item
// carries ~4 KB of HTML content (a 200 KB feed, like sites that put whole
// articles in the feed); without, a one-sentence description (a 20 KB
// feed, the common case for news sites).
func benchFeed(full bool) []byte {
	sentences := []string{
		"Банк ВТБ активно прорабатывает инициативу по созданию специализированного центра компетенций в области искусственного интеллекта (ИИ) на территории Китая.",
		"Основная цель такого центра — ускоренное тестирование устройств, использующих технологии ИИ, непосредственно на китайской территории.",
		"В настоящее время Китай располагает избыточными ресурсами в этой сфере, что делает его привлекательным партнером для развития высокотехнологичных проектов.",
		"ВТБ уже имеет представительство в Шанхае, что может упростить логистические и организационные аспекты создания нового центра.",
		"Huawei является партнером ВТБ по созданию лабораторий, предназначенных для тестирования инфраструктурных решений.",
		"Хотя представители ВТБ и T1 отказались от подробных комментариев по данному вопросу, сам факт проработки такой инициативы свидетельствует о серьезных намерениях банка.",
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Бенчмарк</title><link>https://bench.example.ru/</link>`)
	for i := range 50 {
		fmt.Fprintf(&b, "<item><title>Новость номер %d: ВТБ и Китай</title><link>/news/%d?utm_source=rss</link><guid>bench-%d</guid>", i, i, i)
		fmt.Fprintf(&b, "<pubDate>Mon, 13 Jan 2025 %02d:%02d:00 +0300</pubDate>", i%24, i%60)
		fmt.Fprintf(&b, "<description>%s</description>", sentences[i%len(sentences)])
		if full {
			b.WriteString("<content:encoded><![CDATA[")
			for j := range 12 {
				fmt.Fprintf(&b, "<p>%s <a href=\"/tag/%d\">тег</a></p>\n", sentences[(i+j)%len(sentences)], j)
			}
			b.WriteString("]]></content:encoded>")
		}
		b.WriteString("</item>\n")
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

func BenchmarkParse50Items(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "descriptions"
		if full {
			name = "full-content"
		}
		body := benchFeed(full)
		b.Run(fmt.Sprintf("%s-%dKB", name, len(body)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				f, err := Parse(body, "https://bench.example.ru/rss")
				if err != nil || len(f.Items) != 50 {
					b.Fatalf("parse: %v", err)
				}
			}
		})
	}
}

// TestDecode checks the whole step from fetched bytes to a feed, charset
// included; the corpus test runs it on real feeds.
func TestDecode(t *testing.T) {
	const title = "ВТБ рассматривает создание ИИ-центра в Китае"
	rss := func(prolog string) string {
		return prolog + "<rss><channel><title>Новости</title><item><title>" + title + "</title><link>/a/1</link></item></channel></rss>"
	}
	cp1251 := func(s string) []byte {
		b, err := charmap.Windows1251.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name, contentType string
		body              []byte
	}{
		{"utf-8", "application/rss+xml; charset=utf-8", []byte(rss(`<?xml version="1.0" encoding="utf-8"?>`))},
		{"windows-1251 in the prolog", "text/xml", cp1251(rss(`<?xml version="1.0" encoding="windows-1251"?>`))},
		{"windows-1251 in the header only", "text/xml; charset=windows-1251", cp1251(rss(`<?xml version="1.0"?>`))},
		{"windows-1251 labelled utf-8", "text/xml; charset=utf-8", cp1251(rss(`<?xml version="1.0" encoding="utf-8"?>`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.body, tt.contentType, "https://news.example.ru/rss")
			if err != nil {
				t.Fatal(err)
			}
			if f.Title != "Новости" || len(f.Items) != 1 || f.Items[0].Title != title || f.Items[0].URL != "https://news.example.ru/a/1" {
				t.Errorf("got %+v", f)
			}
		})
	}
	for _, body := range [][]byte{nil, []byte(" \r\n")} {
		if _, err := Decode(body, "text/xml", ""); !errors.Is(err, ErrNotAFeed) || !strings.Contains(err.Error(), "empty body") {
			t.Errorf("Decode(%q) error = %v, want an empty-body ErrNotAFeed", body, err)
		}
	}
	if _, err := Decode(readTestdata(t, "html_page.html"), "text/html; charset=utf-8", ""); !errors.Is(err, ErrNotAFeed) {
		t.Errorf("html page: error = %v, want ErrNotAFeed", err)
	}
}

// Bidi controls never reach a stored title or text: U+202E would make
// "гдп.exe" display as "exe.пдг".
func TestParseDropsBidiControls(t *testing.T) {
	doc := "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Лента</title><item><title>Отчёт \u202eгдп.exe\u202c за квартал</title>" +
		"<link>https://example.com/1</link><description>Текст \u2066с изолятом\u2069 и \u200fметкой.</description></item></channel></rss>"
	f, err := Parse([]byte(doc), "https://example.com/rss")
	if err != nil {
		t.Fatal(err)
	}
	it := f.Items[0]
	if it.Title != "Отчёт гдп.exe за квартал" || it.Text != "Текст с изолятом и меткой." {
		t.Errorf("title %q, text %q", it.Title, it.Text)
	}
}
