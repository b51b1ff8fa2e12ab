package analysis

import "unicode"

// minLangLetters is how many letters a text needs before its language is
// guessed at all.
const minLangLetters = 4

// scriptCounts counts letters by script: a cheap language guess that is
// good enough to tell dozor's Russian feeds from its English ones.
type scriptCounts struct {
	russian  int // а–я, ё
	cyrOther int // Cyrillic letters Russian does not use: і ї є ґ ў ј …
	latin    int // any Latin-script letter
	other    int // letters of every other script
}

func (c *scriptCounts) add(r rune) {
	switch {
	case r < 0x80:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			c.latin++
		}
	case 'а' <= r && r <= 'я', 'А' <= r && r <= 'Я', r == 'ё', r == 'Ё':
		c.russian++
	case unicode.Is(unicode.Cyrillic, r):
		c.cyrOther++
	case unicode.Is(unicode.Latin, r):
		c.latin++
	default:
		if unicode.IsLetter(r) {
			c.other++
		}
	}
}

// lang is "ru" when Cyrillic letters are more than half of all letters and
// outnumber Latin ones, "en" likewise for Latin, and "" otherwise. Cyrillic
// text in which more than 1% of the letters are ones Russian lacks (і, ї, є,
// ґ, ў …) is Ukrainian, Belarusian or Serbian, so it gets "" too.
func (c scriptCounts) lang() string {
	cyr := c.russian + c.cyrOther
	total := cyr + c.latin + c.other
	if total < minLangLetters {
		return ""
	}
	switch {
	case cyr > c.latin && 2*cyr > total:
		if 100*c.cyrOther > cyr {
			return ""
		}
		return "ru"
	case c.latin > cyr && 2*c.latin > total:
		return "en"
	}
	return ""
}

// DetectLang guesses the language of s by counting letters per script:
// "ru" for Cyrillic (Russian alphabet), "en" for Latin, "" when the text has
// fewer than 4 letters, no script has a majority, or the text is written in
// another script or another Cyrillic alphabet.
func DetectLang(s string) string {
	var c scriptCounts
	for _, r := range s {
		c.add(r)
	}
	return c.lang()
}
