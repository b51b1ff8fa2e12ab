package search

import (
	"html"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// visible is what a reader sees of a snippet: tags dropped, entities
// decoded.
func visible(s string) string {
	s = strings.ReplaceAll(s, "<b>", "")
	s = strings.ReplaceAll(s, "</b>", "")
	return html.UnescapeString(s)
}

func bolded(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "<b>")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "</b>")
		out = append(out, html.UnescapeString(s[i+3:i+j]))
		s = s[i+j+4:]
	}
}

func TestSnippetBoldsInflectedForms(t *testing.T) {
	text := "ВТБ открывает ИИ-центра в Китае. Банков в КИТАЕ много; банки растут, а Китая нет. China banks."
	got := Snippet(text, parse(t, "Китай банк -спорт ИИ-центр"), 200, html.EscapeString)
	want := []string{"ИИ", "центра", "Китае", "Банков", "КИТАЕ", "банки", "Китая"}
	if b := bolded(got); strings.Join(b, "|") != strings.Join(want, "|") {
		t.Fatalf("bold %q, want %q in\n%s", b, want, got)
	}
	if visible(got) != text {
		t.Fatalf("a short text is not whole: %q", visible(got))
	}
	got = Snippet("Спорт и Китай, спорт и банки", parse(t, "Китай -спорт"), 100, html.EscapeString)
	if b := bolded(got); len(b) != 1 || b[0] != "Китай" {
		t.Fatalf("an excluded word was bold: %s", got)
	}
	got = Snippet("Про искусственный интеллект и искусственного интеллекта нет.", parse(t, `"искусственный интеллект"`), 100, nil)
	if b := bolded(got); len(b) != 4 {
		t.Fatalf("phrase words not bold: %s", got)
	}
	got = Snippet("Sberbank's banks and banking in China", parse(t, "bank sberbank"), 100, nil)
	if b := strings.Join(bolded(got), "|"); b != "Sberbank's|banks|banking" {
		t.Fatalf("English forms: %s", got)
	}
}

func TestSnippetEscapes(t *testing.T) {
	text := `<script>alert("Китай")</script> & Китай <b>банк</b>`
	got := Snippet(text, parse(t, "Китай"), 200, html.EscapeString)
	if strings.Contains(got, "<script") || strings.Contains(got, "<b>банк") {
		t.Fatalf("not escaped: %s", got)
	}
	if !strings.Contains(got, "&lt;script&gt;") || !strings.Contains(got, "&amp;") {
		t.Fatalf("escape not applied to every piece: %s", got)
	}
	if strings.Count(got, "<b>") != 2 {
		t.Fatalf("want both «Китай» bold: %s", got)
	}
	if visible(got) != text {
		t.Fatalf("visible %q", visible(got))
	}
}

func TestSnippetPicksThePassage(t *testing.T) {
	filler := strings.Repeat("Рынок нефти сегодня спокоен, курс рубля стабилен. ", 40)
	text := filler + "ВТБ открывает ИИ-центр в Китае. " + filler
	got := Snippet(text, parse(t, "ВТБ Китай"), 120, nil)
	v := visible(got)
	if !strings.HasPrefix(v, "…") || !strings.HasSuffix(v, "…") {
		t.Fatalf("a passage from the middle is not marked cut: %q", v)
	}
	if n := utf8.RuneCountInString(v); n > 120 {
		t.Fatalf("%d runes, max 120", n)
	}
	if b := bolded(got); len(b) != 2 {
		t.Fatalf("the passage misses the matches: %q", got)
	}
	// It starts a little before the first match.
	if i := strings.Index(v, "ВТБ"); i < 3 || utf8.RuneCountInString(v[:i]) > 120/5+2 {
		t.Fatalf("lead before the match: %q", v)
	}
	// The passage with both words beats one with more of only one.
	text = "Китай " + strings.Repeat("Китай и нефть. ", 3) + filler + "ВТБ и Китай. " + filler
	v = visible(Snippet(text, parse(t, "ВТБ Китай"), 60, nil))
	if !strings.Contains(v, "ВТБ") {
		t.Fatalf("chose %q over the passage with both words", v)
	}
	// No match: the start.
	v = visible(Snippet(text, parse(t, "Индия"), 40, nil))
	if !strings.HasPrefix(v, "Китай Китай") || !strings.HasSuffix(v, "…") {
		t.Fatalf("no match: %q", v)
	}
}

