package fetch

import (
	"bytes"
	"errors"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// Russian sites label their charset every wrong way there is: only in the
// header, nowhere, a prolog naming the wrong one, UTF-8 labelled
// windows-1251. So labels are only suggestions: the bytes decide.

var (
	xmlProlog      = regexp.MustCompile(`^<\?xml[^>]*\?>`)
	prologEncoding = regexp.MustCompile(`(?i)(\sencoding\s*=\s*)(?:"[^"]*"|'[^']*')`)
	// metaCharset finds the label in <meta charset=x> and in
	// <meta http-equiv="Content-Type" content="text/html; charset=x">.
	metaCharset = regexp.MustCompile(`(?i)<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.+-]+)`)
)

const (
	sniffLen    = 64 << 10 // bytes scored when choosing a charset
	prescanLen  = 4 << 10  // where a <meta charset> must be to count
	minRussian  = 0.15     // score above which a Cyrillic reading is believed
	fallbackEnc = "windows-1252"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DecodeFeed returns an XML or JSON feed as UTF-8 with characters XML forbids
// removed, and the name of the encoding it decided the bytes were in. The
// prolog's encoding is rewritten to UTF-8 so the feed parser (which honours
// it) does not decode a second time. The result may share memory with body.
func DecodeFeed(body []byte, contentType string) ([]byte, string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "", errors.New("empty feed body")
	}
	var declared []string
	if label := headerCharset(contentType); label != "" {
		declared = append(declared, label)
	}
	if m := xmlProlog.Find(bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")); m != nil {
		if sub := prologEncoding.FindSubmatch(m); sub != nil {
			declared = append(declared, strings.Trim(string(sub[0][len(sub[1]):]), `"'`))
		}
	}
	out, name := decode(body, declared)
	out = bytes.TrimLeft(out, " \t\r\n") // text before the prolog is an XML error
	if loc := xmlProlog.FindIndex(out); loc != nil {
		prolog := prologEncoding.ReplaceAll(out[:loc[1]], []byte(`${1}"UTF-8"`))
		out = append(prolog, out[loc[1]:]...)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, name, errors.New("feed body has no text after decoding from " + name)
	}
	return out, name, nil
}

// DecodeHTML returns an HTML page as UTF-8 and the encoding it decided the
// bytes were in (header charset and <meta> are weighed against the bytes).
// <meta> charset declarations are rewritten to utf-8 so an HTML parser that
// prescans them does not decode again.
func DecodeHTML(body []byte, contentType string) (string, string) {
	var declared []string
	if label := headerCharset(contentType); label != "" {
		declared = append(declared, label)
	}
	for _, m := range metaCharset.FindAllSubmatch(body[:min(len(body), prescanLen)], -1) {
		declared = append(declared, string(m[1]))
	}
	out, name := decode(body, declared)
	// Only a declaration a parser's prescan would see needs rewriting;
	// scanning the whole page would cost more than decoding it.
	locs := metaCharset.FindAllSubmatchIndex(out[:min(len(out), prescanLen)], -1)
	if len(locs) == 0 {
		return string(out), name
	}
	var sb strings.Builder
	sb.Grow(len(out))
	last := 0
	for _, loc := range locs {
		sb.Write(out[last:loc[2]])
		sb.WriteString("utf-8")
		last = loc[3]
	}
	sb.Write(out[last:])
	return sb.String(), name
}

func headerCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Sites send "text/xml; charset=windows-1251;" and worse: fall back
		// to finding the parameter by hand.
		i := strings.Index(strings.ToLower(contentType), "charset=")
		if i < 0 {
			return ""
		}
		v := contentType[i+len("charset="):]
		if j := strings.IndexAny(v, "; "); j >= 0 {
			v = v[:j]
		}
		return strings.Trim(v, `"'`)
	}
	return params["charset"]
}

type candidate struct {
	name string
	enc  encoding.Encoding // nil for utf-8: its bytes are used as they are
}

// decode returns body as sanitized UTF-8 and the name of the encoding used.
func decode(body []byte, declared []string) ([]byte, string) {
	if out, name, ok := decodeUTF16(body); ok {
		return sanitize(out), name
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if utf8.Valid(body) {
		// Valid UTF-8 with non-ASCII bytes is UTF-8 whatever the label
		// says (no real windows-1251 or koi8-r text is valid UTF-8), and
		// plain ASCII reads the same in every charset we accept.
		return sanitize(body), "utf-8"
	}

	cands, nDeclared := candidates(declared)
	sample := body[:min(len(body), sniffLen)]
	best, bestScore := -1, minRussian
	for i, c := range cands {
		if s := score(c.enc, sample); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		// Not Russian in any reading: trust the first label, or the web's
		// default for unlabelled bytes.
		best = 0
		if nDeclared == 0 {
			enc, _ := htmlindex.Get(fallbackEnc)
			cands[0] = candidate{name: fallbackEnc, enc: enc}
		}
	}
	c := cands[best]
	if c.enc == nil {
		return sanitize(body), c.name
	}
	out, err := c.enc.NewDecoder().Bytes(body)
	if err != nil {
		// Single-byte decoders cannot fail; keep the bytes rather than
		// nothing if one ever does.
		return sanitize(body), "utf-8"
	}
	return sanitize(out), c.name
}

// candidates lists the declared charsets that can be decoded here (first
// declared first, so it wins ties), then utf-8, windows-1251 and koi8-r. It
// also says how many of them were declared.
func candidates(declared []string) ([]candidate, int) {
	var out []candidate
	add := func(label string) {
		name := canonical(label)
		if name == "" || strings.HasPrefix(name, "utf-16") {
			return // unknown, or UTF-16 without the bytes to show it
		}
		for _, c := range out {
			if c.name == name {
				return
			}
		}
		c := candidate{name: name}
		if name != "utf-8" {
			c.enc, _ = htmlindex.Get(name)
		}
		out = append(out, c)
	}
	for _, l := range declared {
		add(l)
	}
	n := len(out)
	for _, l := range []string{"utf-8", "windows-1251", "koi8-r"} {
		add(l)
	}
	return out, n
}

// canonical maps a label to its WHATWG name ("cp1251" → "windows-1251"), or
// "" for labels nothing can decode.
func canonical(label string) string {
	enc, err := htmlindex.Get(strings.TrimSpace(label))
	if err != nil || enc == encoding.Replacement {
		return ""
	}
	name, err := htmlindex.Name(enc)
	if err != nil {
		return ""
	}
	return name
}

// decodeUTF16 recognises UTF-16 by its BOM or by "<" and "?" next to NULs.
func decodeUTF16(body []byte) ([]byte, string, bool) {
	var endian unicode.Endianness
	var name string
	switch {
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}), bytes.HasPrefix(body, []byte{'<', 0, '?', 0}):
		endian, name = unicode.LittleEndian, "utf-16le"
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}), bytes.HasPrefix(body, []byte{0, '<', 0, '?'}):
		endian, name = unicode.BigEndian, "utf-16be"
	default:
		return nil, "", false
	}
	out, err := unicode.UTF16(endian, unicode.ExpectBOM).NewDecoder().Bytes(body)
	if err != nil {
		out, err = unicode.UTF16(endian, unicode.IgnoreBOM).NewDecoder().Bytes(body)
	}
	if err != nil {
		return nil, "", false
	}
	return out, name, true
}

