package analysis

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"already lower", "already lower"},
		{"ВТБ и Китай", "втб и китай"},
		{"Ёлка, ёж, ВСЁ", "елка, еж, все"},
		{"и\u0306од", "йод"},                             // decomposed й
		{"е\u0308лка", "елка"},                           // decomposed ё
		{"ма\u0301ма", "мама"},                           // stress mark
		{"caf\u00e9 CAFE\u0301", "caf\u00e9 cafe\u0301"}, // Latin accents are kept as written
		{"co\u00adoperation", "cooperation"},
		{"Russia’s", "russia's"},
		{"Straße İ", "straße i"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,.;  ", nil},
		{"ВТБ рассматривает создание ИИ-центра", []string{"втб", "рассматривает", "создание", "ии", "центра"}},
		{"2023–2024 годы, дата-центров", []string{"2023", "2024", "годы", "дата", "центров"}},
		{"Russia—Ukraine war", []string{"russia", "ukraine", "war"}},
		{"Sberbank’s CEO, People's Republic", []string{"sberbank's", "ceo", "people's", "republic"}},
		{"rock'n'roll 'quoted' banks' o’neil", []string{"rock'n'roll", "quoted", "banks", "o'neil"}},
		{"don&#39;t don&rsquo;t", []string{"don't", "don't"}},
		{"AT&amp;T&nbsp;and&#8212;more &unknown &x;", []string{"at", "t", "and", "more", "unknown", "x"}},
		{"co&shy;operation co\u00adoperation", []string{"cooperation", "cooperation"}},
		{"T1, Huawei, 5G, COVID-19", []string{"t1", "huawei", "5g", "covid", "19"}},
		{"Ёж и\u0306од ма\u0301ма", []string{"еж", "йод", "мама"}},
		{"«Сбер» (Sber) — [AI]", []string{"сбер", "sber", "ai"}},
		{"url https://www.finextra.com/news?id=1", []string{"url", "https", "www", "finextra", "com", "news", "id", "1"}},
		{"emoji🚀rocket", []string{"emoji", "rocket"}},
		{"中国 AI", []string{"中国", "ai"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Tokens(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStemSameStem(t *testing.T) {
	groups := [][]string{
		{"Китай", "Китае", "Китая", "Китаю", "Китаем"},
		{"Шанхай", "Шанхае", "Шанхая"},
		{"случай", "случае", "случая"},
		{"Сбербанк", "Сбербанка", "Сбербанке", "Сбербанком"},
		{"центр", "центра", "центре", "центров"},
		{"банк", "банка", "банки", "банков"},
		{"bank", "banks", "banking"},
		{"Sberbank", "Sberbank's", "Sberbank’s"},
		{"develop", "developing", "developed", "development"},
		{"ВТБ", "втб"},
		{"AI", "ai"},
		{"ёлка", "елка", "Ёлки"},
	}
	for _, g := range groups {
		t.Run(g[0], func(t *testing.T) {
			want := Stem(g[0])
			for _, w := range g[1:] {
				if got := Stem(w); got != want {
					t.Errorf("Stem(%q) = %q, Stem(%q) = %q: want the same", w, got, g[0], want)
				}
			}
		})
	}
}

func TestStemKeeps(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ии", "ии"}, // the Russian stemmer would give "и"
		{"и", "и"},
		{"сша", "сша"},
		{"use", "use"},
		{"t1", "t1"},
		{"2024", "2024"},
		{"5g", "5g"},
		{"covid19", "covid19"},
		{"café", "café"},         // neither English nor Russian letters
		{"київ", "київ"},         // Ukrainian letter
		{"sberбанк", "sberбанк"}, // mixed scripts
		{"中国", "中国"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Stem(tt.in); got != tt.want {
				t.Errorf("Stem(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if Stem("ИИ") == Stem("и") {
		t.Errorf("ИИ and и share the stem %q", Stem("и"))
	}
}

func TestStemOverridesAgreeWithOtherCases(t *testing.T) {
	for gen, stem := range russianOverrides {
		r := []rune(gen)
		base := string(r[:len(r)-1])
		for _, form := range []string{base + "й", base + "е", base + "ю", base + "ем"} {
			if got := Stem(form); got != stem {
				t.Errorf("Stem(%q) = %q, but the genitive %q gives %q", form, got, gen, stem)
			}
		}
	}
}

func TestDetectLang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"AI", ""},
		{"ИИ", ""},
		{"12345 67890", ""},
		{"ВТБ рассматривает создание ИИ-центра в Китае", "ru"},
		{"Putin orders Russian bank to cooperate with China on AI", "en"},
		{"ВТБ сотрудничает с Huawei и T1", "ru"},
		{"Sberbank (Сбербанк) signs a deal with Huawei in Shanghai", "en"},
		{"Київ і Харків отримали нові трамваї від партнерів", ""},
		{"中国人工智能 AI", ""},
		{"Ελληνικά κείμενα", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := DetectLang(tt.in); got != tt.want {
				t.Errorf("DetectLang(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSiteOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"finextra.com", "finextra.com"},
		{"www.Finextra.com", "finextra.com"},
		{"https://www.finextra.com:443/newsarticle/1?x=y#z", "finextra.com"},
		{"http://user:pw@News.Finextra.com.", "news.finextra.com"},
		{"//cdn.example.org/a", "cdn.example.org"},
		{"www", "www"},
		{"[::1]:8080", "[::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := SiteOf(tt.in); got != tt.want {
				t.Errorf("SiteOf(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestOnSite(t *testing.T) {
	tests := []struct {
		site, domain string
		want         bool
	}{
		{"https://www.finextra.com/x", "finextra.com", true},
		{"news.finextra.com", "finextra.com", true},
		{"finextra.com", "finextra.com", true},
		{"notfinextra.com", "finextra.com", false},
		{"finextra.com.evil.net", "finextra.com", false},
		{"finextra.com", "news.finextra.com", false},
		{"vtb.ru", "ru", true},
		{"", "finextra.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.site+" in "+tt.domain, func(t *testing.T) {
			d := Analyze("", "", tt.site)
			if got := d.OnSite(tt.domain); got != tt.want {
				t.Errorf("site %q OnSite(%q) = %v, want %v", d.Site, tt.domain, got, tt.want)
			}
		})
	}
}

func stems(words ...string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = Stem(w)
	}
	return out
}

func TestAnalyzeHasAndPhrase(t *testing.T) {
	d := Analyze("ВТБ рассматривает ИИ-центр", "Банк открывает центр в Китае. Artificial intelligence labs.", "www.vtb.ru")
	if d.Lang != "ru" || d.Site != "vtb.ru" {
		t.Fatalf("Lang, Site = %q, %q; want ru, vtb.ru", d.Lang, d.Site)
	}
	has := []string{"ВТБ", "Китай", "центра", "ИИ", "lab", "intelligence", "банки"}
	for _, w := range has {
		if !d.Has(Stem(w)) {
			t.Errorf("Has(Stem(%q)) = false, want true", w)
		}
	}
	for _, w := range []string{"и", "Сбербанк", "Китайский", ""} {
		if d.Has(Stem(w)) {
			t.Errorf("Has(Stem(%q)) = true, want false", w)
		}
	}
	phrases := []struct {
		words []string
		want  bool
	}{
		{[]string{"ИИ", "центра"}, true},
		{[]string{"ВТБ", "рассматривает"}, true},
		{[]string{"artificial", "intelligence"}, true},
		{[]string{"artificial", "intelligence", "lab"}, true},
		{[]string{"центр", "в", "Китае"}, true},
		{[]string{"центр", "ИИ"}, false},   // wrong order
		{[]string{"центр", "банк"}, false}, // title end + text start: no phrase across
		{[]string{"lab", "artificial"}, false},
		{[]string{"labs", "more"}, false}, // runs past the end
		{[]string{"Китае"}, true},         // one word is a word
		{nil, false},
	}
	for _, p := range phrases {
		if got := d.HasPhrase(stems(p.words...)); got != p.want {
			t.Errorf("HasPhrase(%q) = %v, want %v", p.words, got, p.want)
		}
	}
	want := stems("втб", "рассматривает", "ии", "центр", "банк", "открывает", "центр", "в", "китае", "artificial", "intelligence", "labs")
	if got := d.Stems(); !slices.Equal(got, want) {
		t.Errorf("Stems() = %q, want %q", got, want)
	}
	if d.Len() != len(want) {
		t.Errorf("Len() = %d, want %d", d.Len(), len(want))
	}
}

func TestAnalyzeRepeatedPhraseStart(t *testing.T) {
	// The first occurrences of "центр" are not followed by "ии"; a later one is.
	d := Analyze("", "центр, центр города, центр ИИ", "")
	if !d.HasPhrase(stems("центр", "ИИ")) {
		t.Error(`"центр ИИ" not found after earlier "центр"s`)
	}
	if !d.HasPhrase(stems("центр", "центр", "город")) {
		t.Error(`"центр центр города" not found: punctuation does not break a phrase`)
	}
}

func TestAnalyzeEmpty(t *testing.T) {
	d := Analyze("", "", "")
	if d.Lang != "" || d.Site != "" || d.Len() != 0 || d.Has("") || d.HasPhrase([]string{"a"}) {
		t.Errorf("empty doc = %+v", d)
	}
	var zero Doc
	if zero.Has("a") || zero.HasPhrase([]string{"a", "b"}) {
		t.Error("zero Doc has words")
	}
}

func readSeed(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name))
	if err != nil {
		tb.Fatalf("seed article: %v", err)
	}
	return string(b)
}

func splitTitle(s string) (title, text string) {
	title, text, _ = strings.Cut(s, "\n")
	return title, text
}

func seedDoc(tb testing.TB, name, site string) *Doc {
	title, text := splitTitle(readSeed(tb, name))
	return Analyze(title, text, site)
}

func TestAnalyzeSeeds(t *testing.T) {
	ru := seedDoc(t, "vtb-ai-centre-china.ru.txt", "vtb.ru")
	en := seedDoc(t, "finextra-sberbank-china-ai.en.txt", "https://www.finextra.com/newsarticle/45045")
	if ru.Lang != "ru" || en.Lang != "en" {
		t.Errorf("langs = %q, %q; want ru, en", ru.Lang, en.Lang)
	}
	for _, w := range []string{"ВТБ", "Китай", "ИИ", "Huawei", "Шанхай", "T1", "искусственный", "интеллект"} {
		if !ru.Has(Stem(w)) {
			t.Errorf("Russian seed: no %q", w)
		}
	}
	for _, w := range []string{"Sberbank", "China", "AI", "Putin", "bank", "Swift"} {
		if !en.Has(Stem(w)) {
			t.Errorf("English seed: no %q", w)
		}
	}
	if !en.HasPhrase(stems("artificial", "intelligence")) || !ru.HasPhrase(stems("искусственного", "интеллекта")) {
		t.Error(`"artificial intelligence" / "искусственный интеллект" not found`)
	}
	if ru.Has(Stem("и")) && ru.Has(Stem("ии")) && Stem("и") == Stem("ии") {
		t.Error("ИИ and и merged")
	}
}

func BenchmarkAnalyze(b *testing.B) {
	title, text := splitTitle(readSeed(b, "vtb-ai-centre-china.ru.txt"))
	b.SetBytes(int64(len(title) + len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Analyze(title, text, "vtb.ru")
	}
}

func BenchmarkAnalyzeEnglish(b *testing.B) {
	title, text := splitTitle(readSeed(b, "finextra-sberbank-china-ai.en.txt"))
	b.SetBytes(int64(len(title) + len(text)))
	b.ReportAllocs()
	for b.Loop() {
		Analyze(title, text, "finextra.com")
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range []string{"ИИ-центра", "Sberbank’s", "don&#39;t", "и\u0306", "ма\u0301ма", "a'", "&#x2019;s", "e\u0301\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokens(s) {
			if tok == "" {
				t.Fatalf("Tokens(%q) has an empty token", s)
			}
			// A token is a fixed point: the query language prints tokens
			// and reads them back.
			if again := Tokens(tok); len(again) != 1 || again[0] != tok {
				t.Fatalf("Tokens(%q) = %q, from token of %q", tok, again, s)
			}
			if n := Normalize(tok); n != tok {
				t.Fatalf("Normalize(%q) = %q, want the token unchanged", tok, n)
			}
			_ = Stem(tok)
		}
		_ = DetectLang(s)
		d := Analyze(s, s, s)
		_ = d.HasPhrase(d.Stems())
	})
}
