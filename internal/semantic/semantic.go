// Package semantic adds meaning to search when embeddings are on
// (EMBEDDINGS_MODEL): /search re-ranks its best results by how close each
// story's embedding is to the query's, and adds the few stories the words
// missed but the meaning finds, such as an English report for a Russian
// query; 🔎 "Similar" ranks stories by embedding, across languages. It
// wraps the search index and answers the same calls, so the chat and the
// command line stay one engine. Without an embedding for the query or the
// story (the endpoint down, an article not embedded yet) it answers as the
// index alone does.
package semantic

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"dozor/internal/embed"
	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/storage"
)

// Index is the search index being wrapped; internal/search implements it.
type Index interface {
	Search(ctx context.Context, q *query.Query, opt search.Options) (search.Result, error)
	Matches(ctx context.Context, q *query.Query, limit int) ([]uint64, bool, error)
	Similar(ctx context.Context, storyID uint64, title, text string, limit int) ([]search.Hit, error)
	Suggest(q *query.Query) string
}

// Embedder embeds query texts; internal/embed's Client is one.
type Embedder interface {
	Model() string
	Embed(ctx context.Context, kind embed.Kind, texts []string) ([]embed.Vector, error)
}

// Store is where the vectors are; storage.Store is one.
type Store interface {
	StoryVector(id uint64) (storage.StoryVector, bool, error)
	StoryVectors(since time.Time, fn func(storage.StoryVector)) error
	Story(id uint64) (storage.Story, error)
	ArticleHead(id uint64) (storage.Article, error)
}

const (
	// rerankPool is how many of the words' best stories are re-ranked.
	rerankPool = 50
	// extraMax is how many stories the meaning alone may add to a search.
	extraMax = 5
	// queryTimeout bounds embedding a query: a search never waits long for
	// the endpoint.
	queryTimeout = 2 * time.Second
	// searchSpan and similarSpan bound the stories compared by vector when
	// the query says no since:; a brute-force scan of a month is tens of
	// milliseconds.
	searchSpan  = 90 * 24 * time.Hour
	similarSpan = 30 * 24 * time.Hour
)

// Searcher is an Index with embeddings.
type Searcher struct {
	Index    Index
	Embedder Embedder
	Store    Store
	// QueryMin is the least cosine between a query and a story for the
	// meaning alone to add the story; 0 means QueryThreshold(model).
	QueryMin float32
	// SimilarMin is the least cosine between two stories for 🔎; 0 means
	// embed.DefaultThreshold(model) - 0.2.
	SimilarMin float32
	Now        func() time.Time
	Log        *slog.Logger
}

// QueryThreshold is the starting least cosine between a short query and a
// story's title and lead, by model family, like embed.DefaultThreshold
// and just as uncalibrated here: e5 scores even unrelated texts near 0.7,
// the others spread lower.
func QueryThreshold(model string) float32 {
	if embed.DefaultThreshold(model) >= 0.85 { // the e5 family
		return 0.82
	}
	return 0.5
}

func (s *Searcher) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Searcher) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Matches and Suggest are the index's: /test and hints go by words.
func (s *Searcher) Matches(ctx context.Context, q *query.Query, limit int) ([]uint64, bool, error) {
	return s.Index.Matches(ctx, q, limit)
}

// Suggest is the index's looser query.
func (s *Searcher) Suggest(q *query.Query) string { return s.Index.Suggest(q) }

// scored is a story with its cosine to what is searched for.
type scored struct {
	hit search.Hit
	cos float32
}

