package query

import (
	"slices"
	"time"
)

// Kind is what a Node stands for.
type Kind int

// Node kinds.
const (
	Word   Kind = iota // one word, matched by stem
	Phrase             // words next to each other, in order, by stem
	Lang               // lang:
	Site               // site:, a domain and its subdomains
	Topic              // topic: (search only)
	Since              // since: (search only)
	Until              // until: (search only)
	Not                // an exclusion of Kids[0]
	And                // all of Kids
	Or                 // any of Kids
)

// Node is a read-only view of a parsed query, for an engine that answers
// the same language another way (the search index).
type Node struct {
	Kind  Kind
	Words []string  // Word, Phrase: the words, normalized (lower case, ё → е)
	Stems []string  // Word, Phrase: their stems, as matched
	Value string    // Lang, Site (in SiteOf form), Topic
	Time  time.Time // Since, Until
	Kids  []Node    // Not, And, Or
}

var kinds = map[kind]Kind{kWord: Word, kPhrase: Phrase, kLang: Lang, kSite: Site, kTopic: Topic,
	kSince: Since, kUntil: Until, kNot: Not, kAnd: And, kOr: Or}

// Tree returns the query as a tree of Nodes.
func (q *Query) Tree() Node {
	if q == nil || q.root == nil {
		return Node{Kind: And}
	}
	return q.root.tree()
}

func (n *node) tree() Node {
	t := Node{Kind: kinds[n.kind], Words: slices.Clone(n.words), Stems: slices.Clone(n.stems), Value: n.value, Time: n.at}
	for _, kid := range n.kids {
		t.Kids = append(t.Kids, kid.tree())
	}
	return t
}
