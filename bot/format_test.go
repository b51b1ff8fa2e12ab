package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"dozor/storage"
)

// parseAlertHTML parses s with the subset of Telegram's HTML rules that
// alert messages may use: the tags b, i and a (with a double-quoted href),
// the entities &lt; &gt; &amp; &quot;, every tag closed in order. It
// returns the text the user sees and the links' targets.
func parseAlertHTML(s string) (plain string, links []string, err error) {
	var out strings.Builder
	var stack []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '&':
			semi := strings.IndexByte(s[i:], ';')
			if semi < 0 {
				return "", nil, fmt.Errorf("bare & at %d", i)
			}
			switch s[i : i+semi+1] {
			case "&lt;":
				out.WriteByte('<')
			case "&gt;":
				out.WriteByte('>')
			case "&amp;":
				out.WriteByte('&')
			case "&quot;":
				out.WriteByte('"')
			default:
				return "", nil, fmt.Errorf("unknown entity %q at %d", s[i:i+semi+1], i)
			}
			i += semi + 1
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", nil, fmt.Errorf("unclosed tag at %d", i)
			}
			tag := s[i+1 : i+end]
			i += end + 1
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", nil, fmt.Errorf("unmatched </%s>", name)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			switch {
			case tag == "b" || tag == "i":
				stack = append(stack, tag)
			case strings.HasPrefix(tag, `a href="`) && strings.HasSuffix(tag, `"`):
				raw := tag[len(`a href="`) : len(tag)-1]
				if strings.ContainsAny(raw, `"<>`) {
					return "", nil, fmt.Errorf("unescaped character in href %q", raw)
				}
				href, _, err := parseAlertHTML(raw)
				if err != nil {
					return "", nil, fmt.Errorf("href %q: %w", raw, err)
				}
				links = append(links, href)
				stack = append(stack, "a")
			default:
				return "", nil, fmt.Errorf("tag <%s> not allowed", tag)
			}
		case '>':
			return "", nil, fmt.Errorf("bare > at %d", i)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", nil, fmt.Errorf("invalid UTF-8 at %d", i)
			}
			out.WriteString(s[i : i+n])
			i += n
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("unclosed <%s>", stack[len(stack)-1])
	}
	return out.String(), links, nil
}