// Search is the index's search with the first rerankPool stories
// re-ranked by a blend of their word score (scaled to the best one) and
// their embedding's closeness to the query's, and up to extraMax stories
// added that the words did not find but whose embedding is at least
// QueryMin close. Stories are added only for queries of words and phrases
// (with since:/until:): a lang:, site:, topic: or an exclusion asks for
// something the meaning cannot check. Pages past the pool are the
// index's, shifted by the stories added.
func (s *Searcher) Search(ctx context.Context, q *query.Query, opt search.Options) (search.Result, error) {
	limit := cmp.Or(opt.Limit, 10)
	off := max(opt.Offset, 0)
	text, plain, since, until := queryText(q.Tree())
	qv, ok := s.embedQuery(ctx, text)
	if !ok {
		return s.Index.Search(ctx, q, opt)
	}
	pool, err := s.Index.Search(ctx, q, search.Options{Limit: rerankPool, Now: opt.Now, Timeout: opt.Timeout})
	if err != nil {
		return pool, err
	}
	ranked := s.rerank(qv, pool.Hits)
	var extra []search.Hit
	if plain {
		extra = s.extras(ctx, qv, pool.Hits, since, until)
	}
	merged := append(ranked, extra...)
	slices.SortStableFunc(merged, func(a, b search.Hit) int { return cmp.Compare(b.Score, a.Score) })

	res := search.Result{Total: pool.Total + len(extra), Partial: pool.Partial}
	if off < len(merged) {
		res.Hits = merged[off:min(len(merged), off+limit)]
		if n := len(res.Hits); n < limit && pool.Total > len(pool.Hits) {
			// The page runs past the pool: the rest is the index's.
			rest, err := s.Index.Search(ctx, q, search.Options{Offset: len(pool.Hits), Limit: limit - n, Now: opt.Now, Timeout: opt.Timeout})
			if err != nil {
				return res, err
			}
			res.Hits = append(res.Hits, rest.Hits...)
		}
		return res, nil
	}
	if len(pool.Hits) < rerankPool {
		return res, nil // everything was in the pool
	}
	rest, err := s.Index.Search(ctx, q, search.Options{Offset: off - len(extra), Limit: limit, Now: opt.Now, Timeout: opt.Timeout})
	rest.Total += len(extra)
	return rest, err
}

// queryText is what of a query is embedded: its words and phrases, not
// excluded ones. plain is false when the query has a filter or an
// exclusion the meaning cannot honour; since and until are its time
// bounds (zero: none).
func queryText(n query.Node) (text string, plain bool, since, until time.Time) {
	var words []string
	plain = true
	var walk func(n query.Node)
	walk = func(n query.Node) {
		switch n.Kind {
		case query.Word, query.Phrase:
			words = append(words, n.Words...)
		case query.And, query.Or:
			for _, k := range n.Kids {
				walk(k)
			}
		case query.Since:
			since = n.Time
		case query.Until:
			until = n.Time
		default: // Not, Lang, Site, Topic
			plain = false
		}
	}
	walk(n)
	return strings.Join(words, " "), plain, since, until
}

