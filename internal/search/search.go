package search

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"dozor/internal/query"
)

// Options tune Search.
type Options struct {
	Offset, Limit int           // stories to skip and return (Limit 0: 10)
	Now           time.Time     // for the recency boost (zero: time.Now())
	Timeout       time.Duration // a search running longer is cut off with what it found (0: 3 s)
}

// Hit is one story in the results: the best-scoring of its articles.
type Hit struct {
	StoryID   uint64 // 0: the article is not folded into a story yet, a story of its own
	ArticleID uint64
	Score     float64
	Articles  int       // articles of the story that matched
	Time      time.Time // when ArticleID appeared; zero if unknown
}

// Result is a page of a search.
type Result struct {
	Hits    []Hit
	Total   int  // stories that matched (as far as counted)
	Partial bool // cut off by Timeout or a size cap: there may be more
}

const (
	defaultLimit   = 10
	defaultTimeout = 3 * time.Second

	// recencyBoost is how much a brand-new article's score is raised, at
	// most; it halves every recencyHalfLife. See Search.
	recencyBoost    = 0.25
	recencyHalfLife = 7 * 24 * time.Hour
)

// ErrTimeout is returned when a search ran out of time before finding
// anything.
var ErrTimeout = errors.New("search: timed out before finding anything")

// errEnough stops a search from inside the match handler.
var errEnough = errors.New("search: enough")

// Search runs a query (from query.ParseSearch) and returns stories ranked by
// relevance, one hit per story: articles are folded by StoryID, an article
// with StoryID 0 is a story of its own, and a story ranks by its
// best-scoring article.
//
// Relevance is bleve's TF-IDF, per field: √tf · idf · 1/√(field length),
// idf = 1 + ln(N/(df+1)), with bleve's query norm and its coordination
// factor (an OR scores by the share of its operands that match). Not
// bleve's BM25: in v2.5.7 its "average field length" is
// ceil(distinct terms in the field / documents) (scorch's FieldCardinality
// is the size of the field's term dictionary), not the mean number of
// tokens, so its length normalisation follows the growth of the
// vocabulary rather than the documents' lengths: scores drift as the
// archive grows, and with an "average" of 1–3 tokens every long article is
// penalised almost in proportion to its length, so a one-line teaser
// outranks the full report. TF-IDF's 1/√length is milder and stable, and
// √tf keeps a page repeating «Китай» forty times from winning by forty.
// Two boosts sit on top:
//
//   - Title ×2 (titleBoost) on every word and phrase: the title says what
//     the article is about, a word in the body may be a passing mention.
//     The short title field already scores higher per word (1/√length);
//     the boost makes a title match win clearly over the same words only
//     in the body, even a body a day newer.
//   - Recency: the score is multiplied by 1 + 0.25·2^(−age/7 days), +25%
//     for an article that just appeared, +12.5% a week old, +1% a month
//     old. Analysts want this week's coverage before last year's when both
//     are about as relevant, and equal scores break toward the newer, but
//     an article that is clearly more relevant (by more than a quarter)
//     still wins whatever its age.
//
// lang:, site:, topic:, since: and until: select; they add almost nothing
// to the score (filterBoost).
//
// Memory is bounded: the best DefaultMaxMatches articles (by final score)
// are kept while bleve walks the matches, and a query matching more makes
// the result Partial; Total then counts the stories among the kept ones.
//
// Timeouts: bleve's SearchInContext checks the context before collecting
// and then every 1024 matches, and when it is done returns only
// ctx.Err(), with no hits. So Search collects through its own match
// handler (bleve's MakeDocumentMatchHandlerKey hook), which sees each match
// as bleve finds it; when opt.Timeout runs out, Search returns what the
// handler kept, Partial, or ErrTimeout if that is nothing yet. If ctx
// itself ends, Search returns ctx.Err().
func (x *Index) Search(ctx context.Context, q *query.Query, opt Options) (Result, error) {
	if q == nil {
		return Result{}, errors.New("search: no query")
	}
	bq, err := translate(q.Tree())
	if err != nil {
		return Result{}, err
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	top, partial, err := x.best(ctx, bq, opt.Timeout, x.maxMatches, func(score float64, t time.Time) float64 {
		return score * recency(now, t)
	})
	if err != nil {
		return Result{}, err
	}
	hits := fold(top)
	res := Result{Total: len(hits), Partial: partial}
	if off := max(opt.Offset, 0); off < len(hits) {
		res.Hits = hits[off:min(len(hits), off+limit)]
	}
	return res, nil
}

// recency is the recency factor of an article that appeared at t.
func recency(now, t time.Time) float64 {
	if t.IsZero() {
		return 1
	}
	age := max(now.Sub(t), 0)
	return 1 + recencyBoost*math.Exp2(-float64(age)/float64(recencyHalfLife))
}

// match is one matching article as the handler sees it.
type match struct {
	score   float64
	article uint64
	story   uint64
	time    int64 // UnixNano; 0 if none
}

// better orders matches best first: score, then newer, then higher id.
func better(a, b *match) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.time != b.time {
		return a.time > b.time
	}
	return a.article > b.article
}

