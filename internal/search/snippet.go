package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"dozor/internal/analysis"
	"dozor/internal/query"
)

// Snippet returns the passage of text (plain text, not HTML) that best
// matches q, at most max runes, cut on word boundaries with "…" where cut,
// every piece escaped with escape (nil: none) and the words that match q's
// positive words and phrases wrapped in <b></b>. Built from the plain
// text: bleve's HTML highlighter output is never used.
//
// Runs of white space become one space. A word matches when its stem
// (analysis.Stem, as the index has it) is one of q.Terms(), so «Китае» is
// bold for Китай and "banks" for bank; excluded words are never bold. The
// passage is the window of max runes (counting the "…"s, not the tags or
// what escape adds) with the most different matching stems, then the most
// matching words, earliest on a tie; it starts a little before its first
// match, or at the start of the text if that is close. With no match it is
// the start of the text. A word longer than the whole window is cut inside,
// on a character boundary.
func Snippet(text string, q *query.Query, max int, escape func(string) string) string {
	if escape == nil {
		escape = func(s string) string { return s }
	}
	if max <= 0 {
		return ""
	}
	s := squeeze(text)
	if s == "" {
		return ""
	}
	terms := map[string]int{}
	for i, t := range q.Terms() {
		terms[t] = i
	}
	ws := words(s, terms)
	total := utf8.RuneCountInString(s)

	// Pick the start.
	start := 0 // index into ws of the first word; -1: the very start of s
	startRune := 0
	if total > max {
		lead := max / 5
		bestScore, bestStart, bestRune := score(ws, 0, 0, max, total), 0, 0
		tried := 0
		for j := range ws {
			if ws[j].term < 0 {
				continue
			}
			if tried++; tried > 2000 {
				break
			}
			k := j
			for k > 0 && ws[j].r0-ws[k-1].r0 <= lead {
				k--
			}
			r := ws[k].r0
			if k == 0 && ws[0].r0 <= lead {
				r = 0
			}
			if sc := score(ws, k, r, max, total); sc > bestScore {
				bestScore, bestStart, bestRune = sc, k, r
			}
		}
		start, startRune = bestStart, bestRune
	}

	var b strings.Builder
	budget := max
	startByte := 0
	if startRune > 0 {
		b.WriteString(escape("…"))
		budget--
		startByte = ws[start].b0
	}
	endByte := len(s)
	if total-startRune > budget {
		budget-- // the closing "…"
		endByte = cut(s, ws, start, startRune, startByte, budget)
	}
	if endByte <= startByte {
		return ""
	}
	at := startByte
	for _, w := range ws[start:] {
		if w.b1 > endByte {
			break
		}
		if w.term < 0 {
			continue
		}
		b.WriteString(escape(s[at:w.b0]))
		b.WriteString("<b>" + escape(s[w.b0:w.b1]) + "</b>")
		at = w.b1
	}
	b.WriteString(escape(s[at:endByte]))
	if endByte < len(s) {
		b.WriteString(escape("…"))
	}
	return b.String()
}

// word is a word of the text: bytes b0:b1, runes from r0 to r1, and the
// index of its stem in the query's terms, -1 if it is not one.
type word struct {
	b0, b1, r0, r1 int
	term           int
}

// words splits s into words the way analysis does (letters and digits;
// an apostrophe between letters and invisible joiners stay inside) and
// marks those whose stem is among terms.
func words(s string, terms map[string]int) []word {
	var out []word
	stems := map[string]int{}
	in := false
	var cur word
	r := 0
	prevLetter := false
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		inner := false
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			inner = true
		case in && unicode.IsMark(c):
			inner = true
		case in && (c == '\u00ad' || c == '\u200c' || c == '\u200d' || c == '\u2060' || c == '\ufeff'):
			inner = true
		case in && prevLetter && (c == '\'' || c == '’' || c == 'ʼ'):
			if n, _ := utf8.DecodeRuneInString(s[i+size:]); i+size < len(s) && unicode.IsLetter(n) {
				inner = true
			}
		}
		if inner {
			if !in {
				in, cur = true, word{b0: i, r0: r}
			}
			prevLetter = unicode.IsLetter(c)
		} else if in {
			cur.b1, cur.r1 = i, r
			out = append(out, cur)
			in = false
		}
		i += size
		r++
	}
	if in {
		cur.b1, cur.r1 = len(s), r
		out = append(out, cur)
	}
	for k := range out {
		w := s[out[k].b0:out[k].b1]
		t, ok := stems[w]
		if !ok {
			t = -1
			for _, tok := range analysis.Tokens(w) {
				if i, ok := terms[analysis.Stem(tok)]; ok {
					t = i
					break
				}
			}
			stems[w] = t
		}
		out[k].term = t
	}
	return out
}

// score rates the window of max runes from rune r (word k): different
// matching stems first, then matching words.
func score(ws []word, k, r, max, total int) int {
	budget := max
	if r > 0 {
		budget--
	}
	if total-r > budget {
		budget--
	}
	seen := map[int]bool{}
	n := 0
	for _, w := range ws[k:] {
		if w.r1-r > budget {
			break
		}
		if w.term >= 0 {
			seen[w.term] = true
			n++
		}
	}
	return len(seen)*10000 + n
}

// cut returns where a passage starting at word start (rune startRune, byte
// startByte) ends to hold at most budget runes: after the last whole word
// that fits, and the punctuation right after it if that fits too; inside
// the first word if not even that fits and nothing precedes it.
func cut(s string, ws []word, start, startRune, startByte, budget int) int {
	end, endRune := -1, 0
	for _, w := range ws[start:] {
		if w.r1-startRune > budget {
			break
		}
		end, endRune = w.b1, w.r1
	}
	if end < 0 && start < len(ws) && ws[start].b0 > startByte {
		// Not one whole word fits, but what precedes the first does.
		if e := strings.TrimRight(s[:ws[start].b0], " "); len(e) > startByte && ws[start].r0-startRune <= budget {
			return len(e)
		}
	}
	if end < 0 {
		// Not one whole word fits: cut it on a character boundary.
		end = startByte
		for n := 0; n < budget && end < len(s); n++ {
			_, size := utf8.DecodeRuneInString(s[end:])
			end += size
		}
		return end
	}
	for end < len(s) && endRune-startRune < budget {
		c, size := utf8.DecodeRuneInString(s[end:])
		if c == ' ' || unicode.IsLetter(c) || unicode.IsDigit(c) {
			break
		}
		end += size
		endRune++
	}
	return end
}

// squeeze turns every run of white space into one space and trims the
// ends; invalid UTF-8 becomes U+FFFD, so cuts never split a character.
func squeeze(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, c := range s {
		if unicode.IsSpace(c) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(c)
	}
	return b.String()
}
