package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dozor/internal/analysis"
	"dozor/internal/query"
)

// Vocabulary of the generated archive: inflected forms, ё/е, hyphenated
// and short words, English plurals.
var (
	ruWords = []string{
		"Китай", "Китае", "Китая", "Китаю", "китайский",
		"банк", "банки", "банков", "банка", "банком", "Банк",
		"ВТБ", "Сбербанк", "Сбербанка", "Сбербанком",
		"санкции", "санкций", "санкциями",
		"ёлка", "елка", "ёлки", "объём", "объем", "объёма",
		"ИИ", "ИИ-центр", "ИИ-центра", "ИИ-центре", "ии", "центр", "центра",
		"и", "в", "на", "май", "мая", "маем",
		"искусственный", "интеллект", "искусственного", "интеллекта",
		"спорт", "спорта", "крипто", "криптовалюта", "криптовалюты",
		"рынок", "рынка", "рынке", "нефть", "нефти", "Россия", "России",
	}
	enWords = []string{
		"China", "Chinese", "china", "bank", "banks", "banking", "Bank",
		"Sberbank", "Sberbank's", "VTB", "AI", "ai", "AI-centre", "centre", "centres",
		"artificial", "intelligence", "sanction", "sanctions", "sanctioned",
		"Russia", "Russian", "Russians", "sport", "sports", "crypto", "cryptocurrency",
		"and", "the", "of", "in", "market", "markets", "oil", "may", "May",
	}
	sites = []string{
		"https://news.finextra.com/articles/1", "finextra.com", "www.finextra.com",
		"https://notfinextra.com/x", "https://www.rbc.ru/finances/1", "quote.rbc.ru",
		"interfax.ru", "https://www.reuters.com/world", "uk.reuters.com", "https://a.b.reuters.com/",
		"",
	}
	topicNames = []string{"vtb-china", "sber", "AI_ru", "sanctions"}
	t0         = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func sentence(r *rand.Rand, n int, lang int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(pick(r, []string{" ", " ", " ", ", ", " — ", ". ", "\n"}))
		}
		vocab := ruWords
		switch {
		case lang == 1:
			vocab = enWords
		case lang == 2 && r.IntN(2) == 0:
			vocab = enWords
		}
		w := pick(r, vocab)
		if r.IntN(10) == 0 {
			w = strings.ToUpper(w)
		}
		b.WriteString(w)
	}
	return b.String()
}

// genDocs makes the archive, deterministically.
func genDocs(n int, seed uint64) []Doc {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	docs := make([]Doc, n)
	for i := range docs {
		lang := pick(r, []int{0, 0, 1, 1, 2}) // ru, en, mixed
		d := Doc{
			ID:    uint64(i + 1),
			Title: sentence(r, 1+r.IntN(6), lang),
			Text:  sentence(r, r.IntN(40), lang),
			Site:  pick(r, sites),
			Lang:  pick(r, []string{"ru", "en", ""}), // deliberately unrelated: not indexed
		}
		if r.IntN(20) == 0 {
			d.Title = ""
		}
		for _, t := range topicNames {
			if r.IntN(4) == 0 {
				d.Topics = append(d.Topics, t)
			}
		}
		switch r.IntN(40) {
		case 0: // no time
		case 1: // exact day boundaries, for inclusive ends
			d.Time = pick(r, []time.Time{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
				time.Date(2026, 2, 1, 23, 59, 59, 999999999, time.UTC), time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)})
		case 2: // outside what bleve represents: indexed without a time
			d.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
		default:
			d.Time = t0.Add(time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
		}
		docs[i] = d
	}
	return docs
}

