package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/jobs"
	"dozor/storage"
)

// openIndex opens the search index next to the database and brings it up
// to date: a new or rebuilt index gets every article queued, and the queue
// is worked off before the index is used.
func (a *app) openIndex(ctx context.Context, st *storage.Store) (*search.Index, error) {
	x, fresh, err := search.Open(a.cfg.SearchIndex)
	if err != nil {
		return nil, fmt.Errorf("search index %s: %w", a.cfg.SearchIndex, err)
	}
	if fresh {
		a.log.Info("search index is new or was rebuilt: indexing every article", "path", a.cfg.SearchIndex)
		if err := st.IndexAll(nil); err != nil {
			x.Close()
			return nil, err
		}
	}
	return x, nil
}

// catchUp indexes what is queued, reporting progress to w when not nil.
func catchUp(ctx context.Context, st *storage.Store, x *search.Index, w io.Writer) error {
	ix := &jobs.Indexer{Store: st, Index: x}
	total := st.IndexQueueLen()
	done, last := 0, time.Now()
	for ctx.Err() == nil {
		n, err := ix.Step()
		if err != nil {
			return err
		}
		done += n
		if w != nil && (n == 0 || time.Since(last) > time.Second) {
			fmt.Fprintf(w, "\rindexed %d of %d articles", done, total)
			last = time.Now()
		}
		if n == 0 {
			if w != nil {
				fmt.Fprintln(w)
			}
			return nil
		}
	}
	return ctx.Err()
}

// reindex rebuilds the search index from the database.
func (a *app) reindex(ctx context.Context) error {
	st, err := a.open("reindex")
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := removeSearchIndex(a.cfg.SearchIndex); err != nil {
		return err
	}
	x, _, err := search.Open(a.cfg.SearchIndex)
	if err != nil {
		return err
	}
	defer x.Close()
	if err := st.IndexAll(nil); err != nil {
		return err
	}
	if err := catchUp(ctx, st, x, a.stdout); err != nil {
		return err
	}
	n, _ := x.Count()
	fmt.Fprintf(a.stdout, "reindex: %d articles in %s\n", n, a.cfg.SearchIndex)
	return nil
}

// searchHit is one line of dozor search --json.
type searchHit struct {
	StoryID   uint64    `json:"story_id"`
	Title     string    `json:"title"`
	URL       string    `json:"url"`
	Source    string    `json:"source"`
	Published time.Time `json:"published,omitzero"`
	Score     float64   `json:"score"`
	Topics    []string  `json:"topics,omitempty"`
	Outlets   int       `json:"outlets"` // articles of the story that matched
}

// searchCmd is dozor search [--limit N] [--json] [--since X] <query>.
func (a *app) searchCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	limit := fs.Int("limit", 10, "stories to show")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	since := fs.String("since", "", "only what appeared since a date (2026-01-01) or a span back from now (7d)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	text := strings.Join(fs.Args(), " ")
	if *since != "" {
		text += " since:" + *since
	}
	if strings.TrimSpace(text) == "" || *limit < 1 {
		fmt.Fprintln(a.stderr, "usage: dozor search [--limit N] [--json] [--since 7d] <query>")
		return errUsage
	}
	now := time.Now()
	q, err := query.ParseSearch(text, now)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("bad query:\n%s", se.Caret(text))
		}
		return err
	}
	st, err := a.open("search")
	if err != nil {
		return err
	}
	defer st.Close()
	x, err := a.openIndex(ctx, st)
	if err != nil {
		return err
	}
	defer x.Close()
	if err := catchUp(ctx, st, x, nil); err != nil {
		return err
	}
	finder, err := a.searcher(st, x)
	if err != nil {
		return err
	}
	res, err := finder.Search(ctx, q, search.Options{Limit: *limit, Now: now})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(a.stdout)
	for i, h := range res.Hits {
		art, err := st.Article(h.ArticleID)
		if err != nil {
			continue
		}
		if *asJSON {
			if err := enc.Encode(searchHit{StoryID: h.StoryID, Title: art.Title, URL: art.URL, Source: art.Source,
				Published: art.Published, Score: h.Score, Topics: art.Topics, Outlets: h.Articles}); err != nil {
				return err
			}
			continue
		}
		when := ""
		if t := art.Time(); !t.IsZero() {
			when = " · " + t.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(a.stdout, "%d. %s\n    %s%s", i+1, oneLine(art.Title), art.Source, when)
		if h.Articles > 1 {
			fmt.Fprintf(a.stdout, " · +%d outlets", h.Articles-1)
		}
		fmt.Fprintf(a.stdout, "\n    %s\n", art.URL)
		if snip := search.Snippet(art.BestText(), q, 240, func(s string) string { return s }); snip != "" {
			fmt.Fprintf(a.stdout, "    %s\n", html.UnescapeString(strings.NewReplacer("<b>", "*", "</b>", "*").Replace(snip)))
		}
	}
	if *asJSON {
		return nil
	}
	switch {
	case len(res.Hits) == 0:
		fmt.Fprintln(a.stdout, "nothing found")
		if s := x.Suggest(q); s != "" {
			fmt.Fprintf(a.stdout, "try: dozor search %s\n", s)
		}
	case res.Partial:
		fmt.Fprintf(a.stdout, "search: %d stories shown of at least %d (the search was cut short)\n", len(res.Hits), res.Total)
	default:
		fmt.Fprintf(a.stdout, "search: %d stories shown of %d\n", len(res.Hits), res.Total)
	}
	return nil
}
