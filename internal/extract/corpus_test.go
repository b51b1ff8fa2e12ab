package extract

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode"

	"dozor/internal/fetch"
)

// corpusDir holds real-world feeds and pages nobody on the project wrote
// (see its SOURCES.md), vendored so a clone is self-contained.
var corpusDir = filepath.Join("..", "testdata", "corpus")

type corpusPage struct {
	ID   string `json:"id"`
	File string `json:"file"` // gzipped HTML
	URL  string `json:"url"`
	Gold string `json:"gold"` // human-annotated main text
}

// minCorpusF1 is the floor for the mean token F1 against the annotated
// text, a little under what extraction scores today (0.96): a change that
// falls below it has made the text of every summary worse.
const minCorpusF1 = 0.95

// TestCorpusPages takes every corpus page along dozor's real path: served
// gzipped at its URL's path, fetched by fetch.Fetcher, decoded by
// fetch.DecodeHTML and extracted by Text. It scores the text with token
// precision, recall and F1 against the annotation, averaged over pages
// (macro: every page weighs the same, which is what a reader of the digests
// sees) and over tokens (micro: long articles weigh more), and asserts the
// macro F1.
func TestCorpusPages(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir, "pages.json"))
	if err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	var pages []corpusPage
	if err := json.Unmarshal(raw, &pages); err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("corpus lists no pages")
	}

	byURI := make(map[string]corpusPage, len(pages))
	for _, p := range pages {
		u, err := url.Parse(p.URL)
		if err != nil {
			t.Fatalf("%s: %v", p.ID, err)
		}
		if _, dup := byURI[u.RequestURI()]; dup {
			t.Fatalf("%s: two pages at %s", p.ID, u.RequestURI())
		}
		byURI[u.RequestURI()] = p
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := byURI[r.URL.RequestURI()]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(corpusDir, p.File))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	fetcher := fetch.New(fetch.Options{AllowPrivate: true})

	// Extraction is CPU-bound and slow under -race: score pages on every
	// core, fetching stays one at a time per host anyway.
	scores := make([]tokenScore, len(pages))
	errs := make([]error, len(pages))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(runtime.GOMAXPROCS(0), 1) {
		wg.Go(func() {
			for i := range work {
				scores[i], errs[i] = scoreCorpusPage(fetcher, srv.URL, pages[i])
			}
		})
	}
	for i := range pages {
		work <- i
	}
	close(work)
	wg.Wait()

	var macro struct{ p, r, f float64 }
	var total tokenScore
	for i, s := range scores {
		if errs[i] != nil {
			// A page with no text found scores zero: it is a miss,
			// not a reason to leave the page out.
			t.Logf("%s: %v", pages[i].ID, errs[i])
		}
		p, r, f := s.prf()
		macro.p += p
		macro.r += r
		macro.f += f
		if f < 0.8 { // the pages worth a look when the figure moves
			t.Logf("%s: F1 %.2f (precision %.2f, recall %.2f) %s", pages[i].ID, f, p, r, pages[i].URL)
		}
		total.overlap += s.overlap
		total.got += s.got
		total.gold += s.gold
	}
	n := float64(len(pages))
	macro.p, macro.r, macro.f = macro.p/n, macro.r/n, macro.f/n
	mp, mr, mf := total.prf()
	t.Logf("pages: %d; macro F1 %.4f (precision %.4f, recall %.4f); micro F1 %.4f (precision %.4f, recall %.4f)",
		len(pages), macro.f, macro.p, macro.r, mf, mp, mr)
	if macro.f < minCorpusF1 {
		t.Errorf("macro F1 %.3f, want at least %.2f", macro.f, minCorpusF1)
	}
}

func scoreCorpusPage(fetcher *fetch.Fetcher, server string, p corpusPage) (tokenScore, error) {
	u, _ := url.Parse(p.URL) // checked when the server was built
	resp, err := fetcher.Get(context.Background(), fetch.Request{URL: server + u.RequestURI()})
	if err != nil {
		return scoreTokens(nil, tokens(p.Gold)), err
	}
	page, _ := fetch.DecodeHTML(resp.Body, resp.ContentType)
	res, err := Text(page, p.URL)
	if err != nil && !errors.Is(err, ErrNoText) {
		return scoreTokens(nil, tokens(p.Gold)), err
	}
	return scoreTokens(tokens(res.Text), tokens(p.Gold)), err
}

// tokenScore counts tokens for precision and recall: overlap is the size of
// the multiset intersection of the extracted and the annotated tokens.
type tokenScore struct{ overlap, got, gold int }

func (s tokenScore) prf() (p, r, f float64) {
	if s.got > 0 {
		p = float64(s.overlap) / float64(s.got)
	}
	if s.gold > 0 {
		r = float64(s.overlap) / float64(s.gold)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return p, r, f
}

func scoreTokens(got, gold []string) tokenScore {
	count := make(map[string]int, len(gold))
	for _, w := range gold {
		count[w]++
	}
	s := tokenScore{got: len(got), gold: len(gold)}
	for _, w := range got {
		if count[w] > 0 {
			count[w]--
			s.overlap++
		}
	}
	return s
}

// tokens splits s into runs of letters and digits, case-folded.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
