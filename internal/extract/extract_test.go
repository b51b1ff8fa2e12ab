package extract

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
)

// readSeed reads one of the project's seed articles. They hold the expected
// article text; the pages under testdata/ are self-contained copies.
func readSeed(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name))
	if err != nil {
		t.Fatalf("seed article missing: %v", err)
	}
	return string(b)
}

func readPage(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// finextraBody is the article body of the Finextra seed: its paragraphs
// from "According to…" to "…payment system Swift.", boilerplate excluded.
func finextraBody(t *testing.T) []string {
	t.Helper()
	var paras []string
	in := false
	for _, l := range strings.Split(readSeed(t, "finextra-sberbank-china-ai.en.txt"), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "According to Russian state news agency TASS") {
			in = true
		}
		if in && l != "" {
			paras = append(paras, l)
		}
		if strings.HasSuffix(l, "international payment system Swift.") {
			break
		}
	}
	if len(paras) != 5 {
		t.Fatalf("finextra seed: found %d body paragraphs, want 5", len(paras))
	}
	return paras
}

const vtbTitle = "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований"

// vtbBody is the VTB seed's article text: one run of sentences after the
// title, which the seed repeats.
func vtbBody(t *testing.T) string {
	t.Helper()
	seed := readSeed(t, "vtb-ai-centre-china.ru.txt")
	i := strings.LastIndex(seed, vtbTitle)
	if i < 0 {
		t.Fatal("vtb seed: title not found")
	}
	return strings.TrimSpace(seed[i+len(vtbTitle):])
}

func paragraphs(text string) []string {
	return strings.Split(text, "\n\n")
}

func TestTextFinextra(t *testing.T) {
	res, err := Text(readPage(t, "finextra-sberbank-china-ai.html"),
		"https://www.finextra.com/newsarticle/45195/putin-orders-russian-bank-to-cooperate-with-china-on-ai")
	if err != nil {
		t.Fatal(err)
	}
	body := finextraBody(t)
	got := paragraphs(res.Text)
	for _, p := range body {
		if !slices.Contains(got, p) {
			t.Errorf("paragraph missing or merged: %q", p)
		}
	}
	// Nothing but the article: every paragraph is the title or the body.
	for _, p := range got {
		if p != res.Title && !slices.Contains(body, p) {
			t.Errorf("unexpected paragraph %q", p)
		}
	}
	if !strings.Contains(res.Text, "ordered the government and Sberbank") {
		t.Error("key sentence missing")
	}
	for _, junk := range []string{
		"We use cookies", "Cookie Centre", "Related news", "Be the first to comment",
		"Behavioural Biometrics", "Share", "Sign in", "Webinars", "Russia urges Brics",
		"Comments:", "Finextra Promoted", "Related Company", "All rights reserved",
		"editorial team",
	} {
		if strings.Contains(res.Text, junk) {
			t.Errorf("boilerplate %q in text", junk)
		}
	}
	if want := "Putin orders Russian bank to cooperate with China on AI"; res.Title != want {
		t.Errorf("title = %q, want %q", res.Title, want)
	}
	if res.Lang != "en" {
		t.Errorf("lang = %q, want en", res.Lang)
	}
	if y, m, d := res.Published.Date(); y != 2025 || m != time.January || d != 2 {
		t.Errorf("published = %v, want 2025-01-02", res.Published)
	}
	if res.Truncated {
		t.Error("truncated")
	}
}

