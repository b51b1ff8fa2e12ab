package query

import (
	"slices"
	"strings"
	"time"

	"dozor/internal/analysis"
)

// Query is a parsed topic query. It is immutable, so one Query may match
// articles from many goroutines.
type Query struct {
	root *node
}

type kind uint8

const (
	kLang kind = iota // cheapest to check first
	kSite
	kTopic // search only
	kSince // search only
	kUntil // search only
	kWord
	kPhrase
	kNot
	kAnd
	kOr
)

type node struct {
	kind  kind
	pos   int       // where it starts in the query, for errors
	words []string  // kWord, kPhrase: normalized words, as printed
	stems []string  // kWord, kPhrase: their stems, as matched
	value string    // kLang, kSite, kTopic
	at    time.Time // kSince, kUntil
	kids  []*node   // kNot, kAnd, kOr, in the order written
	order []*node   // kAnd, kOr: kids, cheapest first, for Match
}

// compile orders the operands of every AND and OR so that Match tries
// filters and single words before phrases and groups.
func (n *node) compile() {
	for _, kid := range n.kids {
		kid.compile()
	}
	if n.kind == kAnd || n.kind == kOr {
		n.order = slices.Clone(n.kids)
		slices.SortStableFunc(n.order, func(a, b *node) int { return int(a.kind) - int(b.kind) })
	}
}

// Match reports whether the analysed article matches the query. It does
// not allocate: every word was stemmed when the query was parsed.
func (q *Query) Match(d *analysis.Doc) bool {
	if q == nil || q.root == nil || d == nil {
		return false
	}
	return q.root.match(d)
}

func (n *node) match(d *analysis.Doc) bool {
	switch n.kind {
	case kWord:
		return d.Has(n.stems[0])
	case kPhrase:
		return d.HasPhrase(n.stems)
	case kLang:
		return d.Lang == n.value
	case kSite:
		return d.OnSite(n.value)
	case kTopic, kSince, kUntil:
		// What a topic matched and when an article appeared are not in
		// the article's text: only the search index answers these.
		return false
	case kNot:
		return !n.kids[0].match(d)
	case kAnd:
		for _, kid := range n.order {
			if !kid.match(d) {
				return false
			}
		}
		return true
	case kOr:
		for _, kid := range n.order {
			if kid.match(d) {
				return true
			}
		}
		return false
	}
	return false
}

// String returns the canonical form of the query, which parses back to
// the same query.
func (q *Query) String() string {
	if q == nil || q.root == nil {
		return ""
	}
	var b strings.Builder
	q.root.write(&b, kWord)
	return b.String()
}

// write prints n inside an operand of kind parent.
func (n *node) write(b *strings.Builder, parent kind) {
	switch n.kind {
	case kWord:
		b.WriteString(n.words[0])
	case kPhrase:
		b.WriteByte('"')
		for i, w := range n.words {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
		}
		b.WriteByte('"')
	case kLang:
		b.WriteString("lang:" + n.value)
	case kSite:
		b.WriteString("site:" + n.value)
	case kTopic:
		b.WriteString("topic:" + n.value)
	case kSince:
		b.WriteString("since:" + n.at.UTC().Format(time.RFC3339))
	case kUntil:
		b.WriteString("until:" + n.at.UTC().Format(time.RFC3339))
	case kNot:
		b.WriteByte('-')
		n.kids[0].write(b, kNot)
	case kAnd, kOr:
		// An AND inside an OR needs parentheses; an OR inside an AND does
		// not, but reads more easily with them.
		paren := parent == kNot || parent == kAnd || parent == kOr
		if paren {
			b.WriteByte('(')
		}
		sep := " "
		if n.kind == kOr {
			sep = " OR "
		}
		for i, kid := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			kid.write(b, n.kind)
		}
		if paren {
			b.WriteByte(')')
		}
	}
}

// Terms returns the stems the query looks for, each once, in the order
// written, leaving out excluded words: an article word whose
// analysis.Stem is among them is worth highlighting.
func (q *Query) Terms() []string {
	if q == nil || q.root == nil {
		return nil
	}
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		switch n.kind {
		case kWord, kPhrase:
			for _, s := range n.stems {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		case kAnd, kOr:
			for _, kid := range n.kids {
				walk(kid)
			}
		}
	}
	walk(q.root)
	return out
}
