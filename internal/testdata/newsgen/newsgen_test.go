package newsgen

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestGen(t testing.TB) *Gen {
	t.Helper()
	g, err := New(Options{Seed: 1, Dir: "..", Now: testNow, Count: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestArchiveShape(t *testing.T) {
	g := newTestGen(t)
	for _, l := range []string{"ru", "en"} {
		if n := len(g.Words(l)); n < 4000 {
			t.Errorf("%s vocabulary: %d words, want several thousand", l, n)
		}
	}
	const n = 10000
	var ru, reprints, words, minW, maxW, minT, maxT int
	minW, minT = 1<<30, 1<<30
	distinct := map[string]map[string]bool{"ru": {}, "en": {}}
	hosts := map[string]bool{}
	urls := map[string]bool{}
	start := g.Now().Add(-366 * 24 * time.Hour)
	for i := range n {
		a := g.Article(i)
		if a.Lang == "ru" {
			ru++
		}
		if a.Reprint {
			reprints++
			o := g.Article(a.Story)
			if o.Reprint || o.Host == a.Host || o.Lang != a.Lang || a.Time.Before(o.Time) || a.Story >= i {
				t.Fatalf("reprint %d of %d: %+v / %+v", i, a.Story, a, o)
			}
		} else if a.Story != i {
			t.Fatalf("original %d has story %d", i, a.Story)
		}
		if urls[a.URL] {
			t.Fatalf("article %d: URL %s twice", i, a.URL)
		}
		urls[a.URL] = true
		hosts[a.Host] = true
		if a.Time.Before(start) || a.Time.After(g.Now().Add(49*time.Hour)) {
			t.Fatalf("article %d at %v", i, a.Time)
		}
		tw := len(strings.Fields(a.Title))
		minT, maxT = min(minT, tw), max(maxT, tw)
		fw := strings.FieldsFunc(a.Text, func(r rune) bool { return r == ' ' || r == '\n' || r == '—' })
		if !a.Reprint {
			words += len(fw)
			minW, maxW = min(minW, len(fw)), max(maxW, len(fw))
		}
		for _, w := range fw {
			distinct[a.Lang][strings.ToLower(strings.Trim(w, ".,:«»\"—"))] = true
		}
		if !utf8.ValidString(a.Text) || !utf8.ValidString(a.Title) {
			t.Fatalf("article %d: invalid UTF-8", i)
		}
	}
	t.Logf("ru %d%%, reprints %d%%, text words %d–%d (mean %d), title words %d–%d, %d hosts, distinct words ru %d en %d",
		ru*100/n, reprints*100/n, minW, maxW, words/(n-reprints), minT, maxT, len(hosts), len(distinct["ru"]), len(distinct["en"]))
	if ru*100/n < 55 || ru*100/n > 65 {
		t.Errorf("%d%% Russian, want about 60", ru*100/n)
	}
	if reprints*100/n < 17 || reprints*100/n > 23 {
		t.Errorf("%d%% reprints, want about 20", reprints*100/n)
	}
	if minW < 150 || maxW > 600 || minT < 6 || maxT > 12 {
		t.Errorf("text %d–%d words, title %d–%d", minW, maxW, minT, maxT)
	}
	if len(hosts) < 40 {
		t.Errorf("%d hosts", len(hosts))
	}
	if len(distinct["ru"]) < 3000 || len(distinct["en"]) < 3000 {
		t.Errorf("distinct words used: ru %d, en %d", len(distinct["ru"]), len(distinct["en"]))
	}
}

func TestDeterministic(t *testing.T) {
	g1, g2 := newTestGen(t), newTestGen(t)
	for _, i := range []int{0, 1, 7, 4242, 9999, 12345} {
		a, b := g1.Article(i), g2.Article(i)
		if a.Title != b.Title || a.Text != b.Text || a.URL != b.URL || !a.Time.Equal(b.Time) {
			t.Fatalf("article %d differs between two generators", i)
		}
		if c := g1.Article(i); c.Text != a.Text {
			t.Fatalf("article %d differs between two calls", i)
		}
	}
}

// TestShow prints a few articles and the head of the vocabularies:
//
//	NEWSGEN_SHOW=1 go test ./internal/testdata/newsgen -run Show -v
func TestShow(t *testing.T) {
	if os.Getenv("NEWSGEN_SHOW") == "" {
		t.Skip("set NEWSGEN_SHOW=1 to print sample articles")
	}
	g := newTestGen(t)
	for _, l := range []string{"ru", "en"} {
		w := g.Words(l)
		t.Logf("%s: %d words; top: %s", l, len(w), strings.Join(w[:60], " "))
		t.Logf("%s: ranks 1000…: %s", l, strings.Join(w[1000:1030], " "))
		t.Logf("%s: ranks 4000…: %s", l, strings.Join(w[4000:4030], " "))
	}
	for _, l := range []string{"ru", "en"} {
		counts, total := map[string]int{}, 0
		for i := range 2000 {
			if a := g.Article(i); a.Lang == l {
				for _, w := range strings.Fields(strings.ToLower(a.Text)) {
					counts[strings.Trim(w, ".,:«»\"")]++
					total++
				}
			}
		}
		for _, w := range g.Words(l)[:5] {
			t.Logf("%s: %q is %.1f%% of the words", l, w, 100*float64(counts[strings.ToLower(w)])/float64(total))
		}
	}
	for i := range 8 {
		a := g.Article(i)
		t.Logf("#%d story %d %s %s %s %v %v\n%s\n\n%s\n", i, a.Story, a.Lang, a.Source, a.URL, a.Time, a.Topics, a.Title, a.Text)
	}
}
