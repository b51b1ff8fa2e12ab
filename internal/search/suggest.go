package search

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"dozor/internal/query"
)

// Suggest returns a looser query for a search that found nothing — the
// same query without its rarest word (by document frequency), or without
// an exclusion — as text the user can send; "" when there is none.
//
// Only dropping something that has to hold loosens a query: a word or
// phrase that is an operand of an AND (at the top, or inside an OR), or an
// exclusion there; dropping one side of an OR, or anything inside an
// exclusion, would narrow it. Words and phrases are tried rarest first (by
// how many articles have them, which for the rarest is usually none), then
// exclusions in the order written; the first candidate that is still a
// valid query and matches at least one article is returned, in canonical
// form.
func (x *Index) Suggest(q *query.Query) string {
	if q == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	root := q.Tree()

	type candidate struct {
		path []int
		df   uint64
		excl bool
		pos  int
	}
	var cands []candidate
	var walk func(n query.Node, path []int)
	walk = func(n query.Node, path []int) {
		if n.Kind != query.And && n.Kind != query.Or {
			return
		}
		for i, k := range n.Kids {
			p := append(slices.Clone(path), i)
			switch {
			case n.Kind == query.And && (k.Kind == query.Word || k.Kind == query.Phrase):
				c := candidate{path: p, pos: len(cands)}
				if bq, err := translate(k); err == nil {
					if c.df, err = x.count(ctx, bq); err != nil {
						continue
					}
				}
				cands = append(cands, c)
			case n.Kind == query.And && k.Kind == query.Not:
				cands = append(cands, candidate{path: p, excl: true, pos: len(cands)})
			default:
				walk(k, p)
			}
		}
	}
	walk(root, nil)
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.excl != b.excl {
			if a.excl {
				return 1
			}
			return -1
		}
		if !a.excl {
			if c := cmp.Compare(a.df, b.df); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.pos, b.pos)
	})
	for _, c := range cands {
		loose, ok := without(root, c.path)
		if !ok {
			continue
		}
		text := format(loose, query.Word)
		lq, err := query.ParseSearch(text, time.Now())
		if err != nil {
			continue
		}
		bq, err := translate(lq.Tree())
		if err != nil {
			continue
		}
		if n, err := x.count(ctx, bq); err != nil || n == 0 {
			continue
		}
		return lq.String()
	}
	return ""
}

// without returns n with the node at path removed; false if nothing would
// be left.
func without(n query.Node, path []int) (query.Node, bool) {
	if len(path) == 0 {
		return query.Node{}, false
	}
	i := path[0]
	kids := slices.Clone(n.Kids)
	if len(path) == 1 {
		kids = slices.Delete(kids, i, i+1)
	} else {
		kid, ok := without(kids[i], path[1:])
		if !ok {
			kids = slices.Delete(kids, i, i+1)
		} else {
			kids[i] = kid
		}
	}
	switch len(kids) {
	case 0:
		return query.Node{}, false
	case 1:
		if n.Kind == query.And || n.Kind == query.Or {
			return kids[0], true
		}
	}
	n.Kids = kids
	return n, true
}

// format writes a query tree in the query language, as query.Query.String
// does, for n inside an operand of kind parent (Word: at the top).
func format(n query.Node, parent query.Kind) string {
	switch n.Kind {
	case query.Word:
		return strings.Join(n.Words, " ")
	case query.Phrase:
		return `"` + strings.Join(n.Words, " ") + `"`
	case query.Lang:
		return "lang:" + n.Value
	case query.Site:
		return "site:" + n.Value
	case query.Topic:
		return "topic:" + n.Value
	case query.Since:
		return "since:" + n.Time.UTC().Format(time.RFC3339)
	case query.Until:
		return "until:" + n.Time.UTC().Format(time.RFC3339)
	case query.Not:
		if len(n.Kids) != 1 {
			return ""
		}
		return "-" + format(n.Kids[0], query.Not)
	case query.And, query.Or:
		sep := " "
		if n.Kind == query.Or {
			sep = " OR "
		}
		parts := make([]string, len(n.Kids))
		for i, k := range n.Kids {
			parts[i] = format(k, n.Kind)
		}
		s := strings.Join(parts, sep)
		if parent == query.Not || parent == query.And || parent == query.Or {
			s = "(" + s + ")"
		}
		return s
	}
	return ""
}
