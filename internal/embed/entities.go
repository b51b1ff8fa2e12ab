package embed

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"dozor/internal/analysis"
)

// Entities recognises named entities across Russian and English, so that a
// report and its translation can be seen to name the same bank, person and
// city. It knows two kinds:
//
//   - Known names: the built-in list (see known.go: countries, capitals,
//     Russian and Chinese banks and companies, central banks, agencies,
//     leaders — ВТБ/VTB, Сбербанк/Sberbank, Хуавэй/Huawei, Китай/China,
//     Шанхай/Shanghai, Путин/Putin, Си Цзиньпин/Xi Jinping …) and the
//     groups a team adds with Add. Each group has one key in every
//     language. A known name counts wherever it starts with a capital,
//     even at the start of a sentence.
//   - Unknown names: capitalised words the list does not know, keyed by
//     transliteration (see skeleton), so «Грефа» meets "Gref" and
//     «Набиуллиной» meets "Nabiullina". Adjacent capitalised words are one
//     name, keyed by its last word ("Andrey Kostin" → kostin); capitalised
//     words just before a known name belong to it («Банк ВТБ», "President
//     Putin").
//
// A capital letter alone does not make a name, since every sentence starts
// with one. An unknown word counts only when the text itself shows it is a
// name: it is an acronym (all capitals, 2–6 letters: ТАСС, BRICS, T1), or
// mixed case (OpenAI, ByteDance), or it is capitalised somewhere not at the
// start of a sentence or line. Lines in Title Case or ALL CAPS (headlines)
// prove nothing; stop lists drop capitalised words that are not names
// (The, President, Monday, Russian, AI, CEO, ООО, Вы …). So «Банк повысил
// ставку» and "The bank said" give no entity, while «ВТБ» and «Сбербанка»
// do.
//
// An Entities is safe for concurrent use; Add is meant for start-up.
type Entities struct {
	mu      sync.RWMutex
	phrases map[string][]phrase // name stem of a name's first word → names, longest first
	bySkel  map[string]string   // skeleton of a one-word name → its key
	keys    map[string]bool
}

// phrase is one known name: its words and its key.
type phrase struct {
	// words are the name stems of its words, norms their full forms: a
	// word of a text matches a word of a name when either of its forms
	// matches either of the name's, because a nominative like «Газпром»
	// loses "-ом" to nameStem as if it were an instrumental, while its
	// genitive «Газпрома» keeps it.
	words []string
	norms []string
	key   string
	// short names (one word of at most three letters: US, РФ, Си) are not
	// trusted in ALL-CAPS lines, where "US" may be the pronoun.
	short bool
}

// DefaultEntities has the built-in list (see known.go).
func DefaultEntities() *Entities {
	e := &Entities{phrases: map[string][]phrase{}, bySkel: map[string]string{}, keys: map[string]bool{}}
	for _, g := range builtinGroups() {
		e.add(g.key, g.names)
	}
	return e
}

// Add adds one group of equivalent names (a team's own, from the YAML
// watchlist's `entities:`), e.g. Add("Т1", "T1", "Т1 Интеграция"). If a
// name is already known, the others join its group; otherwise the group's
// key is made from its first name ("t1"). Names are matched like the
// built-in ones: by name stem, so one form of a Russian name is enough.
func (e *Entities) Add(names ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := ""
	for _, n := range names {
		if ws := nameWords(n); len(ws) > 0 {
			if k := e.exact(ws); k != "" {
				key = k
				break
			}
		}
	}
	if key == "" {
		for _, n := range names {
			if ws := nameWords(n); len(ws) > 0 {
				parts := make([]string, len(ws))
				for i, w := range ws {
					parts[i] = skeleton(w.stem)
				}
				key = strings.Join(parts, "-")
				break
			}
		}
		if key == "" {
			return
		}
		if e.keys[key] {
			base := key
			for i := 2; e.keys[key]; i++ {
				key = base + "-" + strconv.Itoa(i)
			}
		}
	}
	e.add(key, names)
}

// exact is the key of a known name with exactly these words, or "".
func (e *Entities) exact(ws []word) string {
	for _, p := range e.phrases[ws[0].norm] {
		if len(p.words) == len(ws) && slices.EqualFunc(p.words, ws, func(s string, w word) bool { return s == w.stem }) {
			return p.key
		}
	}
	return ""
}

func (e *Entities) add(key string, names []string) {
	e.keys[key] = true
	for _, n := range names {
		ws := nameWords(n)
		if len(ws) == 0 || e.exact(ws) != "" {
			continue // the first group to claim a name keeps it
		}
		p := phrase{key: key, short: len(ws) == 1 && ws[0].letters <= 3}
		for _, w := range ws {
			p.words = append(p.words, w.stem)
			p.norms = append(p.norms, w.norm)
		}
		// Indexed under both forms of its first word; the norm entry is
		// what exact looks up.
		for _, first := range slices.Compact([]string{p.norms[0], p.words[0]}) {
			list := append(e.phrases[first], p)
			slices.SortStableFunc(list, func(a, b phrase) int { return len(b.words) - len(a.words) })
			e.phrases[first] = list
		}
		first := p.words[0]
		if len(ws) == 1 {
			if s := skeleton(first); e.bySkel[s] == "" {
				e.bySkel[s] = key
			}
		}
	}
}