// worstFirst is a min-heap of matches, the worst on top.
type worstFirst []*match

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return better(h[j], h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(v any)        { *h = append(*h, v.(*match)) }
func (h *worstFirst) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// best runs bq and keeps the keep best-scoring matches, rescored by
// rescore. partial is true when more matched or the timeout cut the walk
// short.
func (x *Index) best(ctx context.Context, bq bquery.Query, timeout time.Duration, keep int,
	rescore func(score float64, t time.Time) float64) (top []*match, partial bool, err error) {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	keep = max(keep, 1)
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := make(worstFirst, 0, min(keep, 1024))
	var spare *match
	err = x.walk(tctx, bq, true, func(m *match) error {
		if rescore != nil {
			var t time.Time
			if m.time != 0 {
				t = time.Unix(0, m.time)
			}
			m.score = rescore(m.score, t)
		}
		if len(h) < keep {
			c := *m
			heap.Push(&h, &c)
			return nil
		}
		partial = true
		if better(m, h[0]) {
			if spare == nil {
				spare = new(match)
			}
			*spare = *m
			spare, h[0] = h[0], spare
			heap.Fix(&h, 0)
		}
		return nil
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, false, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		if len(h) == 0 {
			return nil, false, ErrTimeout
		}
		partial = true
	default:
		return nil, false, err
	}
	return h, partial, nil
}

// fold groups matches by story, best first.
func fold(ms []*match) []Hit {
	type key struct{ story, article uint64 }
	byStory := make(map[key]int, len(ms))
	var hits []Hit
	var bests []*match
	for _, m := range ms {
		k := key{story: m.story}
		if m.story == 0 {
			k.article = m.article
		}
		i, ok := byStory[k]
		if !ok {
			byStory[k] = len(hits)
			hits = append(hits, Hit{StoryID: m.story})
			bests = append(bests, m)
			i = len(hits) - 1
		} else if better(m, bests[i]) {
			bests[i] = m
		}
		hits[i].Articles++
	}
	for i, m := range bests {
		hits[i].ArticleID, hits[i].Score = m.article, m.score
		if m.time != 0 {
			hits[i].Time = time.Unix(0, m.time).UTC()
		}
	}
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if better(bests[a], bests[b]) {
			return -1
		}
		if better(bests[b], bests[a]) {
			return 1
		}
		return cmp.Compare(a, b)
	})
	out := make([]Hit, len(hits))
	for i, j := range order {
		out[i] = hits[j]
	}
	return out
}

// walk runs bq and calls each with every match, in index order, as bleve
// finds it; the match is reused after each returns. It goes through
// bleve's document-match-handler hook rather than bleve's top-N collector,
// so that what was seen survives a timeout and memory is the caller's to
// bound. each returning errEnough stops the walk without an error.
func (x *Index) walk(ctx context.Context, bq bquery.Query, score bool, each func(*match) error) error {
	req := bleve.NewSearchRequestOptions(bq, 0, 0, false)
	if !score {
		req.Score = "none"
	}
	var herr error // an error from the handler, not bleve's
	maker := func(sctx *bsearch.SearchContext) (bsearch.DocumentMatchHandler, bool, error) {
		dv, err := sctx.IndexReader.DocValueReader([]string{fStory, fWhen})
		if err != nil {
			return nil, false, err
		}
		var m match
		visit := func(field string, term []byte) {
			switch field {
			case fStory:
				m.story, _ = strconv.ParseUint(string(term), 10, 64)
			case fWhen:
				m.time, _ = strconv.ParseInt(string(term), 10, 64)
			}
		}
		return func(d *bsearch.DocumentMatch) error {
			if d == nil {
				return nil
			}
			m = match{score: d.Score}
			id, err := strconv.ParseUint(d.ID, 10, 64)
			if err != nil {
				herr = fmt.Errorf("search: document id %q: %w", d.ID, err)
				return herr
			}
			m.article = id
			if err := dv.VisitDocValues(d.IndexInternalID, visit); err != nil {
				herr = err
				return err
			}
			sctx.DocumentMatchPool.Put(d)
			if x.onMatch != nil {
				x.onMatch()
			}
			if err := each(&m); err != nil {
				herr = err
				return err
			}
			return nil
		}, true, nil
	}
	hctx := context.WithValue(ctx, bsearch.MakeDocumentMatchHandlerKey, bsearch.MakeDocumentMatchHandler(maker))
	_, err := x.idx.SearchInContext(hctx, req)
	if err != nil && herr != nil && errors.Is(err, herr) {
		if errors.Is(herr, errEnough) {
			return nil
		}
		return herr
	}
	return err
}

// Matches returns the ids of every article the query matches, unranked and
// unfolded, at most limit (limit ≤ 0: no limit), in index order; partial
// is true when there were more. It has no timeout of its own: ctx bounds
// it.
func (x *Index) Matches(ctx context.Context, q *query.Query, limit int) ([]uint64, bool, error) {
	if q == nil {
		return nil, false, errors.New("search: no query")
	}
	bq, err := translate(q.Tree())
	if err != nil {
		return nil, false, err
	}
	var ids []uint64
	partial := false
	err = x.walk(ctx, bq, false, func(m *match) error {
		if limit > 0 && len(ids) == limit {
			partial = true
			return errEnough
		}
		ids = append(ids, m.article)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return ids, partial, nil
}

// count is how many articles bq matches.
func (x *Index) count(ctx context.Context, bq bquery.Query) (uint64, error) {
	req := bleve.NewSearchRequestOptions(bq, 0, 0, false)
	req.Score = "none"
	res, err := x.idx.SearchInContext(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.Total, nil
}