func TestTextRussian(t *testing.T) {
	res, err := Text(readPage(t, "vtb-ai-centre-china.html"),
		"https://delovoy-vestnik.ru/finance/2025/01/14/vtb-ai-centre-china")
	if err != nil {
		t.Fatal(err)
	}
	got := paragraphs(res.Text)
	if len(got) < 9 {
		t.Errorf("%d paragraphs, want the page's 9 (+ title): %q", len(got), res.Text)
	}
	// The page splits the seed's body into paragraphs; joined back, the
	// extracted text must be exactly the seed: nothing lost, nothing added.
	var body []string
	for _, p := range got {
		if p != vtbTitle {
			body = append(body, p)
		}
	}
	if joined, want := strings.Join(body, " "), vtbBody(t); joined != want {
		i := 0
		for i < len(joined) && i < len(want) && joined[i] == want[i] {
			i++
		}
		from := max(0, i-60)
		t.Errorf("body differs from seed at byte %d\n got: …%q\nwant: …%q",
			i, joined[from:min(len(joined), i+80)], want[from:min(len(want), i+80)])
	}
	if !strings.Contains(res.Text, "ВТБ уже имеет представительство в Шанхае") {
		t.Error("key sentence missing")
	}
	for _, junk := range []string{
		"Читайте также", "Подпишитесь", "Подписаться", "Поделиться", "ВКонтакте",
		"Одноклассники", "Telegram", "Политика", "Недвижимость", "Самое читаемое",
		"Все права защищены", "ВТБ разместит облигации", "Сбербанк открыл доступ",
		"USD 101", "Анна Крылова", "Искусственный интеллект",
	} {
		if strings.Contains(res.Text, junk) {
			t.Errorf("boilerplate %q in text", junk)
		}
	}
	if res.Title != vtbTitle {
		t.Errorf("title = %q, want %q", res.Title, vtbTitle)
	}
	if res.Lang != "ru" {
		t.Errorf("lang = %q, want ru", res.Lang)
	}
	if y, m, d := res.Published.Date(); y != 2025 || m != time.January || d != 14 {
		t.Errorf("published = %v, want 2025-01-14", res.Published)
	}
}

func TestTextHostile(t *testing.T) {
	page := readPage(t, "hostile.html")
	res, err := Text(page, "")
	if err != nil {
		t.Fatal(err)
	}
	got := paragraphs(res.Text)
	for _, p := range finextraBody(t) {
		if !slices.Contains(got, p) {
			t.Errorf("paragraph missing or merged: %q", p)
		}
	}
	for _, junk := range []string{
		"alert(", "pwned", "FAKE PARAGRAPH", "document.write", "commented out",
		"template text", "iframe text", "cdata text", "enable JavaScript",
		"foreign", "Menu item", "color:red", "<",
	} {
		if strings.Contains(res.Text, junk) {
			t.Errorf("%q in text", junk)
		}
	}
}

// A video page or paywall teaser has almost no text: the feed's description
// says more, and Best must choose it.
func TestTeaserFallsBackToFeed(t *testing.T) {
	const feedText = "Банк ВТБ прорабатывает создание центра компетенций в области " +
		"искусственного интеллекта в Китае. Площадка позволит тестировать устройства " +
		"с ИИ на месте, без ввоза в Россию; партнёрами выступают T1 и Huawei."
	res, err := Text(readPage(t, "video-teaser.html"), "https://biz-tv.ru/video/481516-vtb-ai-china")
	if err != nil && !errors.Is(err, ErrNoText) {
		t.Fatalf("err = %v, want nil or ErrNoText", err)
	}
	for _, junk := range []string{"Другие видео", "Курс рубля", "Прямой эфир", "Бизнес ТВ"} {
		if strings.Contains(res.Text, junk) {
			t.Errorf("boilerplate %q in text", junk)
		}
	}
	if got := Best(res.Text, feedText); got != feedText {
		t.Errorf("Best = %q, want the feed text", got)
	}
}

func TestTextErrors(t *testing.T) {
	tests := []struct {
		name string
		page string
		want error // nil: any error that is not ErrNoText or ErrTooLarge
	}{
		{"empty", "", ErrNoText},
		{"empty body", "<!DOCTYPE html><html><head><title>x</title></head><body></body></html>", ErrNoText},
		{"only scripts", "<html><body><script>var a = 'long text '.repeat(1000)</script><style>p{}</style></body></html>", ErrNoText},
		{"too large", "<p>" + strings.Repeat("a", MaxHTMLBytes) + "</p>", ErrTooLarge},
		{"nesting beyond the parser's limit", strings.Repeat("<div>", 100_000) + "<p>deep text</p>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Text(tt.page, "")
			if err == nil {
				t.Fatalf("no error, text %q", res.Text)
			}
			if !strings.HasPrefix(err.Error(), "extract: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (errors.Is(err, ErrNoText) || errors.Is(err, ErrTooLarge)) {
				t.Errorf("err = %v, want a parse error", err)
			}
			if res != (Result{}) {
				t.Errorf("result %+v with an error", res)
			}
		})
	}
}

