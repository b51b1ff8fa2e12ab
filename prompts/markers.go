package prompts

import (
	"strings"
	"unicode"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// neutralise replaces everything a model could read as an <article> or
// </article> marker with "[article]" / "[/article]", so article text cannot
// close the block it sits in. Look-alikes count: fullwidth ＜／ａｒｔｉｃｌｅ＞,
// small and angle brackets (﹤ 〈 ⟨ ‹), Cyrillic and Greek letters that look
// Latin (<аrtісlе>), any case and spacing, attributes. Each character is
// compared by its NFKC form's Unicode confusable skeleton (UTS #39).
func neutralise(s string) string {
	rs := []rune(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(rs); i++ {
		if !opens(rs[i]) {
			continue
		}
		end, closing, ok := marker(rs, i)
		if !ok {
			continue
		}
		b.WriteString(string(rs[last:i]))
		if closing {
			b.WriteString("[/article]")
		} else {
			b.WriteString("[article]")
		}
		last, i = end, end-1
	}
	if last == 0 {
		return s
	}
	b.WriteString(string(rs[last:]))
	return b.String()
}

// marker matches `< / article attrs >` at rs[i] (the closing '>' may be
// missing) and returns where it ends.
func marker(rs []rune, i int) (end int, closing, ok bool) {
	j := skipSpace(rs, i+1)
	if j < len(rs) && fold(rs[j]) == "/" {
		closing = true
		j = skipSpace(rs, j+1)
	}
	for _, want := range "article" {
		if j >= len(rs) || fold(rs[j]) != string(want) {
			return 0, false, false
		}
		j++
	}
	if j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
		return 0, false, false // <articles>, <article2>: another word
	}
	// Attributes up to the closing bracket, within the line.
	for k := j; k < len(rs) && k < j+200 && rs[k] != '\n'; k++ {
		if closes(rs[k]) {
			return k + 1, closing, true
		}
		if opens(rs[k]) {
			break
		}
	}
	return j, closing, true
}

func skipSpace(rs []rune, j int) int {
	for j < len(rs) && unicode.IsSpace(rs[j]) {
		j++
	}
	return j
}

// fold is what a character reads as: its NFKC form (fullwidth to ASCII),
// lower-cased, reduced to its confusable skeleton (Cyrillic а to a).
func fold(r rune) string {
	if r < unicode.MaxASCII {
		return string(unicode.ToLower(r))
	}
	return confusables.Skeleton(strings.ToLower(norm.NFKC.String(string(r))))
}

// opens reports '<' and what reads as it; letters never do, which keeps
// the check cheap on Cyrillic text.
func opens(r rune) bool {
	if r == '<' {
		return true
	}
	if r < unicode.MaxASCII || unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	f := fold(r)
	return f == "<" || f == "❬" || f == "‹"
}

// closes reports '>' and what reads as it.
func closes(r rune) bool {
	if r == '>' {
		return true
	}
	if r < unicode.MaxASCII || unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	f := fold(r)
	return f == ">" || f == "❭" || f == "›"
}
