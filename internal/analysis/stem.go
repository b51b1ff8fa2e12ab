package analysis

import (
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/russian"
)

// maxKeptLen is the longest word that is never stemmed. Short words are
// mostly abbreviations (ИИ, ВТБ, AI, ЦБ) and the stemmers mangle them: the
// Russian one turns "ии" (AI) into "и", the conjunction "and".
const maxKeptLen = 3

// Stem returns the stem of a word: the Russian Snowball stemmer for words of
// Russian letters, the English one for words of ASCII letters (apostrophes
// allowed), and the word itself when it has 3 runes or fewer, contains a
// digit, or mixes scripts. The word is normalized first.
func Stem(word string) string {
	var st stemmer
	return st.stem(Normalize(word))
}

// stemmer keeps one Snowball environment for many words, so analysing an
// article does not allocate one per word.
type stemmer struct {
	env *snowballstem.Env
}

// stem stems a normalized word.
func (st *stemmer) stem(w string) string {
	n, script := 0, scriptNone
	for i := 0; i < len(w); {
		c := w[i]
		var s int
		switch {
		case 'a' <= c && c <= 'z' || c == '\'':
			s = scriptASCII
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(w[i:])
			if 'а' <= r && r <= 'я' {
				s = scriptRussian
			} else {
				return w
			}
			i += size
		default:
			return w // a digit or anything else: keep as it is
		}
		if script != scriptNone && script != s {
			return w
		}
		script = s
		n++
	}
	if n <= maxKeptLen {
		return w
	}
	if st.env == nil {
		st.env = snowballstem.NewEnv(w)
	} else {
		st.env.SetCurrent(w)
	}
	if script == scriptRussian {
		if s, ok := russianOverrides[w]; ok {
			return s
		}
		russian.Stem(st.env)
	} else {
		english.Stem(st.env)
	}
	out := st.env.Current()
	if out == "" {
		return w
	}
	return out
}

const (
	scriptNone = iota
	scriptASCII
	scriptRussian
)

// russianOverrides fixes the genitive of nouns in -ай: the Snowball stemmer
// reads «Китая» as a feminine adjective and strips "ая", giving "кит"
// where «Китай», «Китае», «Китаю» give "кита". The genitive is mapped to
// the stem of the other cases. It is a lookup table, never written after
// start-up.
var russianOverrides = func() map[string]string {
	nouns := []string{
		// places
		"китай", "шанхай", "дубай", "алтай", "парагвай", "уругвай", "синай",
		// names and common nouns
		"николай", "случай", "обычай", "урожай", "трамвай", "сарай",
		"попугай", "самурай", "негодяй", "лентяй",
	}
	m := make(map[string]string, len(nouns))
	for _, n := range nouns {
		r := []rune(n)
		env := snowballstem.NewEnv(n)
		russian.Stem(env)
		gen := string(r[:len(r)-1]) + "я"
		m[gen] = env.Current()
	}
	return m
}()