var agreementQueries = []string{
	// words, inflections, ё/е, case
	"Китай", "китае", "Китая", "банк", "банков", "bank", "banks", "Sberbank", "sberbank's",
	"ёлка", "елка", "объём", "ОБЪЕМ", "санкции", "sanctions", "Russian",
	// short words and hyphens
	"ИИ", "AI", "и", "май", "мая", "May", "ИИ-центр", "AI-centre", "центр", `"ии центр"`, `"ИИ-центра"`,
	// phrases
	`"искусственный интеллект"`, `"artificial intelligence"`, `«банк Китай»`, `"банк банк"`,
	`"Китай Китай Китай"`, `"and the"`, `"ВТБ Китай ИИ"`, `"банк банк банк банк"`, `"ИИ-центр банк"`,
	`"банк Китай" OR "China bank"`, `банк -"Китай Китай Китай"`, `"в" Китай`,
	// AND, OR, parentheses
	"ВТБ Китай", "ВТБ Китай ИИ", "Китай OR China", "ВТБ Китай OR China",
	"(ВТБ OR Сбербанк OR Sberbank OR VTB) (Китай OR China) (ИИ OR AI)",
	"(Китай банк) OR (China bank)", "Китай | China | нефть | oil | рынок | market | спорт | sport | крипто | crypto | санкции | sanctions",
	// exclusions
	"Sberbank China -VTB", "Китай -спорт", "-спорт Китай", "банк -Китай -China", "банк -(Китай OR China)",
	`банк -"искусственный интеллект"`, "ВТБ (Китай OR -спорт)", "(санкции OR sanctions) (банк OR bank) -крипто",
	"((Китай OR China) -банк) OR (нефть -рынок)", "Китай -(банк -ВТБ)", "банк -отсутствующееслово", "банк -zzzqqq",
	"отсутствующееслово", "zzzqqq OR Китай", "банк (zzzqqq OR -Китай)", `банк -"zzz qqq"`, "банк -site:zzz.example",
	// filters
	"lang:ru", "lang:en", "lang:ru банк", "lang:en bank", "bank -lang:en", "lang:ru OR lang:en",
	"site:finextra.com", "site:news.finextra.com", "site:notfinextra.com", "site:www.finextra.com",
	"site:reuters.com China", "site:b.reuters.com", "site:com", "site:ru -lang:ru", "bank -site:finextra.com",
	"(site:rbc.ru OR site:interfax.ru) (Китай OR банк)", `site:finextra.com (Russia OR Russian)`,
	`"искусственный интеллект" lang:ru`, "ИИ -lang:ru", "site:zzz.example",
}

// timeQueries use topic:, since: and until:, which Match never matches;
// they are checked against the Docs' Topics and Time.
var timeQueries = []string{
	"topic:vtb-china", "topic:SBER", "topic:ai_ru банк", "topic:sanctions -topic:sber", "topic:sber OR topic:ai_ru",
	"since:2026-02-01", "until:2026-02-01", "since:2026-02-01 until:2026-02-01", "Китай since:2026-01-15 until:2026-02-15",
	"topic:vtb-china since:2026-02-01", "since:1500-01-01", "until:9999-01-01 банк", "since:2026-02-02T00:00",
	"bank since:30d", "topic:nonexistent", "(topic:sber OR Китай) until:2026-01-20",
}

// ref evaluates a query node against a Doc the slow way, with Match's own
// analysis.Doc methods, plus topic:, since: and until: on the Doc.
func ref(n query.Node, a *analysis.Doc, d *Doc) bool {
	switch n.Kind {
	case query.Word:
		return a.Has(n.Stems[0])
	case query.Phrase:
		return a.HasPhrase(n.Stems)
	case query.Lang:
		return a.Lang == n.Value
	case query.Site:
		return a.OnSite(n.Value)
	case query.Topic:
		return slices.ContainsFunc(d.Topics, func(t string) bool { return strings.EqualFold(t, n.Value) })
	case query.Since, query.Until:
		t := d.Time
		if t.IsZero() || t.Before(minTime) || t.After(maxTime) {
			return false
		}
		if n.Kind == query.Since {
			return !t.Before(n.Time)
		}
		return !t.After(n.Time)
	case query.Not:
		return !ref(n.Kids[0], a, d)
	case query.And:
		for _, k := range n.Kids {
			if !ref(k, a, d) {
				return false
			}
		}
		return true
	case query.Or:
		for _, k := range n.Kids {
			if ref(k, a, d) {
				return true
			}
		}
		return false
	}
	panic(fmt.Sprint("kind ", n.Kind))
}

