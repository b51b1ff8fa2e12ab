package jobs

import (
	"context"
	"errors"
	"log/slog"

	"dozor/internal/analysis"
	"dozor/internal/search"
	"dozor/storage"
)

// SearchIndex stores documents for search; internal/search implements it.
type SearchIndex interface {
	Put(docs []search.Doc, deletes []uint64) error
}

// indexBatch is how many articles go into one bleve batch.
const indexBatch = 500

// Indexer is the index stage: it keeps the search index a copy of the
// stored articles. It takes a batch of queued articles, indexes them in
// one bleve batch, and only then takes them off the queue, so a crash in
// between indexes them again rather than losing them.
type Indexer struct {
	Store *storage.Store
	Index SearchIndex
	// Wake is notified when articles were queued for indexing.
	Wake    Signal
	Log     *slog.Logger
	Observe Observer
}

// Run indexes until ctx ends.
func (x *Indexer) Run(ctx context.Context) error {
	return loop(ctx, x.Wake, logOr(x.Log), x.Observe, "index", func(context.Context) (int, bool, error) {
		n, err := x.Step()
		return n, n == indexBatch, err
	})
}

// Step indexes one batch and returns how many articles it took.
func (x *Indexer) Step() (int, error) {
	ids, err := x.Store.QueuedForIndex(indexBatch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	docs := make([]search.Doc, 0, len(ids))
	var gone []uint64
	var sources map[uint64]string
	for _, id := range ids {
		a, err := x.Store.Article(id)
		if errors.Is(err, storage.ErrNotFound) {
			gone = append(gone, id)
			continue
		}
		if err != nil {
			return 0, err
		}
		site := a.URL
		if analysis.SiteOf(site) == "" {
			// As the watch stage matched it: by its feed's site.
			if sources == nil {
				if sources, err = x.sourceURLs(); err != nil {
					return 0, err
				}
			}
			site = sources[a.SourceID]
		}
		docs = append(docs, DocOf(a, site))
	}
	if err := x.Index.Put(docs, gone); err != nil {
		return 0, err
	}
	return len(ids), x.Store.Indexed(ids)
}

func (x *Indexer) sourceURLs() (map[uint64]string, error) {
	srcs, err := x.Store.Sources()
	if err != nil {
		return nil, err
	}
	m := make(map[uint64]string, len(srcs))
	for _, s := range srcs {
		m[s.ID] = s.URL
	}
	return m, nil
}

// DocOf is what search indexes of an article: its title and best text,
// with the site (the article's, else its feed's, as the watch stage
// matched it), language and topics.
func DocOf(a storage.Article, site string) search.Doc {
	return search.Doc{ID: a.ID, StoryID: a.StoryID, Title: a.Title, Text: a.BestText(), Site: site,
		Lang: a.Lang, Topics: a.Topics, Time: a.Time()}
}
