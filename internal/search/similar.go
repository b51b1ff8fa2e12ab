package search

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"dozor/internal/analysis"
)

const (
	// similarTerms is how many of the text's stems a more-like-this query
	// asks for.
	similarTerms = 25
	// similarPool is how many best-scoring articles Similar folds before
	// taking the best stories.
	similarPool = 500
)

// Similar returns up to limit stories most like the given text
// (more-like-this), newest first among the best matches, excluding storyID
// (0 excludes nothing).
//
// The text is analysed like an article. Its most distinctive stems are
// those with the highest tf·idf, tf counted in the text (a title word
// twice) and idf = ln(1 + N/df) by the index's document frequencies; stems
// of one or two letters, stems no other article has (df 0: they cannot
// match) and, in an index of 20 or more, stems in more than a third of
// the articles are left out.
// Articles matching at least a few of them (a fifth, 1 to 4) are ranked by
// TF-IDF with each stem boosted by its weight; the limit best stories are
// returned, newest first.
func (x *Index) Similar(ctx context.Context, storyID uint64, title, text string, limit int) ([]Hit, error) {
	if limit <= 0 {
		return nil, nil
	}
	terms, err := x.distinctive(ctx, title, text)
	if err != nil || len(terms) == 0 {
		return nil, err
	}
	var or []bquery.Query
	for _, t := range terms {
		q := inTitleOrText(func(field string) bquery.Query {
			q := bquery.NewTermQuery(t.stem)
			q.SetField(field)
			return q
		})
		q.(bquery.BoostableQuery).SetBoost(t.weight)
		or = append(or, q)
	}
	d := bquery.NewDisjunctionQuery(or)
	d.SetMin(float64(min(4, max(1, len(terms)/5))))
	var bq bquery.Query = d
	if storyID != 0 {
		story := bquery.NewTermQuery(strconv.FormatUint(storyID, 10))
		story.SetField(fStory)
		bq = exclude([]bquery.Query{d}, []bquery.Query{story})
	}
	top, _, err := x.best(ctx, bq, 0, similarPool, nil)
	if err != nil {
		return nil, err
	}
	hits := fold(top)
	hits = hits[:min(limit, len(hits))]
	slices.SortStableFunc(hits, func(a, b Hit) int { return b.Time.Compare(a.Time) })
	return hits, nil
}

type weighted struct {
	stem   string
	weight float64
}

// distinctive returns the text's most distinctive stems, best first.
func (x *Index) distinctive(ctx context.Context, title, text string) ([]weighted, error) {
	a := analysis.Analyze(title, text, "")
	tf := map[string]float64{}
	for _, s := range a.TitleStems() {
		tf[s] += 2
	}
	for _, s := range a.TextStems() {
		tf[s]++
	}
	if len(tf) == 0 {
		return nil, nil
	}
	ix, err := x.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := ix.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	n, err := r.DocCount()
	if err != nil || n == 0 {
		return nil, err
	}
	var out []weighted
	for s, f := range tf {
		if utf8.RuneCountInString(s) < 3 {
			continue
		}
		var df uint64
		for _, field := range []string{fTitle, fText} {
			tfr, err := r.TermFieldReader(ctx, []byte(s), field, false, false, false)
			if err != nil {
				return nil, err
			}
			df = max(df, tfr.Count())
			_ = tfr.Close()
		}
		if df == 0 || (n >= 20 && 3*df > n) {
			continue
		}
		idf := math.Log(1 + float64(n)/float64(df))
		out = append(out, weighted{s, (1 + math.Log(f)) * idf})
	}
	slices.SortFunc(out, func(a, b weighted) int {
		if c := cmp.Compare(b.weight, a.weight); c != 0 {
			return c
		}
		return cmp.Compare(a.stem, b.stem)
	})
	return out[:min(len(out), similarTerms)], nil
}