func openTest(t testing.TB) *Index {
	t.Helper()
	x, fresh, err := Open(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	if !fresh {
		t.Fatal("a new index is not fresh")
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func putAll(t testing.TB, x *Index, docs []Doc, deletes []uint64) {
	t.Helper()
	for i := 0; i < len(docs); i += 500 {
		if err := x.Put(docs[i:min(i+500, len(docs))], nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(deletes) > 0 {
		if err := x.Put(nil, deletes); err != nil {
			t.Fatal(err)
		}
	}
}

func setOf(ids []uint64) map[uint64]bool {
	m := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func diff(got, want map[uint64]bool) string {
	var extra, missing []uint64
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	if len(extra)+len(missing) == 0 {
		return ""
	}
	slices.Sort(extra)
	slices.Sort(missing)
	return fmt.Sprintf("%d extra %v, %d missing %v", len(extra), extra[:min(5, len(extra))], len(missing), missing[:min(5, len(missing))])
}

// TestAgreement: for every query, the index matches exactly the Docs that
// q.Match(analysis.Analyze(Title, Text, Site)) matches, through Matches
// (unscored: bleve's "unadorned" bitmap searchers) and through Search
// (scored searchers), after replacements and deletions.
func TestAgreement(t *testing.T) {
	docs := genDocs(3000, 1)
	x := openTest(t)
	x.maxMatches = len(docs) + 1
	putAll(t, x, docs, nil)

	// Replace a tenth with new content and delete a twentieth.
	more := genDocs(300, 2)
	live := map[uint64]*Doc{}
	for i := range docs {
		live[docs[i].ID] = &docs[i]
	}
	for i := range more {
		more[i].ID = uint64(1 + 10*i)
		live[more[i].ID] = &more[i]
	}
	var deletes []uint64
	for id := uint64(5); id <= 3000; id += 20 {
		deletes = append(deletes, id)
		delete(live, id)
	}
	putAll(t, x, more, deletes)
	if n, err := x.Count(); err != nil || n != uint64(len(live)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(live))
	}

	analysed := map[uint64]*analysis.Doc{}
	for id, d := range live {
		analysed[id] = analysis.Analyze(d.Title, d.Text, d.Site)
	}
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	check := func(t *testing.T, s string, usesMatch bool) {
		q, err := query.ParseSearch(s, now)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := map[uint64]bool{}
		for id, a := range analysed {
			r := ref(q.Tree(), a, live[id])
			if usesMatch {
				if m := q.Match(a); m != r {
					t.Fatalf("%s: the reference evaluator disagrees with Match on %d", s, id)
				}
			}
			if r {
				want[id] = true
			}
		}
		ids, partial, err := x.Matches(ctx, q, 0)
		if err != nil || partial {
			t.Fatalf("%s: Matches: partial %v, %v", s, partial, err)
		}
		if d := diff(setOf(ids), want); d != "" {
			t.Errorf("%s: Matches: %s", s, d)
		}
		res, err := x.Search(ctx, q, Options{Limit: len(docs), Now: now, Timeout: time.Minute})
		if err != nil {
			t.Fatalf("%s: Search: %v", s, err)
		}
		got := map[uint64]bool{}
		for _, h := range res.Hits {
			got[h.ArticleID] = true
		}
		if d := diff(got, want); d != "" || res.Total != len(want) || res.Partial {
			t.Errorf("%s: Search: total %d partial %v: %s", s, res.Total, res.Partial, d)
		}
		if testing.Verbose() {
			t.Logf("%-70s %4d", s, len(want))
		}
	}
	matched := 0
	for _, s := range agreementQueries {
		check(t, s, true)
		if q, _ := query.ParseSearch(s, now); q != nil {
			for _, a := range analysed {
				if q.Match(a) {
					matched++
					break
				}
			}
		}
	}
	// The archive must exercise the queries: most of them match something.
	if matched < len(agreementQueries)*3/4 {
		t.Errorf("only %d of %d queries match anything: the archive is too thin", matched, len(agreementQueries))
	}
	for _, s := range timeQueries {
		check(t, s, false)
	}
}
