package query

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"dozor/internal/analysis"
)

const (
	// MaxLen is the longest query accepted, in characters, both as written
	// and in canonical form.
	MaxLen = 1000
	// MaxDepth is how deeply AND, OR and exclusion may nest.
	MaxDepth = 32
)

// SyntaxError says where and why a query is wrong.
type SyntaxError struct {
	Pos int // in characters (runes) from the start of the query, from 0
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: at %d: %s", e.Pos, e.Msg)
}

// Caret shows the query with a caret under the error, for a reply in a
// monospaced font:
//
//	ВТБ (Китай
//	    ^ unbalanced "(": no matching ")"
func (e *SyntaxError) Caret(query string) string {
	line := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, query)
	pos := min(max(e.Pos, 0), utf8.RuneCountInString(line))
	return line + "\n" + strings.Repeat(" ", pos) + "^ " + e.Msg
}

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tPhrase
	tFilter
	tLParen
	tRParen
	tOr
	tMinus
)

type token struct {
	kind   tokKind
	pos    int    // rune offset
	text   string // word, phrase contents or filter value
	key    string // filter name, lower case
	valPos int    // rune offset of a filter's value
}

// closers returns the quotes that close a phrase opened with r, or "" if
// r does not open one: phones turn " into “ ”, Russian keyboards type « ».
func closers(r rune) string {
	switch r {
	case '"':
		return `"`
	case '“':
		return `”"`
	case '«':
		return `»"`
	case '„':
		return `“”"`
	}
	return ""
}

func isQuote(r rune) bool {
	switch r {
	case '"', '“', '”', '«', '»', '„':
		return true
	}
	return false
}

func lex(src []rune) ([]token, *SyntaxError) {
	var toks []token
	for i := 0; i < len(src); {
		r := src[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{kind: tLParen, pos: i})
			i++
		case r == ')':
			toks = append(toks, token{kind: tRParen, pos: i})
			i++
		case r == '|':
			toks = append(toks, token{kind: tOr, pos: i})
			i++
		case r == '-':
			if i+1 == len(src) || unicode.IsSpace(src[i+1]) {
				return nil, errAt(i, `"-" must be written right before what it excludes, as in -спорт`)
			}
			toks = append(toks, token{kind: tMinus, pos: i})
			i++
		case isQuote(r):
			close := closers(r)
			if close == "" {
				return nil, errAt(i, "closing quote %q without an opening one", r)
			}
			j := i + 1
			for j < len(src) && !strings.ContainsRune(close, src[j]) {
				j++
			}
			if j == len(src) {
				return nil, errAt(i, "unterminated quote: the phrase has no closing quote")
			}
			toks = append(toks, token{kind: tPhrase, pos: i, text: string(src[i+1 : j])})
			i = j + 1
		default:
			j := i
			for j < len(src) && !endsWord(src[j]) {
				j++
			}
			toks = append(toks, wordToken(src[i:j], i))
			i = j
		}
	}
	return append(toks, token{kind: tEOF, pos: len(src)}), nil
}

func endsWord(r rune) bool {
	return unicode.IsSpace(r) || r == '(' || r == ')' || r == '|' || isQuote(r)
}