func TestTextIgnoresBadURL(t *testing.T) {
	page := readPage(t, "finextra-sberbank-china-ai.html")
	want, err := Text(page, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"::not a url", "/relative/path", "http://[::1"} {
		got, err := Text(page, u)
		if err != nil {
			t.Fatalf("%q: %v", u, err)
		}
		if got.Text != want.Text {
			t.Errorf("%q: text differs", u)
		}
	}
}

func TestRunRecoversPanic(t *testing.T) {
	boom := func(*html.Node, trafilatura.Options) (*trafilatura.ExtractResult, error) {
		var m map[string]int
		m["x"]++ // assignment to a nil map panics
		return nil, nil
	}
	res, err := run("<p>text</p>", "", boom)
	if err == nil || !strings.Contains(err.Error(), "extract: extractor panicked") {
		t.Fatalf("err = %v, want a recovered panic", err)
	}
	if res != (Result{}) {
		t.Errorf("result %+v with an error", res)
	}
}

func TestTextTruncates(t *testing.T) {
	para := strings.Repeat("Банк ВТБ прорабатывает создание центра компетенций в Китае. ", 8)
	var b strings.Builder
	b.WriteString("<html><body><article><h1>Long read</h1>")
	n := 0
	for n <= MaxTextRunes+5000 {
		b.WriteString("<p>" + para + "</p>\n")
		n += utf8.RuneCountInString(para)
	}
	b.WriteString("</article></body></html>")
	res, err := Text(b.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated {
		t.Error("Truncated = false")
	}
	if n := utf8.RuneCountInString(res.Text); n > MaxTextRunes || n < MaxTextRunes*9/10 {
		t.Errorf("%d runes, want between 90%% of %d and %d", n, MaxTextRunes, MaxTextRunes)
	}
	if !strings.HasSuffix(res.Text, "в Китае.") {
		t.Errorf("cut inside a paragraph: …%q", res.Text[len(res.Text)-40:])
	}
}

func TestCapRunes(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"short", 10, "short", false},
		{"exactly10!", 10, "exactly10!", false},
		{"один два три", 8, "один два", true},                                 // no break in the last tenth: hard cut
		{"aaaa\n\nbbbbbbbbbbbbbbbbbbbb", 21, "aaaa\n\nbbbbbbbbbbbbbbb", true}, // break too early to use
		{"abcdefghij klm", 12, "abcdefghij", true},
		{"Привет мир", 3, "При", true},
	}
	for _, tt := range tests {
		got, cut := capRunes(tt.in, tt.max)
		if got != tt.want || cut != tt.cut {
			t.Errorf("capRunes(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.cut)
		}
		if utf8.RuneCountInString(got) > tt.max || !utf8.ValidString(got) {
			t.Errorf("capRunes(%q, %d) = %q: too long or invalid", tt.in, tt.max, got)
		}
	}
}