// TestSnippetCuts checks, over random texts and lengths, that a snippet is
// valid UTF-8, at most max runes, cut only between words (but for a word
// longer than the whole window) and a piece of the text.
func TestSnippetCuts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	q := parse(t, "Китай банк AI")
	vocab := []string{"Китай", "Китае", "банков", "ёлка", "ИИ-центр", "AI", "😀emoji", "中国", "e\u0301tude", "a", "я",
		"—", ",", ".", "\n\n", "  ", "«кавычки»", "Sberbank's", "сверхдлиннейшееслововообщебезпробеловпочтибесконечное"}
	for range 3000 {
		var b strings.Builder
		for range r.IntN(60) {
			b.WriteString(vocab[r.IntN(len(vocab))])
			if r.IntN(3) > 0 {
				b.WriteByte(' ')
			}
		}
		text := b.String()
		if r.IntN(50) == 0 {
			text += "\xff\xfe" // invalid UTF-8
		}
		max := 1 + r.IntN(80)
		got := Snippet(text, q, max, html.EscapeString)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q from %q", got, text)
		}
		v := visible(got)
		if n := utf8.RuneCountInString(v); n > max {
			t.Fatalf("%d runes > %d: %q", n, max, v)
		}
		clean := squeeze(text)
		body := strings.TrimSuffix(strings.TrimPrefix(v, "…"), "…")
		if body == "" {
			if clean != "" && max > 2 {
				t.Fatalf("empty snippet of %q at %d", clean, max)
			}
			continue
		}
		cutStart, cutEnd := strings.HasPrefix(v, "…"), strings.HasSuffix(v, "…")
		// Cut between words: no letter on both sides of a cut, unless a
		// single word fills the window.
		inWord := func(a, b string) bool {
			x, _ := utf8.DecodeLastRuneInString(a)
			y, _ := utf8.DecodeRuneInString(b)
			return (unicode.IsLetter(x) || unicode.IsDigit(x)) && (unicode.IsLetter(y) || unicode.IsDigit(y) || unicode.IsMark(y))
		}
		fits := func(i int) string {
			end := i + len(body)
			switch {
			case cutStart != (i > 0):
				return "start cut wrongly marked"
			case cutEnd != (end < len(clean)):
				return "end cut wrongly marked"
			case i > 0 && inWord(clean[:i], clean[i:]):
				return "starts inside a word"
			case end < len(clean) && inWord(clean[:end], clean[end:]) && strings.Contains(body, " "):
				return "ends inside a word"
			}
			return ""
		}
		// The body may occur more than once: one occurrence must fit.
		why := "not a piece of the text"
		for i := 0; i <= len(clean); {
			k := strings.Index(clean[i:], body)
			if k < 0 {
				break
			}
			if why = fits(i + k); why == "" {
				break
			}
			i += k + 1
		}
		if why != "" {
			t.Fatalf("%s: %q of %q (max %d)", why, v, clean, max)
		}
	}
}

func TestSnippetEdges(t *testing.T) {
	q := parse(t, "Китай")
	if s := Snippet("Китай", q, 0, nil); s != "" {
		t.Fatalf("max 0: %q", s)
	}
	if s := Snippet("   \n ", q, 10, nil); s != "" {
		t.Fatalf("blank: %q", s)
	}
	if s := Snippet("Китай", nil, 10, nil); s != "Китай" {
		t.Fatalf("nil query: %q", s)
	}
	long := strings.Repeat("я", 50)
	s := Snippet(long, q, 10, nil)
	if v := visible(s); utf8.RuneCountInString(v) != 10 || !strings.HasSuffix(v, "…") || !utf8.ValidString(v) {
		t.Fatalf("one long word: %q", v)
	}
	if s := Snippet("a\u00a0b\tc\r\nКитай", q, 100, nil); s != "a b c <b>Китай</b>" {
		t.Fatalf("white space: %q", s)
	}
}
