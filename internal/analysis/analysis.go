// Package analysis turns an article into what topic matching needs: its
// language, its site and the stems of its words with their positions.
//
// An article is analysed once; every topic is then checked against the
// result with map lookups only. Words are normalized (lower case, ё→е),
// split at anything that is not a letter or digit (so «ИИ-центра» is the
// two words "ии" and "центра" at consecutive positions), and stemmed with
// the Snowball stemmers, Russian or English by the word's script, so that
// «Китай», «Китае» and «Китая» share one stem. Words of three letters or
// fewer are kept as they are: they are mostly abbreviations (ИИ, ВТБ, AI).
package analysis

// Doc is an analysed article. It is read-only once built, so many
// goroutines may match topics against it at once.
type Doc struct {
	Lang string // "ru", "en" or "" (see DetectLang)
	Site string // host in SiteOf form: lower case, no "www."

	stems    []string         // stem of every word: title, then text
	titleLen int              // stems[:titleLen] are the title's
	first    map[string]int32 // stem → position of its first occurrence
	next     []int32          // position → next position of the same stem, or -1
}

// Analyze analyses an article. site is its host or URL. The title and the
// text are one word stream, but a phrase never matches across the two.
func Analyze(title, text, site string) *Doc {
	d := &Doc{Site: SiteOf(site)}
	est := (len(title)+len(text))/8 + 1
	d.stems = make([]string, 0, est)
	var st stemmer
	var sc scanner
	emit := func(w []byte) {
		sh := stemMemo.shard(w)
		s, ok := stemMemo.get(sh, w)
		if !ok {
			word := string(w)
			s = st.stem(word)
			stemMemo.put(sh, word, s)
		}
		d.stems = append(d.stems, s)
	}
	sc.scan(title, emit)
	d.titleLen = len(d.stems)
	sc.scan(text, emit)
	d.Lang = sc.counts.lang()

	d.first = make(map[string]int32, len(d.stems)/2+1)
	d.next = make([]int32, len(d.stems))
	for i := len(d.stems) - 1; i >= 0; i-- {
		s := d.stems[i]
		if p, ok := d.first[s]; ok {
			d.next[i] = p
		} else {
			d.next[i] = -1
		}
		d.first[s] = int32(i)
	}
	return d
}

// Has reports whether the article contains a word with this stem.
func (d *Doc) Has(stem string) bool {
	_, ok := d.first[stem]
	return ok
}

// HasPhrase reports whether the stems occur at consecutive positions, all in
// the title or all in the text. An empty phrase is never found.
func (d *Doc) HasPhrase(stems []string) bool {
	if len(stems) == 0 {
		return false
	}
	p, ok := d.first[stems[0]]
	if !ok {
		return false
	}
	last := len(stems) - 1
	for ; p >= 0; p = d.next[p] {
		start := int(p)
		end := start + last
		if end >= len(d.stems) {
			return false // later occurrences are even closer to the end
		}
		if start < d.titleLen && end >= d.titleLen {
			continue
		}
		found := true
		for i := 1; i <= last; i++ {
			if d.stems[start+i] != stems[i] {
				found = false
				break
			}
		}
		if found {
			return true
		}
	}
	return false
}

// Stems returns the stem of every word in order, title first, for
// near-duplicate shingles. The caller owns the returned slice.
func (d *Doc) Stems() []string {
	out := make([]string, len(d.stems))
	copy(out, d.stems)
	return out
}

// TitleStems and TextStems are the stems of the title and of the text, in
// order: a phrase never runs from one into the other. The caller owns them.
func (d *Doc) TitleStems() []string { return append([]string(nil), d.stems[:d.titleLen]...) }

// TextStems: see TitleStems.
func (d *Doc) TextStems() []string { return append([]string(nil), d.stems[d.titleLen:]...) }

// Distinct is the number of different stems.
func (d *Doc) Distinct() int { return len(d.first) }

// EachStem calls fn once for each different stem.
func (d *Doc) EachStem(fn func(stem string)) {
	for s := range d.first {
		fn(s)
	}
}

// Len returns the number of words in the title and text.
func (d *Doc) Len() int { return len(d.stems) }
