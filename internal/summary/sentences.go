package summary

import (
	"strings"
	"unicode"
)

// Abbreviations that never end a sentence, lower case, without the final dot.
var neverFinal = map[string]bool{
	// English
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "st": true,
	"vs": true, "e.g": true, "i.e": true, "gen": true,
	"sen": true, "rep": true, "gov": true, "lt": true, "col": true, "sgt": true,
	"capt": true, "jan": true, "feb": true, "aug": true, "sept": true, "oct": true,
	"nov": true, "dec": true, "approx": true, "fig": true,
	// Russian
	"т.е": true, "т.к": true, "т.н": true, "т.ч": true, "им": true, "ул": true,
	"стр": true, "см": true, "напр": true, "проф": true, "акад": true, "ген": true,
	"гр": true, "тов": true, "пр": true, "пл": true, "обл": true, "р-н": true,
	"г-н": true, "г-жа": true, "д-р": true, "зам": true, "рис": true, "табл": true,
}

// Initialisms that usually do end a sentence when a capital follows; other
// dotted initialisms ("U.S.", "н.э." in mid-sentence) are kept inside it.
var finalInitialism = map[string]bool{
	"т.д": true, "т.п": true,
}

// splitSentences cuts text into sentences. A line break always ends one, so
// headlines and list items without a full stop stay separate.
func splitSentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		out = append(out, splitLine(line)...)
	}
	return out
}

func splitLine(line string) []string {
	r := []rune(line)
	var out []string
	start := 0
	for i := 0; i < len(r); i++ {
		if !isTerminator(r[i]) {
			continue
		}
		// The terminator run ("?!", "...") and any closing quotes after it.
		j := i
		for j+1 < len(r) && isTerminator(r[j+1]) {
			j++
		}
		k := j
		for k+1 < len(r) && isCloser(r[k+1]) {
			k++
		}
		if k+1 < len(r) && !unicode.IsSpace(r[k+1]) {
			i = k // "3.5", "т.е", "example.com": not a boundary
			continue
		}
		next := k + 1
		for next < len(r) && unicode.IsSpace(r[next]) {
			next++
		}
		if next < len(r) && !boundary(r, i, j, next, k > j) {
			i = k
			continue
		}
		if s := strings.TrimSpace(string(r[start : k+1])); s != "" {
			out = append(out, s)
		}
		start = k + 1
		i = k
	}
	if s := strings.TrimSpace(string(r[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// boundary decides whether the terminators r[i..j] end a sentence, given that
// r[next] is the first rune of what follows; quoted says a closing quote or
// bracket sits between them.
func boundary(r []rune, i, j, next int, quoted bool) bool {
	n := r[next]
	if unicode.IsLower(n) {
		return false // "г. в", "т.е. это" continue
	}
	if quoted && isDash(n) {
		return false // «Почему?» — спросил он.
	}
	if !(unicode.IsUpper(n) || unicode.IsDigit(n) || isOpener(n)) {
		return false
	}
	if j > i || r[i] != '.' {
		return true // "!", "?", "...", "?!"
	}
	tok := tokenBefore(r, i)
	low := strings.ToLower(tok)
	switch {
	case tok == "":
		return true
	case neverFinal[low]:
		return false
	case low == "г" || low == "гг":
		// "в 2024 г. Банк..." ends a sentence; "г. Москва" does not.
		return numberBefore(r, i-len([]rune(tok)))
	case len([]rune(tok)) == 1 && unicode.IsLetter([]rune(tok)[0]):
		return false // an initial: "В. Путин", "J. Smith"
	case strings.Contains(tok, "."):
		return finalInitialism[low]
	}
	return true
}

// tokenBefore returns the word ending right before r[i], with inner dots
// ("U.S", "т.е") and hyphens ("г-н").
func tokenBefore(r []rune, i int) string {
	k := i
	for k > 0 && (unicode.IsLetter(r[k-1]) || r[k-1] == '.' || r[k-1] == '-') {
		k--
	}
	return strings.Trim(string(r[k:i]), ".-")
}

// numberBefore reports whether the word before position i is a number.
func numberBefore(r []rune, i int) bool {
	k := i
	for k > 0 && unicode.IsSpace(r[k-1]) {
		k--
	}
	return k > 0 && unicode.IsDigit(r[k-1])
}

func isTerminator(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '…' }

func isCloser(r rune) bool {
	switch r {
	case '»', '"', '”', '’', '\'', ')', ']':
		return true
	}
	return false
}

func isDash(r rune) bool { return r == '—' || r == '–' || r == '-' }

func isOpener(r rune) bool {
	switch r {
	case '«', '"', '“', '„', '\'', '(', '[', '—', '–', '-':
		return true
	}
	return false
}

// endsSentence reports whether s ends like a finished sentence, which
// headlines, bylines and buttons ("Share", "Related news") do not.
func endsSentence(s string) bool {
	s = strings.TrimRightFunc(s, func(r rune) bool { return isCloser(r) || unicode.IsSpace(r) })
	if s == "" {
		return false
	}
	r := []rune(s)
	return isTerminator(r[len(r)-1])
}
