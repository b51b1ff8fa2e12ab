package embed

import (
	"strings"
	"unicode/utf8"
)

// nameStem is the form a name is compared in: Russian names lose one case
// ending («Сбербанка», «Сбербанком» → "сбербанк"; «Путину» → "путин";
// «Шанхае» → "шанха"; «России», «Россией» → "росс"), English ones their
// possessive ("Sberbank's" → "sberbank"). The Snowball stemmers that
// internal/analysis uses for topic words are not used here: they treat
// names unevenly («Газпром» → "газпр" but «Газпрома» → "газпром", «Киев» →
// "ки" but «Киева» → "киев»), which would split one entity into two. w is
// normalised (analysis.Normalize); at least three runes are kept.
func nameStem(w string) string {
	if w == "" {
		return w
	}
	if c := w[0]; c < utf8.RuneSelf {
		if s, ok := strings.CutSuffix(w, "'s"); ok && s != "" {
			return s
		}
		if s, ok := strings.CutSuffix(w, "'"); ok && s != "" {
			return s
		}
		return w
	}
	n := utf8.RuneCountInString(w)
	for _, e := range caseEndings {
		if strings.HasSuffix(w, e.s) && n-e.n >= 3 {
			return w[:len(w)-len(e.s)]
		}
	}
	return w
}

type ending struct {
	s string
	n int // runes
}

// caseEndings are Russian noun and adjective case endings, longest first.
// -ов and -ев are left out: they end surnames (Лавров, Песков) more often
// than plural nouns in names.
var caseEndings = func() []ending {
	list := []string{
		"ого", "его", "ому", "ему", "ыми", "ими", "ией", "иям", "иях", "ами", "ями",
		"ой", "ей", "ий", "ый", "ая", "яя", "ое", "ее", "ые", "ие", "ых", "их", "ым", "им",
		"ую", "юю", "ом", "ем", "ам", "ям", "ах", "ях", "ию", "ия", "ии", "ью",
		"а", "я", "у", "ю", "е", "ы", "и", "ь", "й", "о",
	}
	out := make([]ending, len(list))
	for i, s := range list {
		out[i] = ending{s, utf8.RuneCountInString(s)}
	}
	return out
}()

// translit spells a Cyrillic name in Latin letters the way English news
// does (Сбербанк → sberbank, Путин → putin, Хуавэй → khuavey); Latin
// letters and digits pass through, anything else is dropped.
func translit(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		case 'а' <= r && r <= 'я' || r == 'ё':
			b.WriteString(cyrLatin[r])
		case r >= utf8.RuneSelf:
			// Other scripts and accented Latin letters: fold the common
			// ones, drop the rest.
			if l, ok := latinFold[r]; ok {
				b.WriteString(l)
			}
		}
	}
	return b.String()
}

var cyrLatin = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh",
	'з': "z", 'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o",
	'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu",
	'я': "ya",
}

var latinFold = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "a", 'ã': "a", 'å': "a", 'ç': "c", 'é': "e",
	'è': "e", 'ê': "e", 'ë': "e", 'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ñ': "n",
	'ó': "o", 'ò': "o", 'ô': "o", 'ö': "o", 'õ': "o", 'ú': "u", 'ù': "u", 'û': "u",
	'ü': "u", 'ý': "y", 'ş': "s", 'ğ': "g", 'ı': "i", 'ł': "l", 'ø': "o", 'ß': "ss",
}

// skeleton is the key of a name no list knows: its name stem transliterated
// and then blurred where Russian and English spellings of one name differ,
// so «Грефа» and "Gref", «Набиуллиной» and "Nabiullina", «Зеленского» and
// "Zelensky", «Яндекса» and "Yandex" meet: kh→h, x→ks, w→v, ph→f, ck→k,
// q→k, y→i, doubled letters single, trailing vowels dropped (while three
// letters remain).
func skeleton(stem string) string {
	s := translit(stem)
	s = skeletonReplacer.Replace(s)
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if i == 0 || s[i] != s[i-1] {
			out = append(out, s[i])
		}
	}
	for len(out) > 3 && isVowel(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return string(out)
}

var skeletonReplacer = strings.NewReplacer("kh", "h", "x", "ks", "w", "v", "ph", "f", "ck", "k", "q", "k", "y", "i")

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u':
		return true
	}
	return false
}
