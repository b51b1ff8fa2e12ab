package query

import "dozor/internal/analysis"

// Set is many named queries matched together, as a watchlist's topics are
// against each new article. Each query is indexed under stems that any
// article it matches must contain, so an article is checked only against
// the queries whose stems it has (and those that need none, such as a
// site: filter): with hundreds of topics, a few checks instead of
// hundreds. It is read-only once built.
type Set struct {
	names  []string
	qs     []*Query
	byStem map[string][]int32 // stem → queries that need it (one of a group)
	always []int32            // queries no stem is needed for
}

// NewSet indexes the queries; names[i] names qs[i].
func NewSet(names []string, qs []*Query) *Set {
	s := &Set{names: names, qs: qs, byStem: map[string][]int32{}}
	for i, q := range qs {
		need := needed(q.root)
		if need == nil {
			s.always = append(s.always, int32(i))
			continue
		}
		for _, stem := range need {
			if l := s.byStem[stem]; len(l) == 0 || l[len(l)-1] != int32(i) {
				s.byStem[stem] = append(l, int32(i))
			}
		}
	}
	return s
}

// Len is the number of queries.
func (s *Set) Len() int { return len(s.qs) }

// Match returns the names of the queries the document matches, in the
// order they were given.
func (s *Set) Match(d *analysis.Doc) []string {
	if s == nil || len(s.qs) == 0 || d == nil {
		return nil
	}
	seen := make([]bool, len(s.qs))
	var hits []int32
	try := func(i int32) {
		if !seen[i] {
			seen[i] = true
			if s.qs[i].Match(d) {
				hits = append(hits, i)
			}
		}
	}
	for _, i := range s.always {
		try(i)
	}
	if len(s.byStem) < d.Distinct() {
		for stem, qs := range s.byStem {
			if d.Has(stem) {
				for _, i := range qs {
					try(i)
				}
			}
		}
	} else {
		d.EachStem(func(stem string) {
			for _, i := range s.byStem[stem] {
				try(i)
			}
		})
	}
	if len(hits) == 0 {
		return nil
	}
	sortInt32(hits)
	names := make([]string, len(hits))
	for k, i := range hits {
		names[k] = s.names[i]
	}
	return names
}

func sortInt32(a []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// needed returns stems of which a document matching n has at least one,
// nil when no such set is known (n can match on filters alone, or only by
// what is absent).
func needed(n *node) []string {
	switch n.kind {
	case kWord:
		return n.stems[:1]
	case kPhrase:
		if len(n.stems) == 0 {
			return nil
		}
		return n.stems[:1]
	case kAnd:
		// Any operand's stems will do; the fewest keep the index small.
		var best []string
		for _, kid := range n.kids {
			if need := needed(kid); need != nil && (best == nil || len(need) < len(best)) {
				best = need
			}
		}
		return best
	case kOr:
		var all []string
		for _, kid := range n.kids {
			need := needed(kid)
			if need == nil {
				return nil
			}
			all = append(all, need...)
		}
		return all
	}
	return nil // lang:, site:, exclusions
}