// score rates how much sample, read in enc (nil: UTF-8), looks like Russian.
// Single-byte charsets are read through their byte table, which is several
// times faster than decoding the sample to UTF-8 and scanning that.
func score(enc encoding.Encoding, sample []byte) float64 {
	s := russianScorer{prev: -1}
	switch cm := enc.(type) {
	case nil:
		for i := 0; i < len(sample); {
			r, size := utf8.DecodeRune(sample[i:])
			i += size
			s.add(r)
		}
	case *charmap.Charmap:
		var table [256]rune
		for b := range table {
			table[b] = cm.DecodeByte(byte(b))
		}
		for _, b := range sample {
			s.add(table[b])
		}
	default:
		text, err := enc.NewDecoder().Bytes(sample)
		if err != nil {
			return 0
		}
		for _, r := range string(text) {
			s.add(r)
		}
	}
	return s.score()
}

// russianScorer rates how much a text reads like Russian, from 0 to about 1.
// Mis-decoded Cyrillic scrambles the alphabet and swaps letter case
// (windows-1251 has lower case at 0xE0-0xFF, koi8-r upper case), so the score
// counts, per non-ASCII character, pairs of adjacent Cyrillic letters that are
// common Russian bigrams, plus a quarter for pairs in lower case. Bigrams
// dominate so an all-caps headline, whose wrong reading is all lower case,
// still decodes right. Latin text read as Cyrillic has almost no such pairs.
type russianScorer struct {
	nonASCII, lowerPairs, commonPairs int

	prev      int // index of the previous rune if it was a Cyrillic letter, else -1
	prevLower bool
}

func (s *russianScorer) add(r rune) {
	if r < utf8.RuneSelf {
		s.prev = -1
		return
	}
	s.nonASCII++
	idx, lower := cyrillicIndex(r)
	if idx >= 0 && s.prev >= 0 {
		if lower && s.prevLower {
			s.lowerPairs++
		}
		if commonBigrams[s.prev*32+idx] {
			s.commonPairs++
		}
	}
	s.prev, s.prevLower = idx, lower
}

func (s *russianScorer) score() float64 {
	if s.nonASCII == 0 {
		return 0
	}
	return (float64(s.commonPairs) + 0.25*float64(s.lowerPairs)) / float64(s.nonASCII)
}

// cyrillicIndex maps а-я/А-Я to 0-31 (ё to е), or -1 for other runes.
func cyrillicIndex(r rune) (int, bool) {
	switch {
	case r >= 'а' && r <= 'я':
		return int(r - 'а'), true
	case r >= 'А' && r <= 'Я':
		return int(r - 'А'), false
	case r == 'ё':
		return int('е' - 'а'), true
	case r == 'Ё':
		return int('е' - 'а'), false
	}
	return -1, false
}

// commonBigrams marks the most frequent letter pairs of Russian text.
var commonBigrams = func() (t [32 * 32]bool) {
	const list = "ст но то на ен ов ни ра во ко пр ро ре по ал ос ли ер ет не " +
		"ка ло го ол ан ат ва ел ор от ть ес ит ом ин ль ле ри ий ой " +
		"ак ти ны да тв ил ск ем ев ие ия ла од ве ме ся де ед им ма " +
		"ам ей об ог за ки ых ая ую ее ви ди ци ус ег ры ац ча нн ук " +
		"аз"
	for _, bg := range strings.Fields(list) {
		rs := []rune(bg)
		a, _ := cyrillicIndex(rs[0])
		b, _ := cyrillicIndex(rs[1])
		t[a*32+b] = true
	}
	return t
}()

// sanitize drops invalid UTF-8, NUL and the other characters XML 1.0 forbids
// (C0 controls except tab, LF and CR; U+FFFE, U+FFFF). It copies only when
// something has to go.
func sanitize(b []byte) []byte {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if !xmlChar(r, size) {
			return sanitizeFrom(b, i)
		}
		i += size
	}
	return b
}

func sanitizeFrom(b []byte, start int) []byte {
	out := make([]byte, start, len(b))
	copy(out, b[:start])
	for i := start; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if xmlChar(r, size) {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

func xmlChar(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return true
}