// countUTF16Units counts independently of the code under test.
func countUTF16Units(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func alertTestLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func alertTestView() AlertView {
	pub := time.Date(2026, 11, 22, 11, 5, 0, 0, time.UTC)
	return AlertView{
		Article: storage.Article{
			ID: 7, StoryID: 3, URL: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
			Title: "ВТБ открыл отделение в Шанхае", Source: "RBC",
			Published: pub, Fetched: pub.Add(time.Minute),
		},
		Story:   storage.Story{ID: 3, Title: "ВТБ открыл отделение в Шанхае"},
		Summary: &storage.Summary{StoryID: 3, Lang: "ru", Text: "Банк расширяет присутствие в Китае. Отделение начнёт работу в декабре."},
		Topics:  []string{"vtb-china", "sber"},
	}
}

func TestFormatAlertHostileText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mod      func(*AlertView)
		wantText []string // must appear in what the user sees
		wantLink string   // "" means the title must not be a link
	}{
		{
			name:     "script tag in title",
			mod:      func(v *AlertView) { v.Article.Title = "<script>alert(1)</script>" },
			wantText: []string{"<script>alert(1)</script>"},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
		{
			name:     "literal entity stays literal",
			mod:      func(v *AlertView) { v.Article.Title = "AT&amp;T &lt;b&gt;" },
			wantText: []string{"AT&amp;T &lt;b&gt;"},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
		{
			name: "comparison operators everywhere",
			mod: func(v *AlertView) {
				v.Article.Title = "a < b & c > d"
				v.Article.Source = "R&D <News>"
				v.Summary.Text = `x < y & "z" > w`
				v.Summary.KeyPoints = []string{"1 < 2", "3 > 2 & 2 > 1"}
				v.Topics = []string{"a&b", "<t>"}
				v.AlsoIn = []string{"T&C", `"Q"`}
			},
			wantText: []string{"a < b & c > d", "R&D <News>", `x < y & "z" > w`, "• 1 < 2", "• 3 > 2 & 2 > 1", "a&b, <t>", `T&C, "Q"`},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
		{
			name:     "unbalanced bold",
			mod:      func(v *AlertView) { v.Article.Title = "<b>breaking"; v.Summary.Text = "</b></i>" },
			wantText: []string{"<b>breaking", "</b></i>"},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
		{
			name:     "quotes in URL",
			mod:      func(v *AlertView) { v.Article.URL = `https://x.example/?a="><script>` },
			wantText: []string{"ВТБ открыл отделение в Шанхае"},
			wantLink: `https://x.example/?a="><script>`,
		},
		{
			name:     "javascript URL",
			mod:      func(v *AlertView) { v.Article.URL = "javascript:alert(1)" },
			wantText: []string{"ВТБ открыл отделение в Шанхае"},
		},
		{
			name:     "data URL",
			mod:      func(v *AlertView) { v.Article.URL = "data:text/html,<b>x</b>" },
			wantText: []string{"ВТБ открыл отделение в Шанхае"},
		},
		{
			name:     "relative URL",
			mod:      func(v *AlertView) { v.Article.URL = "/news/1" },
			wantText: []string{"ВТБ открыл отделение в Шанхае"},
		},
		{
			name:     "control characters and invalid UTF-8",
			mod:      func(v *AlertView) { v.Article.Title = "a\x00b\x1b[31m\xffc\r\nd" },
			wantText: []string{"ab[31m\uFFFDc d"},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
		{
			name:     "empty title",
			mod:      func(v *AlertView) { v.Article.Title = "  "; v.Story.Title = "" },
			wantText: []string{"(без заголовка)"},
			wantLink: "https://www.rbc.ru/finances/22/11/2026/vtb.html",
		},
	}
	loc := alertTestLoc(t, "Europe/Moscow")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := alertTestView()
			sum := *v.Summary
			v.Summary = &sum
			tt.mod(&v)
			html := FormatAlert(v, "ru", loc)
			plain, links, err := parseAlertHTML(html)
			if err != nil {
				t.Fatalf("invalid Telegram HTML: %v\n%s", err, html)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(plain, w) {
					t.Errorf("visible text lacks %q:\n%s", w, plain)
				}
			}
			if tt.wantLink == "" && len(links) > 0 {
				t.Errorf("links = %q, want none", links)
			}
			if tt.wantLink != "" && (len(links) != 1 || links[0] != tt.wantLink) {
				t.Errorf("links = %q, want [%q]", links, tt.wantLink)
			}
			if strings.Contains(strings.ToLower(html), "<script") {
				t.Errorf("raw <script in output:\n%s", html)
			}
			// The plain rendering shows the same text, without markup.
			p := FormatPlain(v, "ru", loc)
			for _, w := range tt.wantText {
				if !strings.Contains(p, w) {
					t.Errorf("plain text lacks %q:\n%s", w, p)
				}
			}
			if tt.wantLink != "" && !strings.Contains(p, "\n"+tt.wantLink+"\n") {
				t.Errorf("plain text lacks the URL on its own line:\n%s", p)
			}
			if tt.wantLink == "" && strings.Contains(p, v.Article.URL) {
				t.Errorf("plain text shows a non-http URL:\n%s", p)
			}
		})
	}
}

func TestFormatAlertLayout(t *testing.T) {
	t.Parallel()
	loc := alertTestLoc(t, "Europe/Moscow")
	v := alertTestView()
	v.Summary.KeyPoints = []string{"one", "two", "three", "four"}
	v.Summary.Extractive = true
	v.AlsoIn = []string{"TASS", "Interfax", "TASS"}
	tests := []struct {
		lang string
		want []string
		not  []string
	}{
		{"ru", []string{
			"ВТБ открыл отделение в Шанхае\nRBC · 22 ноя 2026 14:05 MSK\nТемы: vtb-china, sber\nТакже: TASS, Interfax\n\nБанк расширяет присутствие в Китае. Отделение начнёт работу в декабре. (автовыдержка)\n• one\n• two\n• three",
		}, []string{"four"}},
		{"en", []string{
			"ВТБ открыл отделение в Шанхае\nRBC · 22 Nov 2026 14:05 MSK\nTopics: vtb-china, sber\nAlso in: TASS, Interfax\n\n",
			"(auto-extract)",
		}, []string{"four", "автовыдержка"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			html := FormatAlert(v, tt.lang, loc)
			plain, _, err := parseAlertHTML(html)
			if err != nil {
				t.Fatalf("invalid HTML: %v\n%s", err, html)
			}
			for _, w := range tt.want {
				if !strings.Contains(plain, w) {
					t.Errorf("missing %q in:\n%s", w, plain)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(plain, n) {
					t.Errorf("unexpected %q in:\n%s", n, plain)
				}
			}
			if !strings.HasPrefix(html, `<b><a href="https://www.rbc.ru/finances/22/11/2026/vtb.html">`) {
				t.Errorf("title is not a bold link: %s", html)
			}
		})
	}
	t.Run("no summary", func(t *testing.T) {
		v := alertTestView()
		v.Summary = nil
		v.Topics = nil
		plain, _, err := parseAlertHTML(FormatAlert(v, "en", time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if want := "ВТБ открыл отделение в Шанхае\nRBC · 22 Nov 2026 11:05 UTC"; plain != want {
			t.Errorf("got %q, want %q", plain, want)
		}
	})
}

func TestFormatAlertLimits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Длинный заголовок ", 600)[:10000]
	emoji := strings.Repeat("😀", 5000) // 10,000 UTF-16 units
	tests := []struct {
		name        string
		mod         func(*AlertView)
		keepSummary bool // the summary is short enough to stay whole
	}{
		{"10000-character title", func(v *AlertView) { v.Article.Title = strings.Repeat("x", 10000) }, true},
		{"long Cyrillic title", func(v *AlertView) { v.Article.Title = long }, true},
		{"long summary", func(v *AlertView) { v.Summary.Text = strings.Repeat("a < b & c. ", 1000) }, false},
		{"title and summary long", func(v *AlertView) {
			v.Article.Title = strings.Repeat("<&>", 3000)
			v.Summary.Text = strings.Repeat("\"&\" ", 3000)
		}, false},
		{"emoji surrogate pairs", func(v *AlertView) { v.Article.Title = emoji; v.Summary.Text = emoji }, false},
		{"emoji title, odd budget", func(v *AlertView) { v.Article.Title = "a" + emoji }, true},
		{"huge source and topics", func(v *AlertView) {
			v.Article.Source = strings.Repeat("S&", 3000)
			v.AlsoIn = []string{strings.Repeat("A", 5000), strings.Repeat("B", 5000)}
			v.Summary.KeyPoints = []string{strings.Repeat("k", 5000), strings.Repeat("k", 5000), strings.Repeat("k", 5000)}
		}, true},
		{"very long URL", func(v *AlertView) {
			v.Article.URL = "https://x.example/" + strings.Repeat("p", 5000)
			v.Article.Title = strings.Repeat("t", 5000)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := alertTestView()
			sum := *v.Summary
			v.Summary = &sum
			tt.mod(&v)
			html := FormatAlert(v, "ru", time.UTC)
			plain, _, err := parseAlertHTML(html)
			if err != nil {
				t.Fatalf("invalid HTML: %v", err)
			}
			if n := countUTF16Units(plain); n > 4096 {
				t.Errorf("HTML message is %d UTF-16 units, over 4096", n)
			}
			if n := countUTF16Units(plain); n < 3000 {
				t.Errorf("HTML message is only %d UTF-16 units: truncated too much", n)
			}
			if !utf8.ValidString(html) || strings.ContainsRune(plain, utf8.RuneError) {
				t.Errorf("cut inside a character")
			}
			if !strings.Contains(plain, "…") {
				t.Errorf("no ellipsis marks the cut")
			}
			if tt.keepSummary && !strings.Contains(plain, v.Summary.Text) {
				t.Errorf("summary was cut although the title was the long part")
			}
			if !strings.Contains(plain, "RBC · 22 ноя 2026 11:05 UTC") && v.Article.Source == "RBC" {
				t.Errorf("source line lost:\n%.300s", plain)
			}
			p := FormatPlain(v, "ru", time.UTC)
			if n := countUTF16Units(p); n > 4096 {
				t.Errorf("plain message is %d UTF-16 units, over 4096", n)
			}
			if !utf8.ValidString(p) {
				t.Errorf("plain text cut inside a character")
			}
		})
	}
}

func TestTruncateUTF16(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"hello world", 7, "hello…"}, // no dangling space
		{"😀😀😀", 4, "😀…"},             // a pair never split
		{"😀😀😀", 3, "😀…"},
		{"a😀", 2, "a…"},
		{"👩\u200d💻x", 4, "👩…"}, // no dangling joiner
		{"abc", 1, "…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.in, tt.n), func(t *testing.T) {
			got := truncateUTF16(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("truncateUTF16(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if countUTF16Units(got) > tt.n {
				t.Errorf("result %q longer than %d", got, tt.n)
			}
		})
	}
}

func TestFormatGroup(t *testing.T) {
	t.Parallel()
	loc := alertTestLoc(t, "Europe/Moscow")
	mk := func(i int, title string) AlertView {
		v := alertTestView()
		v.Article.Title = title
		v.Article.URL = fmt.Sprintf("https://news.example/%d?a=1&b=2", i)
		v.Story.ID = uint64(i)
		v.Summary = &storage.Summary{Text: fmt.Sprintf("Sentence %d ends here. Second sentence & more.", i)}
		return v
	}
	t.Run("five stories", func(t *testing.T) {
		var vs []AlertView
		for i := 1; i <= 5; i++ {
			vs = append(vs, mk(i, fmt.Sprintf("Story <%d>", i)))
		}
		html := FormatGroup(vs, "en", loc)
		plain, links, err := parseAlertHTML(html)
		if err != nil {
			t.Fatalf("invalid HTML: %v\n%s", err, html)
		}
		if !strings.HasPrefix(plain, "🗞 5 new stories\n\n1. Story <1>\nRBC · 22 Nov 2026 14:05 MSK · vtb-china, sber\nSentence 1 ends here.\n\n2. Story <2>") {
			t.Errorf("unexpected layout:\n%s", plain)
		}
		if len(links) != 5 || links[2] != "https://news.example/3?a=1&b=2" {
			t.Errorf("links = %q", links)
		}
		if strings.Contains(plain, "Second sentence") || strings.Contains(plain, "more") {
			t.Errorf("more than the first sentence, or a +N line:\n%s", plain)
		}
		p := FormatGroupPlain(vs, "ru", loc)
		if !strings.Contains(p, "1. Story <1>\nhttps://news.example/1?a=1&b=2\nRBC · 22 ноя 2026 14:05 MSK") {
			t.Errorf("plain group:\n%s", p)
		}
	})
	t.Run("too many to fit", func(t *testing.T) {
		var vs []AlertView
		for i := 1; i <= 40; i++ {
			vs = append(vs, mk(i, strings.Repeat("Очень длинный заголовок ", 30)))
		}
		for _, lang := range []string{"ru", "en"} {
			html, n := formatGroup(vs, lang, loc, true, 2)
			plain, _, err := parseAlertHTML(html)
			if err != nil {
				t.Fatalf("invalid HTML: %v", err)
			}
			if c := countUTF16Units(plain); c > 4096 {
				t.Errorf("%s: %d UTF-16 units", lang, c)
			}
			if n < 5 || n >= 40 {
				t.Errorf("%s: %d entries shown", lang, n)
			}
			more := wording(lang, fmt.Sprintf("+%d more", 40-n+2), fmt.Sprintf("и ещё %d", 40-n+2))
			if !strings.HasSuffix(plain, more) {
				t.Errorf("%s: no %q line:\n...%s", lang, more, plain[len(plain)-200:])
			}
			if !strings.Contains(plain, fmt.Sprintf("\n%d. ", n)) || strings.Contains(plain, fmt.Sprintf("\n%d. ", n+1)) {
				t.Errorf("%s: entries shown do not match n=%d", lang, n)
			}
			if _, n2 := formatGroup(vs, lang, loc, false, 2); n2 < 5 {
				t.Errorf("%s plain: %d entries shown", lang, n2)
			}
		}
	})
	t.Run("one enormous entry is cut, not dropped", func(t *testing.T) {
		v := mk(1, strings.Repeat("😀", 5000))
		v.Article.Source = strings.Repeat("s", 5000)
		html, n := formatGroup([]AlertView{v}, "ru", loc, true, 0)
		plain, _, err := parseAlertHTML(html)
		if err != nil || n != 1 || countUTF16Units(plain) > 4096 {
			t.Errorf("n=%d len=%d err=%v", n, countUTF16Units(plain), err)
		}
	})
}

func TestAlertKeyboard(t *testing.T) {
	t.Parallel()
	cyr32 := strings.Repeat("я", 32) // 64 bytes: "mute:" makes 69
	cyr29 := strings.Repeat("я", 29) // 58 bytes: 63 with "mute:"
	tests := []struct {
		name   string
		topics []string
		story  uint64
		want   []string // callback data in order
	}{
		{"two topics", []string{"vtb-china", "sber"}, 3, []string{"mute:vtb-china", "mute:sber", "sim:3"}},
		{"at most three mutes", []string{"a", "b", "c", "d"}, 9, []string{"mute:a", "mute:b", "mute:c", "sim:9"}},
		{"cyrillic over 64 bytes hashed", []string{cyr32, cyr29}, 18446744073709551615, []string{"mute#" + topicHash(cyr32), "mute:" + cyr29, "sim:18446744073709551615"}},
		{"duplicates and blanks", []string{"a", " ", "a"}, 1, []string{"mute:a", "sim:1"}},
		{"no story id", []string{"a"}, 0, []string{"mute:a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := AlertView{Topics: tt.topics, Story: storage.Story{ID: tt.story}}
			kb := AlertKeyboard(v, "en")
			var got []string
			for _, row := range kb.InlineKeyboard {
				for _, b := range row {
					if len(b.CallbackData) > 64 {
						t.Errorf("callback data %q is %d bytes", b.CallbackData, len(b.CallbackData))
					}
					if strings.HasPrefix(b.CallbackData, "mute:") && b.Text != "🔕 Mute "+strings.TrimPrefix(b.CallbackData, "mute:") {
						t.Errorf("button text %q", b.Text)
					}
					got = append(got, b.CallbackData)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if kb := AlertKeyboard(AlertView{}, "ru"); kb != nil {
		t.Errorf("empty view: keyboard %+v, want nil", kb)
	}
	kb := AlertKeyboard(AlertView{Topics: []string{"x"}, Story: storage.Story{ID: 1}}, "ru")
	if kb.InlineKeyboard[0][0].Text != "🔕 Заглушить x" || kb.InlineKeyboard[1][0].Text != "🔎 Похожие" {
		t.Errorf("russian labels: %+v", kb.InlineKeyboard)
	}
}

// Bidi controls in a title, summary or source would make the alert read
// as something else than it says ("…exe.pdf" shown as "…fdp.exe").
func TestFormatAlertDropsBidiControls(t *testing.T) {
	t.Parallel()
	v := alertTestView()
	v.Article.Title = "Отчёт \u202eгдп.exe\u202c за квартал"
	v.Article.Source = "RBC\u2066\u2067"
	v.Summary.Text = "Банк \u2068расширяет\u2069 присутствие\u200f в Китае."
	v.Summary.KeyPoints = []string{"\u202dШанхай"}
	for _, text := range []string{FormatAlert(v, "ru", time.UTC), FormatPlain(v, "ru", time.UTC), FormatGroup([]AlertView{v, v}, "ru", time.UTC)} {
		for _, r := range text {
			if unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("bidi control %U in the alert:\n%q", r, text)
			}
		}
		if !strings.Contains(text, "Отчёт гдп.exe за квартал") {
			t.Errorf("title lost more than its controls:\n%s", text)
		}
	}
}