// wordToken classifies a run of word characters: OR, a filter (ASCII letters
// then a colon) or a word.
func wordToken(w []rune, pos int) token {
	s := string(w)
	if s == "OR" {
		return token{kind: tOr, pos: pos}
	}
	if k := strings.IndexByte(s, ':'); k > 0 && isASCIILetters(s[:k]) {
		return token{kind: tFilter, pos: pos, key: strings.ToLower(s[:k]), text: s[k+1:], valPos: pos + k + 1}
	}
	return token{kind: tWord, pos: pos, text: s}
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

type parser struct {
	toks   []token
	i      int
	search *time.Time // now, for search queries; nil for topics
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// Parse parses a topic query; see the package documentation for the
// language. The error, if any, is a *SyntaxError.
func Parse(s string) (*Query, error) { return parse(s, nil) }

// ParseSearch parses a search query: the topics' language, and also
// topic:<name> (what that topic matched), since: and until: (a date such as
// 2026-01-01, or a span back from now such as 7d, 12h or 2w). A search may
// ask for filters alone ("topic:vtb since:7d"). Dates are in UTC; since:
// and until: may not stand under OR or an exclusion. Match never matches
// topic:, since: or until:; the search index does.
func ParseSearch(s string, now time.Time) (*Query, error) { return parse(s, &now) }

func parse(s string, search *time.Time) (*Query, error) {
	src := []rune(s)
	if len(src) > MaxLen {
		return nil, errAt(MaxLen, "the query is too long: %d characters, at most %d", len(src), MaxLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return nil, errAt(0, "empty query: write the words to look for")
	}
	p := &parser{toks: toks, search: search}
	root, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tRParen {
		return nil, errAt(t.pos, `unbalanced ")": no matching "("`)
	}
	if root == nil {
		return nil, errAt(0, "empty query: write the words to look for")
	}
	if err := checkDepth(root, 0); err != nil {
		return nil, err
	}
	if err := checkPositive(root, false); err != nil {
		return nil, err
	}
	if err := checkTimes(root, false); err != nil {
		return nil, err
	}
	q := &Query{root: root}
	if n := utf8.RuneCountInString(q.String()); n > MaxLen {
		return nil, errAt(0, "the query is too long: %d characters when written out in full, at most %d", n, MaxLen)
	}
	root.compile()
	return q, nil
}

// parseAnd reads terms up to the end or a ")"; nil if there are none.
func (p *parser) parseAnd() (*node, *SyntaxError) {
	var kids []*node
	for {
		if k := p.peek().kind; k == tEOF || k == tRParen {
			break
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	return join(kAnd, kids), nil
}

func (p *parser) parseOr() (*node, *SyntaxError) {
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	kids := []*node{n}
	for p.peek().kind == tOr {
		or := p.next()
		if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr {
			return nil, errAt(or.pos, `"OR" must stand between two terms`)
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	return join(kOr, kids), nil
}

func (p *parser) parseUnary() (*node, *SyntaxError) {
	if p.peek().kind != tMinus {
		return p.parsePrimary()
	}
	minus := p.next()
	if k := p.peek().kind; k == tEOF || k == tRParen || k == tOr {
		return nil, errAt(minus.pos, `"-" must be followed by what it excludes`)
	}
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if n.kind == kNot {
		return n.kids[0], nil // --a is a
	}
	return &node{kind: kNot, pos: minus.pos, kids: []*node{n}}, nil
}

func (p *parser) parsePrimary() (*node, *SyntaxError) {
	t := p.next()
	switch t.kind {
	case tWord:
		n := words(analysis.Tokens(t.text), t.pos)
		if n == nil {
			return nil, errAt(t.pos, "%q has no letters or digits to look for", t.text)
		}
		return n, nil
	case tPhrase:
		n := words(analysis.Tokens(t.text), t.pos)
		if n == nil {
			return nil, errAt(t.pos, "empty phrase: put words between the quotes")
		}
		return n, nil
	case tFilter:
		return p.filter(t)
	case tLParen:
		if p.peek().kind == tRParen {
			return nil, errAt(t.pos, "empty parentheses")
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, errAt(t.pos, `unbalanced "(": no matching ")"`)
		}
		p.next()
		return n, nil
	case tOr:
		return nil, errAt(t.pos, `"OR" must stand between two terms`)
	case tRParen:
		return nil, errAt(t.pos, `unbalanced ")": no matching "("`)
	}
	return nil, errAt(t.pos, "unexpected end of the query")
}

// words makes a word, or a phrase of several, from normalized tokens.
func words(toks []string, pos int) *node {
	if len(toks) == 0 {
		return nil
	}
	n := &node{kind: kWord, pos: pos, words: toks, stems: make([]string, len(toks))}
	if len(toks) > 1 {
		n.kind = kPhrase
	}
	for i, w := range toks {
		n.stems[i] = analysis.Stem(w)
	}
	return n
}

func (p *parser) filter(t token) (*node, *SyntaxError) {
	if p.search != nil {
		switch t.key {
		case "topic":
			if t.text == "" {
				return nil, errAt(t.pos, "topic: needs a topic's name, as in topic:vtb-china")
			}
			return &node{kind: kTopic, pos: t.pos, value: t.text}, nil
		case "since", "until":
			at, err := parseWhen(t.text, *p.search, t.key == "until")
			if err != nil {
				return nil, errAt(t.valPos, "%s: %v", t.key, err)
			}
			k := kSince
			if t.key == "until" {
				k = kUntil
			}
			return &node{kind: k, pos: t.pos, at: at}, nil
		}
	}
	switch t.key {
	case "lang":
		v := strings.ToLower(t.text)
		switch v {
		case "ru", "en":
			return &node{kind: kLang, pos: t.pos, value: v}, nil
		case "":
			return nil, errAt(t.pos, "lang: needs a language: lang:ru or lang:en")
		}
		return nil, errAt(t.valPos, "unknown language %q: use lang:ru or lang:en", t.text)
	case "site":
		if t.text == "" {
			return nil, errAt(t.pos, "site: needs a domain, as in site:finextra.com")
		}
		v := analysis.SiteOf(t.text)
		if !validDomain(v) {
			return nil, errAt(t.valPos, "%q is not a domain name, as in site:finextra.com", t.text)
		}
		return &node{kind: kSite, pos: t.pos, value: v}, nil
	}
	if p.search != nil {
		return nil, errAt(t.pos, "unknown filter %q: the filters are lang:, site:, topic:, since: and until:", t.key+":")
	}
	return nil, errAt(t.pos, "unknown filter %q: the filters are lang: and site:", t.key+":")
}

// parseWhen reads a date (2026-01-01, or 2026-01-01T10:00, in UTC) or a
// span back from now (30m, 12h, 7d, 2w). A date for until: means the end of
// that day.
func parseWhen(v string, now time.Time, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("needs a date such as 2026-01-01 or a span such as 7d")
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			if end && layout == "2006-01-02" {
				t = t.Add(24*time.Hour - time.Nanosecond)
			}
			return t, nil
		}
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
	n, err := strconv.Atoi(v[:len(v)-1])
	if unit == 0 || err != nil || n < 0 || n > 100*365 {
		return time.Time{}, fmt.Errorf("%q is neither a date such as 2026-01-01 nor a span such as 7d", v)
	}
	return now.Add(-time.Duration(n) * unit), nil
}

// checkTimes keeps since: and until: out of ORs and exclusions, where
// they would mean something nobody asks for.
func checkTimes(n *node, nested bool) *SyntaxError {
	switch n.kind {
	case kSince, kUntil:
		if nested {
			return errAt(n.pos, "since: and until: apply to the whole search: write them outside OR, parentheses and exclusions")
		}
	case kAnd:
		for _, kid := range n.kids {
			if err := checkTimes(kid, nested); err != nil {
				return err
			}
		}
	case kOr, kNot:
		for _, kid := range n.kids {
			if err := checkTimes(kid, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// validDomain accepts dot-separated labels of letters, digits and hyphens.
func validDomain(s string) bool {
	if s == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// join makes an AND or OR of kids, merging nested ones of the same kind so
// that (a b) c and a b c are the same query.
func join(k kind, kids []*node) *node {
	if len(kids) == 0 {
		return nil
	}
	if len(kids) == 1 {
		return kids[0]
	}
	n := &node{kind: k, pos: kids[0].pos}
	for _, kid := range kids {
		if kid.kind == k {
			n.kids = append(n.kids, kid.kids...)
		} else {
			n.kids = append(n.kids, kid)
		}
	}
	return n
}

func checkDepth(n *node, depth int) *SyntaxError {
	if len(n.kids) == 0 {
		return nil
	}
	if depth++; depth > MaxDepth {
		return errAt(n.pos, "nested deeper than %d levels", MaxDepth)
	}
	for _, kid := range n.kids {
		if err := checkDepth(kid, depth); err != nil {
			return err
		}
	}
	return nil
}

// checkPositive rejects a query, or a side of an OR, that only excludes:
// it would match almost every article.
func checkPositive(n *node, inOr bool) *SyntaxError {
	switch n.kind {
	case kOr:
		for _, kid := range n.kids {
			if err := checkPositive(kid, true); err != nil {
				return err
			}
		}
		return nil
	case kAnd, kNot:
		if positive(n) {
			return nil
		}
		if inOr {
			return errAt(n.pos, "this side of OR only excludes: give it a word, phrase or filter to look for")
		}
		return errAt(n.pos, "the query only excludes: add a word, phrase or filter to look for")
	}
	return nil
}

// positive reports whether n needs something to be present in an article.
func positive(n *node) bool {
	switch n.kind {
	case kNot:
		return false
	case kAnd:
		for _, kid := range n.kids {
			if positive(kid) {
				return true
			}
		}
		return false
	case kOr:
		for _, kid := range n.kids {
			if !positive(kid) {
				return false
			}
		}
		return true
	}
	return true
}

// Broad reports a query that only filters by language or by a whole
// top-level domain (lang:en, site:com, site:co.uk, or both): as a topic it
// would alert on almost every article. Search may use such queries; topics
// may not. A site: that names one site (site:finextra.com) follows that
// site and is fine.
func (q *Query) Broad() error {
	if q == nil || q.root == nil {
		return nil
	}
	if err := checkSpecific(q.root, false); err != nil {
		return err
	}
	return nil
}

func checkSpecific(n *node, inOr bool) *SyntaxError {
	if n.kind == kOr {
		for _, kid := range n.kids {
			if err := checkSpecific(kid, true); err != nil {
				return err
			}
		}
		return nil
	}
	if specific(n) {
		return nil
	}
	what := "the query"
	if inOr {
		what = "this side of OR"
	}
	if f := broadFilter(n); f != nil && f.kind == kSite {
		return errAt(f.pos, "%s only asks for site:%s, a whole top-level domain, which matches almost every article: add a word or phrase", what, f.value)
	}
	return errAt(n.pos, "%s only filters by language or domain, which matches almost every article: add a word or phrase to look for", what)
}

// specific reports whether n needs a word, a phrase or one site.
func specific(n *node) bool {
	switch n.kind {
	case kWord, kPhrase:
		return true
	case kSite:
		_, err := publicsuffix.EffectiveTLDPlusOne(n.value)
		return err == nil
	case kAnd:
		return slices.ContainsFunc(n.kids, specific)
	case kOr:
		for _, kid := range n.kids {
			if !specific(kid) {
				return false
			}
		}
		return true
	}
	return false
}

// broadFilter finds a site: filter of a top-level domain in n, for the
// error message.
func broadFilter(n *node) *node {
	if n.kind == kSite {
		return n
	}
	for _, kid := range n.kids {
		if f := broadFilter(kid); f != nil {
			return f
		}
	}
	return nil
}

// ParseTopic parses a query for a topic: Parse, and refused when Broad.
func ParseTopic(s string) (*Query, error) {
	q, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if err := q.Broad(); err != nil {
		return nil, err
	}
	return q, nil
}
