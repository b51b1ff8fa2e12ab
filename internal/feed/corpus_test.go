package feed

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dozor/internal/fetch"
)

// corpusDir holds real-world feeds and pages nobody on the project wrote
// (see its SOURCES.md), vendored so a clone is self-contained.
var corpusDir = filepath.Join("..", "testdata", "corpus")

type corpusFeed struct {
	ID          string `json:"id"`
	Group       string `json:"group"`
	File        string `json:"file"`
	ContentType string `json:"content_type"`
	Items       []struct {
		Titles []string `json:"titles"`
	} `json:"items"`
}

// mustPass are the corpus groups of Russian feeds, as found, re-encoded and
// broken the ways real Russian sites break them: dozor's own audience, so
// every one of them must come out right.
var mustPass = map[string]bool{"ru-real": true, "ru-derived": true, "ru-broken": true}

// TestCorpusFeeds takes every corpus feed along dozor's real path: served
// over HTTP with its Content-Type, fetched by fetch.Fetcher, turned into a
// Feed by Decode. A feed counts as right when its titled items (see
// titled) are exactly the expected ones, in order, each title equal to one
// of its acceptable readings.
func TestCorpusFeeds(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir, "feeds.json"))
	if err != nil {
		t.Fatalf("corpus missing: %v", err)
	}
	var feeds []corpusFeed
	if err := json.Unmarshal(raw, &feeds); err != nil {
		t.Fatal(err)
	}
	if len(feeds) == 0 {
		t.Fatal("corpus lists no feeds")
	}

	byPath := make(map[string]corpusFeed, len(feeds))
	for _, cf := range feeds {
		byPath["/"+cf.ID] = cf
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cf, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(corpusDir, cf.File))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", cf.ContentType)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	fetcher := fetch.New(fetch.Options{AllowPrivate: true})

	groups := make(map[string]int)
	exact, items, itemsRight := 0, 0, 0
	for _, cf := range feeds {
		groups[cf.Group]++
		items += len(cf.Items)
		right, problem := checkCorpusFeed(t, fetcher, srv.URL+"/"+cf.ID, cf)
		itemsRight += right
		if problem == "" {
			exact++
			continue
		}
		if mustPass[cf.Group] {
			t.Errorf("%s (%s): %s", cf.ID, cf.Group, problem)
		} else {
			t.Logf("%s (%s): %s", cf.ID, cf.Group, problem)
		}
	}
	for g := range mustPass {
		if groups[g] == 0 {
			t.Errorf("corpus has no feed of group %s", g)
		}
	}
	t.Logf("feeds exact: %d/%d; titles right: %d/%d", exact, len(feeds), itemsRight, items)
	if exact*100 < len(feeds)*97 {
		t.Errorf("feeds exact: %d/%d, want at least 97%%", exact, len(feeds))
	}
}

// titled lists the items the corpus lists: those with a title, once per
// identity (GUID, else link, else title: what an item is stored under), in
// feed order. An item whose title was lost therefore shows as a missing one.
func titled(items []Item) []Item {
	var out []Item
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		id := cmp.Or(it.GUID, it.URL, it.Title)
		if it.Title == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, it)
	}
	return out
}

// checkCorpusFeed fetches and decodes one feed and returns how many of its
// titles are right and, unless the feed is exactly right, what is wrong.
func checkCorpusFeed(t *testing.T, fetcher *fetch.Fetcher, u string, cf corpusFeed) (int, string) {
	t.Helper()
	resp, err := fetcher.Get(context.Background(), fetch.Request{URL: u})
	if err != nil {
		return 0, "fetch: " + err.Error()
	}
	f, err := Decode(resp.Body, resp.ContentType, resp.URL)
	if err != nil {
		return 0, "decode: " + err.Error()
	}
	if f.Broken != "" {
		t.Logf("%s: read leniently: %s", cf.ID, f.Broken)
	}
	got := titled(f.Items)
	var problems []string
	if len(got) != len(cf.Items) {
		problems = append(problems, fmt.Sprintf("got %d titled items, want %d", len(got), len(cf.Items)))
	}
	right := 0
	for i := range min(len(got), len(cf.Items)) {
		title, want := got[i].Title, cf.Items[i].Titles
		if slices.Contains(want, title) {
			right++
			continue
		}
		if len(problems) < 5 {
			problems = append(problems, fmt.Sprintf("item %d: title %q, want one of %q", i, title, want))
		}
	}
	return right, strings.Join(problems, "; ")
}
