package embed

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultInputBudget is how many runes of an article Input keeps: the
// title and the lead, where a news story says what happened. It is well
// inside every model's context (e5 models read 512 tokens, about 1,500
// runes of Russian), and it keeps the input of a translation and of its
// original about the same length.
const DefaultInputBudget = 1000

// Input is what is embedded of an article: its title and lead, cut on a
// word boundary at budget runes (DefaultInputBudget when budget <= 0).
//
// Spaces and tabs are collapsed and blank lines dropped, but line breaks
// are kept, one per line: Entities.Of reads a line start as a sentence
// start. A text that begins by repeating the title (many feeds do) has the
// repetition dropped. Invalid UTF-8 is removed. Pass the result to both
// Client.Embed and Entities.Of, so both signals see the same words.
func Input(title, text string, budget int) string {
	if budget <= 0 {
		budget = DefaultInputBudget
	}
	title = tidy(title)
	text = tidy(text)
	if title != "" {
		if rest, ok := cutPrefixFold(text, title); ok {
			text = strings.TrimLeft(rest, " \n.:-–—")
		}
	}
	var s string
	switch {
	case title == "":
		s = text
	case text == "":
		s = title
	default:
		s = title + "\n" + text
	}
	return cutWords(s, budget)
}

// tidy removes invalid UTF-8, collapses white space within lines and drops
// empty lines.
func tidy(s string) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	b.Grow(len(s))
	for line := range strings.Lines(s) {
		n := 0
		for w := range strings.FieldsFuncSeq(line, isSpace) {
			if n == 0 && b.Len() > 0 {
				b.WriteByte('\n')
			} else if n > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(w)
			n++
		}
	}
	return b.String()
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' }

// cutPrefixFold is strings.CutPrefix ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	i := 0
	for _, pr := range prefix {
		if i >= len(s) {
			return s, false
		}
		sr, size := utf8.DecodeRuneInString(s[i:])
		if unicode.ToLower(sr) != unicode.ToLower(pr) {
			return s, false
		}
		i += size
	}
	return s[i:], true
}

// cutWords cuts s to at most n runes, at a word boundary when the cut
// would split a word that has white space before it.
func cutWords(s string, n int) string {
	count, lastSpace := 0, -1
	for i, r := range s {
		if count == n {
			if r == ' ' || r == '\n' || lastSpace < 0 {
				return strings.TrimRight(s[:i], " \n")
			}
			return strings.TrimRight(s[:lastSpace], " \n")
		}
		if r == ' ' || r == '\n' {
			lastSpace = i
		}
		count++
	}
	return s
}
