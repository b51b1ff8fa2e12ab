package search

import (
	"fmt"
	"strings"
	"time"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"dozor/internal/query"
)

// Scoring weights; see Search.
const (
	// titleBoost multiplies a word's or phrase's score in the title.
	titleBoost = 2.0
	// filterBoost scales what lang:, site:, topic:, since: and until: add to
	// the score: they select articles, they say nothing about relevance.
	filterBoost = 0.01
)

// translate turns a parsed query into bleve query objects, node by node.
// It never builds an empty conjunction or disjunction and never uses
// bleve's MatchNoneQuery, which matters for exclusions: see exclude.
func translate(n query.Node) (bquery.Query, error) {
	switch n.Kind {
	case query.Word:
		if len(n.Stems) != 1 {
			return nil, fmt.Errorf("search: a word with %d stems", len(n.Stems))
		}
		return inTitleOrText(func(field string) bquery.Query {
			t := bquery.NewTermQuery(n.Stems[0])
			t.SetField(field)
			return t
		}), nil
	case query.Phrase:
		if len(n.Stems) == 0 {
			return nil, fmt.Errorf("search: an empty phrase")
		}
		return inTitleOrText(func(field string) bquery.Query {
			return bquery.NewPhraseQuery(n.Stems, field)
		}), nil
	case query.Lang:
		return filter(fLang, n.Value), nil
	case query.Site:
		return filter(fSite, n.Value), nil
	case query.Topic:
		return filter(fTopics, strings.ToLower(n.Value)), nil
	case query.Since:
		return dateRange(n.Time, time.Time{}), nil
	case query.Until:
		return dateRange(time.Time{}, n.Time), nil
	case query.Not:
		if len(n.Kids) != 1 {
			return nil, fmt.Errorf("search: an exclusion of %d terms", len(n.Kids))
		}
		kid, err := translate(n.Kids[0])
		if err != nil {
			return nil, err
		}
		return exclude(nil, []bquery.Query{kid}), nil
	case query.And:
		var must, not []bquery.Query
		for _, k := range n.Kids {
			if k.Kind == query.Not && len(k.Kids) == 1 {
				q, err := translate(k.Kids[0])
				if err != nil {
					return nil, err
				}
				not = append(not, q)
				continue
			}
			q, err := translate(k)
			if err != nil {
				return nil, err
			}
			must = append(must, q)
		}
		switch {
		case len(must) == 0 && len(not) == 0:
			return nil, fmt.Errorf("search: an empty query")
		case len(not) > 0:
			return exclude(must, not), nil
		case len(must) == 1:
			return must[0], nil
		}
		return bquery.NewConjunctionQuery(must), nil
	case query.Or:
		if len(n.Kids) == 0 {
			return nil, fmt.Errorf("search: an empty OR")
		}
		var or []bquery.Query
		for _, k := range n.Kids {
			q, err := translate(k)
			if err != nil {
				return nil, err
			}
			or = append(or, q)
		}
		if len(or) == 1 {
			return or[0], nil
		}
		return bquery.NewDisjunctionQuery(or), nil
	}
	return nil, fmt.Errorf("search: unknown query node kind %d", n.Kind)
}

// inTitleOrText is a word or phrase in the title (boosted) or in the text.
// They are separate fields, so a phrase never runs from one into the other.
func inTitleOrText(in func(field string) bquery.Query) bquery.Query {
	t, x := in(fTitle), in(fText)
	t.(bquery.BoostableQuery).SetBoost(titleBoost)
	return bquery.NewDisjunctionQuery([]bquery.Query{t, x})
}

func filter(field, value string) bquery.Query {
	t := bquery.NewTermQuery(value)
	t.SetField(field)
	t.SetBoost(filterBoost)
	return t
}

// dateRange is from–to, both inclusive, a zero end open. Ends are clamped
// to what bleve can represent, so since:1500-01-01 is every dated article
// rather than an error.
func dateRange(from, to time.Time) bquery.Query {
	clamp := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		if t.Before(minTime) {
			return minTime
		}
		if t.After(maxTime) {
			return maxTime
		}
		return t
	}
	yes := true
	q := bquery.NewDateRangeInclusiveQuery(clamp(from), clamp(to), &yes, &yes)
	q.SetField(fTime)
	q.SetBoost(filterBoost)
	return q
}

// exclude is must (all of them) without any of not.
//
// How bleve runs it (search/query/boolean.go, v2.5.7): a BooleanQuery
// with only must-not clauses starts from a MatchAllSearcher, so it matches
// every document that matches none of them; with must clauses it matches
// those that match all of must and none of not. Inside an OR, such as
// `ВТБ (Китай OR -спорт)`, the exclusion is a boolean query of its own, so
// it stands for "every article without спорт" and the OR is a plain
// disjunction: exactly Match's !kid.match(d).
//
// The trap: BooleanQuery.Searcher drops a clause whose searcher is a
// MatchNoneSearcher, so Must matching nothing "by construction" (an empty
// conjunction, MatchNoneQuery) would silently turn `a -b` into `-b`, every
// article without b. translate never builds such a clause: its
// conjunctions and disjunctions always have operands, and term, phrase and
// date-range searchers never turn into MatchNone, even for a term no
// document has. The agreement test covers words absent from the index.
func exclude(must, not []bquery.Query) bquery.Query {
	b := bquery.NewBooleanQuery(nil, nil, nil)
	if len(must) > 0 {
		b.AddMust(must...)
	}
	b.AddMustNot(not...)
	return b
}