func nameWords(name string) []word { return scanWords(name) }

// Of returns the keys of the named entities in a text (title and lead, as
// Input makes them), sorted, without repeats.
func (e *Entities) Of(text string) []string {
	ws := scanWords(text)
	if len(ws) == 0 {
		return nil
	}
	kinds := lineKinds(ws)
	found := map[string]bool{}
	known := make([]bool, len(ws))

	e.mu.RLock()
	for i := 0; i < len(ws); {
		if ws[i].shape != shapeLower {
			if n, key := e.match(ws, i, kinds); n > 0 {
				found[key] = true
				for k := i; k < i+n; k++ {
					known[k] = true
				}
				i += n
				continue
			}
		}
		i++
	}

	// Which unknown words does the text show to be names?
	proven := map[string]bool{}
	for i, w := range ws {
		if known[i] || !candidate(w) {
			continue
		}
		switch kind := kinds[w.line]; {
		case kind == lineAllCaps:
		case w.shape == shapeUpper && w.letters <= 6, w.shape == shapeMixed:
			proven[w.stem] = true
		case w.shape == shapeTitle && !w.initial && kind == lineNormal:
			proven[w.stem] = true
		}
	}

	for i := 0; i < len(ws); {
		if known[i] || !candidate(ws[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(ws) && !known[j] && candidate(ws[j]) && ws[j].gap <= gapHyphen {
			j++
		}
		run := ws[i:j]
		beforeKnown := j < len(ws) && known[j] && ws[j].gap <= gapHyphen
		i = j
		if beforeKnown || !slices.ContainsFunc(run, func(w word) bool { return proven[w.stem] }) {
			continue
		}
		head := ""
		for _, w := range slices.Backward(run) {
			if !genericHeadSet[w.stem] {
				head = w.stem
				break
			}
		}
		if head == "" {
			continue
		}
		s := skeleton(head)
		if k := e.bySkel[s]; k != "" {
			found[k] = true
		} else if len(s) >= 2 {
			found[s] = true
		}
	}
	e.mu.RUnlock()
	return slices.Sorted(maps.Keys(found))
}

// match finds the longest known name starting at ws[i]: its length in
// words and its key.
func (e *Entities) match(ws []word, i int, kinds []lineKind) (int, string) {
	best, key := 0, ""
	for _, first := range slices.Compact([]string{ws[i].norm, ws[i].stem}) {
		for _, p := range e.phrases[first] {
			if len(p.words) <= best || i+len(p.words) > len(ws) || p.short && kinds[ws[i].line] == lineAllCaps {
				continue
			}
			ok := true
			for k := range p.words {
				w := ws[i+k]
				if !p.matches(k, w) || k > 0 && w.gap > gapDot {
					ok = false
					break
				}
			}
			if ok {
				best, key = len(p.words), p.key
			}
		}
	}
	return best, key
}

// matches reports whether w can be the k-th word of p.
func (p phrase) matches(k int, w word) bool {
	return w.stem == p.words[k] || w.norm == p.norms[k] || w.norm == p.words[k] || w.stem == p.norms[k]
}

// candidate reports whether w could be part of an unknown name.
func candidate(w word) bool {
	switch {
	case w.shape == shapeLower:
		return false
	case w.letters < 2 && !(w.shape == shapeUpper && w.digits > 0):
		return false
	case w.shape == shapeUpper && (stopAcronymSet[w.norm] || romanNumeral(w.norm)):
		return false
	}
	return !stopWordSet[w.stem]
}

func romanNumeral(s string) bool {
	return strings.Trim(s, "ivxlcdm") == ""
}

var (
	stopAcronymSet = func() map[string]bool {
		m := map[string]bool{}
		for _, w := range stopAcronyms {
			m[analysis.Normalize(w)] = true
		}
		return m
	}()
	stopWordSet    = stemSet(stopWords)
	genericHeadSet = stemSet(genericHeads)
)

func stemSet(words []string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		for _, x := range scanWords(w) {
			m[x.stem] = true
		}
	}
	return m
}

// eachShared calls fn for each key two sorted key lists have in common.
func eachShared(a, b []string, fn func(key string)) {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			fn(a[i])
			i++
			j++
		case -1:
			i++
		default:
			j++
		}
	}
}

// The scanner.

// word is one word of a text, with what entity recognition needs to know
// about how it was written.
type word struct {
	norm    string // analysis.Normalize: lower case, ё→е
	stem    string // nameStem(norm)
	shape   shape
	letters int
	digits  int
	initial bool // first word of a line or of a sentence
	line    int
	gap     gap  // what separates it from the word before
	dotted  bool // one capital, or capitals joined by dots (U.S.)
}

type shape uint8

