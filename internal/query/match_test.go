package query

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dozor/internal/analysis"
)

func readSeed(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name))
	if err != nil {
		tb.Fatalf("seed article: %v", err)
	}
	return string(b)
}

// seedDoc analyses a seed article, its first line being the title.
func seedDoc(tb testing.TB, name, site string) *analysis.Doc {
	title, text, _ := strings.Cut(readSeed(tb, name), "\n")
	return analysis.Analyze(title, text, site)
}

func seedDocs(tb testing.TB) []*analysis.Doc {
	return []*analysis.Doc{
		seedDoc(tb, "vtb-ai-centre-china.ru.txt", "https://www.vtb.ru/about/press/"),
		seedDoc(tb, "finextra-sberbank-china-ai.en.txt", "https://www.finextra.com/newsarticle/45045"),
		analysis.Analyze("Short", "a b c", "news.example.com"),
	}
}

func TestMatchSeeds(t *testing.T) {
	docs := seedDocs(t)
	ru, en := docs[0], docs[1]
	tests := []struct {
		q      string
		ru, en bool
	}{
		{"ВТБ Китай ИИ", true, false},
		{"втб китая ии", true, false},
		{"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)", true, true},
		{"Sberbank China -VTB", false, true},
		{"Sberbank China -Putin", false, false},
		{`"artificial intelligence"`, false, true},
		{`"intelligence artificial"`, false, false},
		{`"искусственный интеллект"`, true, false},
		{`"искусственного интеллекта" ВТБ`, true, false},
		{"ИИ-центр", true, false},
		{`"ИИ центры" Китай`, true, false},
		{`"центр ИИ"`, false, false},
		{"lang:en", false, true},
		{"lang:ru", true, false},
		{"lang:en (Sberbank OR ВТБ)", false, true},
		{"site:finextra.com", false, true},
		{"site:vtb.ru ВТБ", true, false},
		{"site:ru", true, false},
		{"site:com AI", false, true},
		{"-site:finextra.com (Sberbank OR ВТБ)", true, false},
		{"(site:finextra.com OR site:vtb.ru) Китай OR China", true, true},
		{"Huawei Шанхай", true, false},
		{"Huawei Шанхае T1", true, false},
		{"Huawei Пекин", false, false},
		{"ии", true, false}, // ИИ is not the conjunction и
		{"ai", false, true},
		{"bank Putin", false, true}, // "bank" finds "banks", "banking"
		{"banks", false, true},      // the Russian seed says «банк», not "bank"
		{"Сбербанк", false, false},
		{"ВТБ -Huawei", false, false},
		{"ВТБ -(Huawei спорт)", true, false},
		{"ВТБ -\"Huawei is\"", true, false},
		{"ВТБ Китай -спорт -футбол lang:ru", true, false},
		{"Russia Swift OR SWIFT sanctions", false, true},
		{"Путин", false, false},
		{"Putin BRICS", false, true},
		{"microchips Ukraine -crypto", false, false}, // the Related news list says /crypto
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Match(ru); got != tt.ru {
				t.Errorf("Russian seed: Match = %v, want %v", got, tt.ru)
			}
			if got := q.Match(en); got != tt.en {
				t.Errorf("English seed: Match = %v, want %v", got, tt.en)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		q                 string
		title, text, site string
		want              bool
	}{
		{"Китай", "", "Визит в Китай", "", true},
		{"Китай", "", "Новости Китая", "", true},
		{"Китай", "", "В Китае", "", true},
		{"Китай", "", "Китайский рынок", "", false},
		{"ИИ", "", "ВТБ и Сбер", "", false},
		{"ИИ", "", "Развитие ИИ-центра", "", true},
		{"ёлка", "", "Новогодняя ЕЛКА", "", true},
		{"bank", "", "Two BANKS merge", "", true},
		{"Sberbank", "", "Sberbank’s CEO", "", true},
		{`"центр ИИ"`, "Новый центр", "ИИ в Москве", "", false}, // no phrase across title and text
		{`"новый центр"`, "Новый центр", "ИИ в Москве", "", true},
		{"новый ИИ", "Новый центр", "ИИ в Москве", "", true},
		{"site:finextra.com AI", "", "AI", "news.finextra.com", true},
		{"site:finextra.com AI", "", "AI", "notfinextra.com", false},
		{"site:finextra.com AI", "", "AI", "", false},
		{"lang:ru ИИ", "", "ИИ ИИ ИИ ИИ", "", true},
		{"lang:ru AI", "", "AI", "", false},
		{"a -b", "", "a c", "", true},
		{"a -b", "", "a b", "", false},
		{"a (b OR -c)", "", "a", "", true},
		{"a (b OR -c)", "", "a c", "", false},
		{"a (b OR -c)", "", "a b c", "", true},
		{"a b OR c d", "", "a c d", "", true},
		{"a b OR c d", "", "a c", "", false},
		{"(a b) OR c", "", "c", "", true},
		{"(a b) OR c", "", "a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.q+" / "+tt.title+" / "+tt.text, func(t *testing.T) {
			q, err := Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			d := analysis.Analyze(tt.title, tt.text, tt.site)
			if got := q.Match(d); got != tt.want {
				t.Errorf("Match = %v, want %v (doc stems %q, lang %q, site %q)", got, tt.want, d.Stems(), d.Lang, d.Site)
			}
		})
	}
}

func TestMatchNilDoc(t *testing.T) {
	q, err := Parse("a")
	if err != nil {
		t.Fatal(err)
	}
	if q.Match(nil) {
		t.Error("Match(nil) = true")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	d := seedDocs(t)[0]
	q, err := Parse(`(ВТБ OR VTB) "ИИ центр" -спорт lang:ru (site:vtb.ru OR site:ria.ru)`)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { q.Match(d) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

// A Set matches exactly what each of its queries matches on its own.
func TestSetMatchesLikeEachQuery(t *testing.T) {
	queries := []string{
		`ВТБ Китай`, `(ВТБ OR VTB) (Китай OR China) (ИИ OR AI)`, `"искусственный интеллект" lang:ru`,
		`site:finextra.com`, `Sberbank China -VTB`, `lang:en inflation`, `(санкции OR sanctions) -крипто`,
		`Huawei OR "Шанхай"`, `ИИ-центр`, `site:ru рубль`, `нефть -газ`,
	}
	var names []string
	var qs []*Query
	for i, q := range queries {
		p, err := Parse(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		names = append(names, fmt.Sprint("t", i))
		qs = append(qs, p)
	}
	set := NewSet(names, qs)
	docs := []struct{ title, text, site string }{
		{"ВТБ рассматривает создание ИИ-центра в Китае", readSeed(t, "vtb-ai-centre-china.ru.txt"), "https://www.vedomosti.ru/x"},
		{"Putin orders Russian bank to cooperate with China on AI", readSeed(t, "finextra-sberbank-china-ai.en.txt"), "https://www.finextra.com/newsarticle/1"},
		{"Курс рубля", "Рубль укрепился, нефть подорожала, газ подешевел.", "https://rbc.ru/1"},
		{"Inflation slows", "The regulator said inflation slowed.", "https://example.com/2"},
	}
	for _, d := range docs {
		doc := analysis.Analyze(d.title, d.text, d.site)
		var want []string
		for i, q := range qs {
			if q.Match(doc) {
				want = append(want, names[i])
			}
		}
		if got := set.Match(doc); !slices.Equal(got, want) {
			t.Errorf("%q: Set.Match = %v, each query alone = %v", d.title, got, want)
		}
	}
}
