package analysis

import (
	"unicode"
	"unicode/utf8"
)

// Normalize folds s the way every word is compared: lower case, ё→е, a
// decomposed й composed, Russian stress marks and soft hyphens dropped,
// typographic apostrophes made ASCII. Other characters are kept, so Normalize can be applied to a whole text.
func Normalize(s string) string {
	if isASCIILower(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r == '’' || r == 'ʼ' {
			r = '\''
		}
		b = appendNorm(b, r)
	}
	return string(b)
}

func isASCIILower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// appendNorm appends the normalized form of r to b, looking back at b for
// combining marks that belong to the previous letter.
func appendNorm(b []byte, r rune) []byte {
	switch r {
	case softHyphen:
		return b
	case combBreve: // и + ◌̆ = й
		if hasSuffixRune(b, 'и') {
			return append(b[:len(b)-2], "й"...)
		}
	case combDiaeresis: // е + ◌̈ = ё, which folds to е
		if hasSuffixRune(b, 'е') {
			return b
		}
	case combAcute, combGrave: // stress marks in Russian text
		if last, _ := utf8.DecodeLastRune(b); isCyrillic(last) {
			return b
		}
	}
	return utf8.AppendRune(b, lower(r))
}

const (
	softHyphen    = '\u00ad'
	combGrave     = '\u0300'
	combAcute     = '\u0301'
	combBreve     = '\u0306'
	combDiaeresis = '\u0308'
)

func hasSuffixRune(b []byte, r rune) bool {
	last, size := utf8.DecodeLastRune(b)
	return size == 2 && last == r
}

func isCyrillic(r rune) bool {
	return r >= 0x400 && r <= 0x52f
}

// lower folds case and ё to е; Cyrillic and ASCII take a fast path.
func lower(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	case 'А' <= r && r <= 'Я':
		return r + 'а' - 'А'
	case 'а' <= r && r <= 'я':
		return r
	case r == 'ё' || r == 'Ё':
		return 'е'
	}
	return unicode.ToLower(r)
}

// Tokens returns the normalized words of s in order. Letters and digits form
// words; everything else separates them, so «ИИ-центра» gives "ии", "центра".
// An apostrophe between two letters stays inside the word ("sberbank's",
// "o'neil") as a plain ASCII apostrophe. HTML entities such as &nbsp; are
// separators, not words.
func Tokens(s string) []string {
	var out []string
	var sc scanner
	sc.scan(s, func(w []byte) { out = append(out, string(w)) })
	return out
}

// scanner splits text into normalized words and counts letters by script
// on the way, so an article is read once for both tokens and language.
type scanner struct {
	buf    []byte
	counts scriptCounts
}

// scan calls emit with every word of s; the slice is reused after emit
// returns.
func (sc *scanner) scan(s string, emit func(word []byte)) {
	buf := sc.buf[:0]
	lastLetter := false // the last rune appended to buf is a letter
	flush := func() {
		if len(buf) > 0 {
			emit(buf)
			buf = buf[:0]
		}
		lastLetter = false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z':
				buf = append(buf, c)
				sc.counts.latin++
				lastLetter = true
				i++
				continue
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
				sc.counts.latin++
				lastLetter = true
				i++
				continue
			case '0' <= c && c <= '9':
				buf = append(buf, c)
				lastLetter = false
				i++
				continue
			case c == '\'':
				if lastLetter && letterAt(s, i+1) {
					buf = append(buf, '\'')
					lastLetter = false
				} else {
					flush()
				}
				i++
				continue
			case c == '&':
				n, kind := entityAt(s, i)
				if n == 0 {
					flush()
					i++
					continue
				}
				switch kind {
				case entityApostrophe:
					if lastLetter && letterAt(s, i+n) {
						buf = append(buf, '\'')
						lastLetter = false
					} else {
						flush()
					}
				case entitySoftHyphen:
				default:
					flush()
				}
				i += n
				continue
			default:
				flush()
				i++
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case 'а' <= r && r <= 'я':
			buf = utf8.AppendRune(buf, r)
			sc.counts.russian++
			lastLetter = true
		case 'А' <= r && r <= 'Я':
			buf = utf8.AppendRune(buf, r+'а'-'А')
			sc.counts.russian++
			lastLetter = true
		case r == 'ё' || r == 'Ё':
			buf = append(buf, "е"...)
			sc.counts.russian++
			lastLetter = true
		case r == '’' || r == 'ʼ':
			if lastLetter && letterAt(s, i) {
				buf = append(buf, '\'')
				lastLetter = false
			} else {
				flush()
			}
		case r == softHyphen || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff':
			// invisible inside a word: neither a letter nor a break
		case unicode.IsLetter(r):
			sc.counts.add(r)
			buf = appendNorm(buf, r)
			lastLetter = true
		case unicode.IsDigit(r):
			buf = utf8.AppendRune(buf, r)
			lastLetter = false
		case unicode.IsMark(r):
			if len(buf) > 0 {
				buf = appendNorm(buf, r)
			}
		default:
			flush()
		}
	}
	flush()
	sc.buf = buf
}

// letterAt reports whether s has a letter at byte offset i.
func letterAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	if c := s[i]; c < utf8.RuneSelf {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

const (
	entityOther = iota
	entityApostrophe
	entitySoftHyphen
)

// entityAt returns the length of the HTML character reference at s[i] (which
// is '&'), or 0 if there is none, and what it stands for as far as word
// splitting cares.
func entityAt(s string, i int) (n, kind int) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		hex := j < len(s) && (s[j] == 'x' || s[j] == 'X')
		if hex {
			j++
		}
		start, v := j, 0
		for j < len(s) && j-start < 7 {
			d := digitVal(s[j], hex)
			if d < 0 {
				break
			}
			v = v*base(hex) + d
			j++
		}
		if j == start || j >= len(s) || s[j] != ';' {
			return 0, 0
		}
		switch v {
		case '\'', '’', 'ʼ':
			return j + 1 - i, entityApostrophe
		case softHyphen:
			return j + 1 - i, entitySoftHyphen
		}
		return j + 1 - i, entityOther
	}
	start := j
	for j < len(s) && j-start < 32 && isASCIIAlnum(s[j]) {
		j++
	}
	if j-start < 2 || j >= len(s) || s[j] != ';' {
		return 0, 0
	}
	switch s[start:j] {
	case "apos", "rsquo":
		return j + 1 - i, entityApostrophe
	case "shy":
		return j + 1 - i, entitySoftHyphen
	}
	return j + 1 - i, entityOther
}

func base(hex bool) int {
	if hex {
		return 16
	}
	return 10
}

func digitVal(c byte, hex bool) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case hex && 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case hex && 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