const (
	shapeLower shape = iota // starts with a small letter or a digit
	shapeTitle              // Capital, then small letters
	shapeUpper              // ALL CAPITALS (digits allowed: T1)
	shapeMixed              // CamelCase: OpenAI, ByteDance
)

// gap is what lies between two words, from closest to farthest.
type gap uint8

const (
	gapSpace  gap = iota // white space only, on one line
	gapHyphen            // a hyphen, maybe with spaces: Альфа-Банк
	gapDot               // a full stop without spaces: U.S.
	gapOther             // punctuation or a line break
)

// scanWords splits text into words as internal/analysis does (letters and
// digits; an apostrophe between letters stays inside a word) and notes
// each word's shape and position. Dotted single-letter abbreviations (U.S.,
// U.K.) become one word.
func scanWords(text string) []word {
	var ws []word
	line, prevEnd := 0, 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			i += size
			continue
		}
		start := i
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '\u00ad':
				i += size
				continue
			case (r == '\'' || r == '’' || r == 'ʼ') && letterAt(text, i+size):
				i += size
				continue
			}
			break
		}
		between := text[prevEnd:start]
		line += strings.Count(between, "\n")
		w := word{line: line, gap: gapOf(between), initial: len(ws) == 0 || sentenceStart(between)}
		if n := len(ws); n > 0 && ws[n-1].letters == 0 && ws[n-1].initial && ws[n-1].line == line {
			w.initial = true // "0 Be the first": numbers do not start a sentence's words
		}
		w.shape, w.letters, w.digits = shapeOf(text[start:i])
		w.norm = analysis.Normalize(text[start:i])
		prevEnd = i

		w.dotted = w.letters == 1 && w.digits == 0 && w.shape == shapeUpper
		if n := len(ws); n > 0 && w.dotted && w.gap == gapDot && ws[n-1].dotted {
			p := &ws[n-1]
			p.norm += w.norm
			p.stem = p.norm
			p.letters++
			continue
		}
		w.stem = nameStem(w.norm)
		ws = append(ws, w)
	}
	return ws
}

func letterAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

func gapOf(between string) gap {
	if strings.ContainsRune(between, '\n') {
		return gapOther
	}
	t := strings.TrimFunc(between, unicode.IsSpace)
	switch t {
	case "":
		return gapSpace
	case "-", "‐", "‑":
		return gapHyphen
	case ".":
		if t == between {
			return gapDot
		}
	}
	return gapOther
}

// sentenceStart reports whether a word after the text between it and the
// previous word starts a sentence: after a line break, or after . ! ? … : ;
// with only spaces, opening quotes, brackets and dashes in between.
func sentenceStart(between string) bool {
	t := strings.TrimRightFunc(between, func(r rune) bool {
		return r != '\n' && (unicode.IsSpace(r) || strings.ContainsRune("«\"“„‘'([{—–-•*·", r))
	})
	if t == "" {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(t)
	return strings.ContainsRune("\n.!?…:;", last)
}

func shapeOf(w string) (s shape, letters, digits int) {
	upper, lower := 0, 0
	firstUpper, first := false, true
	for _, r := range w {
		switch {
		case unicode.IsUpper(r):
			upper++
			letters++
			if first {
				firstUpper = true
			}
		case unicode.IsLetter(r):
			lower++
			letters++
		case unicode.IsDigit(r):
			digits++
		default:
			continue
		}
		first = false
	}
	switch {
	case !firstUpper:
		return shapeLower, letters, digits
	case lower == 0:
		return shapeUpper, letters, digits
	case upper == 1:
		return shapeTitle, letters, digits
	}
	return shapeMixed, letters, digits
}

type lineKind uint8

const (
	lineNormal  lineKind = iota
	lineTitle            // Title Case: most words capitalised
	lineAllCaps          // ALL CAPS
)

// lineKinds classifies each line by its words of four letters or more: in
// ALL CAPS when 70% of them are, in Title Case when 60% of those after the
// first are capitalised (and there are at least three) and most are in
// Latin letters — Russian headlines are not written in Title Case, so a
// Russian line with many names is just a line with many names.
func lineKinds(ws []word) []lineKind {
	type counts struct{ long, upper, rest, capRest, cyr int }
	c := make([]counts, ws[len(ws)-1].line+1)
	for i, w := range ws {
		if w.letters < 4 {
			continue
		}
		l := &c[w.line]
		l.long++
		if r, _ := utf8.DecodeRuneInString(w.norm); unicode.Is(unicode.Cyrillic, r) {
			l.cyr++
		}
		if w.shape == shapeUpper {
			l.upper++
		}
		if i > 0 && ws[i-1].line == w.line {
			l.rest++
			if w.shape != shapeLower {
				l.capRest++
			}
		}
	}
	kinds := make([]lineKind, len(c))
	for i, l := range c {
		switch {
		case l.long >= 2 && l.upper*10 >= l.long*7:
			kinds[i] = lineAllCaps
		case l.rest >= 3 && l.capRest*10 >= l.rest*6 && 2*l.cyr < l.long:
			kinds[i] = lineTitle
		}
	}
	return kinds
}