func (s *Searcher) embedQuery(ctx context.Context, text string) (embed.Vector, bool) {
	if s.Embedder == nil || strings.TrimSpace(text) == "" {
		return embed.Vector{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	vs, err := s.Embedder.Embed(ctx, embed.Query, []string{text})
	if err != nil || len(vs) != 1 || vs[0].Dim() == 0 {
		s.log().Debug("semantic: query not embedded: searching by words alone", "err", err)
		return embed.Vector{}, false
	}
	return vs[0], true
}

// vectorOf is a story's vector of the current model.
func (s *Searcher) vectorOf(storyID uint64) (embed.Vector, []string, bool) {
	sv, ok, err := s.Store.StoryVector(storyID)
	var v embed.Vector
	if err != nil || !ok || v.UnmarshalBinary(sv.Vector) != nil || v.Model != s.Embedder.Model() {
		return embed.Vector{}, nil, false
	}
	return v, sv.Entities, true
}

// rerank scores each hit 0.5·(its word score / the best one) + 0.5·cosine;
// a story without a vector keeps its word half alone.
func (s *Searcher) rerank(qv embed.Vector, hits []search.Hit) []search.Hit {
	out := slices.Clone(hits)
	if len(out) == 0 {
		return out
	}
	best := 0.0
	for _, h := range out {
		best = max(best, h.Score)
	}
	for i := range out {
		words := 0.0
		if best > 0 {
			words = out[i].Score / best
		}
		cos := float32(0)
		if v, _, ok := s.vectorOf(out[i].StoryID); ok {
			cos = max(qv.Cosine(v), 0)
		}
		out[i].Score = 0.5*words + 0.5*float64(cos)
	}
	return out
}

// extras are the stories closest to the query by meaning, at least
// QueryMin close, that the words did not find, scored by their cosine
// alone (half of the blend).
func (s *Searcher) extras(ctx context.Context, qv embed.Vector, found []search.Hit, since, until time.Time) []search.Hit {
	floor := cmp.Or(s.QueryMin, QueryThreshold(s.Embedder.Model()))
	from := since
	if from.IsZero() {
		from = s.now().Add(-searchSpan)
	}
	seen := map[uint64]bool{}
	for _, h := range found {
		seen[h.StoryID] = true
	}
	near := s.nearest(qv, from, floor, extraMax*4, seen)
	var out []search.Hit
	for _, n := range near {
		if ctx.Err() != nil || len(out) == extraMax {
			break
		}
		h, ok := s.hit(n.hit.StoryID, 0.5*float64(n.cos))
		if !ok || !since.IsZero() && h.Time.Before(since) || !until.IsZero() && !h.Time.Before(until) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// hit is a story as a result, shown by its first article.
func (s *Searcher) hit(storyID uint64, score float64) (search.Hit, bool) {
	st, err := s.Store.Story(storyID)
	if err != nil || len(st.Articles) == 0 {
		return search.Hit{}, false
	}
	a, err := s.Store.ArticleHead(st.Articles[0])
	if err != nil {
		return search.Hit{}, false
	}
	return search.Hit{StoryID: st.ID, ArticleID: a.ID, Score: score, Articles: st.Count, Time: a.Time()}, true
}

// nearest scans the vectors of stories seen since from and returns the
// limit closest to v at or above floor, closest first, skipping skip.
func (s *Searcher) nearest(v embed.Vector, from time.Time, floor float32, limit int, skip map[uint64]bool) []scored {
	var top []scored
	err := s.Store.StoryVectors(from, func(sv storage.StoryVector) {
		if skip[sv.StoryID] {
			return
		}
		var w embed.Vector
		if w.UnmarshalBinary(sv.Vector) != nil || w.Model != v.Model {
			return
		}
		cos := v.Cosine(w)
		if cos < floor {
			return
		}
		top = append(top, scored{hit: search.Hit{StoryID: sv.StoryID}, cos: cos})
		if len(top) > 4*limit {
			top = best(top, limit)
		}
	})
	if err != nil {
		s.log().Warn("semantic: reading story vectors", "err", err)
	}
	return best(top, limit)
}

func best(s []scored, limit int) []scored {
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.cos, a.cos); c != 0 {
			return c
		}
		return cmp.Compare(b.hit.StoryID, a.hit.StoryID)
	})
	return s[:min(len(s), limit)]
}

// Similar is 🔎: the stories whose embeddings are closest to this story's,
// across languages, closest first, at least SimilarMin close. Without a
// vector for the story it is the index's more-like-this.
func (s *Searcher) Similar(ctx context.Context, storyID uint64, title, text string, limit int) ([]search.Hit, error) {
	v, _, ok := s.vectorOf(storyID)
	if !ok || limit <= 0 {
		return s.Index.Similar(ctx, storyID, title, text, limit)
	}
	floor := cmp.Or(s.SimilarMin, embed.DefaultThreshold(s.Embedder.Model())-0.2)
	near := s.nearest(v, s.now().Add(-similarSpan), floor, limit, map[uint64]bool{storyID: true})
	var out []search.Hit
	for _, n := range near {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if h, ok := s.hit(n.hit.StoryID, float64(n.cos)); ok {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return s.Index.Similar(ctx, storyID, title, text, limit)
	}
	return out, nil
}