func TestRenderText(t *testing.T) {
	tests := []struct {
		name, html, want string
	}{
		{"paragraphs", "<p>One  two\n three.</p><p>Four.</p>", "One two three.\n\nFour."},
		{"line breaks", "<p>Line one<br>line two<br><br></p>", "Line one\nline two"},
		{"headings and lists", "<h2>Head</h2><ul><li>first</li><li>second</li></ul>", "Head\n\nfirst\n\nsecond"},
		{"table row", "<table><tr><th>Bank</th><th>Assets</th></tr><tr><td>Sber</td><td>1</td></tr></table>", "Bank | Assets\n\nSber | 1"},
		{"inline tags", "<p>a <b>bold</b> and <i>it</i>alic</p>", "a bold and italic"},
		{"script skipped", "<p>text<script>alert(1)</script></p>", "text"},
		{"soft hyphen and nbsp", "<p>сбер\u00adбанк&nbsp;&nbsp;ВТБ</p>", "сбербанк ВТБ"},
		{"NFC", "<p>e\u0301</p>", "\u00e9"},
		{"promotions dropped", "<p>Real text.</p><p>Подписывайтесь на наш канал в Telegram</p><p>Подписаться</p>", "Real text."},
		{"empty", "<div> <p> </p></div>", ""},
		{"minified blocks", "<h1>Head</h1><time>2026-12-01</time><p>Body</p><nav>Menu</nav><form>Form</form>", "Head\n\n2026-12-01\n\nBody\n\nMenu\n\nForm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := html.Parse(strings.NewReader("<html><body>" + tt.html + "</body></html>"))
			if err != nil {
				t.Fatal(err)
			}
			if got := renderText(doc); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := renderText(nil); got != "" {
		t.Errorf("renderText(nil) = %q", got)
	}
}

func TestIsPromo(t *testing.T) {
	tests := []struct {
		p    string
		want bool
	}{
		{"Подпишитесь на Telegram-канал «Деловой вестник», чтобы первыми узнавать новости.", true},
		{"Читайте также: Сбербанк открыл доступ к GigaChat", true},
		{"Подписаться", true},
		{"Share", true},
		{"Subscribe to our newsletter.", true},
		{"Shares in Sberbank fell 3% on Monday.", false},
		{"Подписание соглашения ВТБ и Huawei состоялось в Шанхае.", false},
		{"Подпишитесь " + strings.Repeat("очень длинный абзац настоящего текста ", 10), false},
	}
	for _, tt := range tests {
		if got := isPromo(tt.p); got != tt.want {
			t.Errorf("isPromo(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestBest(t *testing.T) {
	tests := []struct {
		name, extracted, feed, want string
	}{
		{"extraction longer", "Full article text, much longer than the lead.", "Lead.", "Full article text, much longer than the lead."},
		{"extraction failed", "", "Lead from the feed.", "Lead from the feed."},
		{"extraction shorter", "Watch the video.", "The bank is considering an AI centre in China.", "The bank is considering an AI centre in China."},
		{"equal keeps extraction", "abc def", "xyz uvw", "abc def"},
		{"layout does not count", "one\n\ntwo   three", "one two three", "one\n\ntwo   three"},
		{"runes, not bytes", "ВТБ и Китай", "VTB & China!", "VTB & China!"},
		{"both empty", " ", "", ""},
		{"trimmed", "  Body text here.\n", "", "Body text here."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Best(tt.extracted, tt.feed); got != tt.want {
				t.Errorf("Best(%q, %q) = %q, want %q", tt.extracted, tt.feed, got, tt.want)
			}
		})
	}
}

// BenchmarkText measures whole extraction on typical news pages; the target
// is under 5 ms a page.
func BenchmarkText(b *testing.B) {
	for _, name := range []string{"finextra-sberbank-china-ai.html", "vtb-ai-centre-china.html", "video-teaser.html"} {
		page := readPage(b, name)
		b.Run(strings.TrimSuffix(name, ".html"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				if _, err := Text(page, "https://example.com/news/1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The article of a minified page: no whitespace between any tags, as the
// report that had «…добычу в Арктике2026-12-01T18:26:54ZКомпания увеличила…»
// reach the summary prompt.
const (
	minifiedHead = "Газпром нарастил добычу в Арктике"
	minifiedTime = "2026-12-01T18:26:54Z"
	minifiedP1   = "Компания увеличила добычу газа на арктических месторождениях на 12 процентов по сравнению с прошлым годом, сообщила пресс-служба «Газпром нефти»."
	minifiedP2   = "Рост обеспечен вводом новых скважин на Ямале и модернизацией инфраструктуры."
	minifiedP3   = "В следующем году компания планирует запустить ещё два месторождения на шельфе Карского моря и увеличить добычу ещё на 8 процентов."
)

func minifiedPage(body string) string {
	return `<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>` + minifiedHead + `</title></head><body>` +
		`<header><nav><a href="/">Главная</a><a href="/news">Новости</a></nav></header>` + body +
		`<footer>© 2026 Пример</footer></body></html>`
}

// TestTextMinifiedPage checks that block elements stay separate paragraphs
// with nothing between their tags, on both of trafilatura's paths: the main
// extraction (enough text) and its rescue (too little), which flattens
// whole elements; and that inline elements stay glued as in a browser.
func TestTextMinifiedPage(t *testing.T) {
	tests := []struct {
		name, page string
		want       []string
	}{
		{"short article, rescue path", minifiedPage(`<article><h1>` + minifiedHead + `</h1><time datetime="` + minifiedTime + `">` + minifiedTime + `</time><p>` + minifiedP1 + `</p></article>`),
			[]string{minifiedHead, minifiedTime, minifiedP1}},
		{"short page without article", minifiedPage(`<div><h1>` + minifiedHead + `</h1><time>` + minifiedTime + `</time><p>` + minifiedP2 + `</p></div>`),
			[]string{minifiedHead, minifiedTime, minifiedP2}},
		{"long article, main path", minifiedPage(`<article><h1>` + minifiedHead + `</h1><time>` + minifiedTime + `</time><p>` + minifiedP1 + `</p><p>` + minifiedP2 + `</p><p>` + minifiedP3 + `</p></article>`),
			[]string{minifiedP1, minifiedP2, minifiedP3}},
		{"divs and spans", minifiedPage(`<div><h2>` + minifiedHead + `</h2><span>` + minifiedTime + `</span><div>` + minifiedP1 + `</div><div>` + minifiedP2 + `<br>` + minifiedP3 + `</div></div>`),
			[]string{minifiedHead, minifiedTime, minifiedP1, minifiedP2 + "\n" + minifiedP3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Text(tt.page, "https://news.example.ru/2026/12/01/arctic")
			if err != nil {
				t.Fatal(err)
			}
			got := paragraphs(res.Text)
			// Each wanted paragraph must be there whole, in order; the
			// main path may leave the heading and date out.
			i := 0
			for _, p := range got {
				if i < len(tt.want) && p == tt.want[i] {
					i++
				}
			}
			if i != len(tt.want) {
				t.Errorf("paragraphs %q, want %q among them in order", got, tt.want)
			}
			for _, glued := range []string{"Арктике2026", "54ZКомпания", "пресс-служба«", "инфраструктуры.В"} {
				if strings.Contains(res.Text, glued) {
					t.Errorf("text glues blocks together (%q): %q", glued, res.Text)
				}
			}
		})
	}
}

// TestSeparateBlocks checks where line breaks go: between blocks and what
// touches them, never between inline elements.
func TestSeparateBlocks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<h1>a</h1><time>b</time><p>c</p>", "a|b|c"},
		{"<b>a</b><i>b</i>c", "abc"},
		{"a<br>b", "a|b"},
		{"<span>a<div>b</div></span>c", "a|b|c"},
		{"<p>a</p> <p>b</p>", "a b"},
		{"<table><tr><td>a</td><td>b</td></tr></table>", "a|b"},
		{"<ul><li>a</li><!-- x --><li>b</li></ul>", "a|b"},
	}
	for _, tt := range tests {
		doc, err := html.Parse(strings.NewReader("<html><body>" + tt.in + "</body></html>"))
		if err != nil {
			t.Fatal(err)
		}
		separateBlocks(doc)
		var b strings.Builder
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.TextNode {
				b.WriteString(n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		// Runs of whitespace are one space to a reader, as to a browser.
		got := strings.Join(strings.FieldsFunc(b.String(), func(r rune) bool { return r == '\n' }), "|")
		if got != tt.want {
			t.Errorf("%s: text %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnflatten checks the repair of trafilatura's flattened rescue on its
// own, and that structured output and paragraphs from elsewhere are kept.
func TestUnflatten(t *testing.T) {
	page := "<html><body><aside>Ad</aside><article><h1>Head</h1><p>One.</p><script>x()</script><p>Two.</p></article></body></html>"
	content := func(paras ...string) *html.Node {
		body := &html.Node{Type: html.ElementNode, Data: "body"}
		for _, p := range paras {
			el := &html.Node{Type: html.ElementNode, Data: "p"}
			el.AppendChild(&html.Node{Type: html.TextNode, Data: p})
			body.AppendChild(el)
		}
		return body
	}
	tests := []struct {
		name    string
		content *html.Node
		want    string
	}{
		{"flattened article", content("Head One. Two."), "Head\n\nOne.\n\nTwo."},
		{"flattened article after a paragraph it repeats", content("One.", "Head One. Two."), "Head\n\nOne.\n\nTwo."},
		{"text from elsewhere", content("Head One. Two. Three."), "Head One. Two. Three."},
		{"ordinary paragraphs", content("One.", "Two."), "One.\n\nTwo."},
	}
	for _, tt := range tests {
		doc, err := html.Parse(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		separateBlocks(doc)
		unflatten(tt.content, doc)
		if got := renderText(tt.content); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
