package feed

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// textKind says how a feed field is to be read.
type textKind uint8

const (
	// guessHTML: HTML if it has anything like a tag, else plain text. RSS
	// says nothing about what its fields hold, and feeds do both.
	guessHTML textKind = iota
	// plainText: text whatever it contains, as Atom type="text" and JSON
	// Feed titles are; "<blink>" in it is a word, not a tag.
	plainText
	// markup: HTML, as Atom type="html" and "xhtml" are.
	markup
)

// toText turns a feed field into plain text of at most limit bytes. Fields
// are HTML by convention (RSS descriptions, Atom html content), but plain
// text is common too (JSON Feed content_text, most titles), so a field
// without anything like a tag is taken as text: its entities are still decoded
// (feeds escape twice) and its line breaks kept. HTML has script and style
// dropped, block elements turned into line breaks and whitespace collapsed.
// oneLine joins everything into one line, for titles.
func toText(s string, limit int, oneLine bool) string {
	return kindToText(s, guessHTML, limit, oneLine)
}

// kindToText is toText for a field whose kind the feed declares.
func kindToText(s string, kind textKind, limit int, oneLine bool) string {
	if s == "" {
		return ""
	}
	w := textWriter{limit: limit, oneLine: oneLine}
	w.b.Grow(min(len(s), limit))
	if kind == plainText || kind == guessHTML && !looksHTML(s) {
		w.write([]byte(html.UnescapeString(s)), true)
		return w.String()
	}
	// An element left open is read as a stray tag, as a browser does with
	// most of them (an unclosed <object>'s content is its fallback, which
	// shows), rather than let it swallow the rest. Each pass that meets
	// one resumes after it; passes are bounded so that a field of nothing
	// but open tags costs a few parses, not one per tag.
	for range maxStrayPasses {
		resume := w.html(s)
		if resume < 0 || w.full {
			break
		}
		s = s[resume:]
	}
	return w.String()
}

// maxStrayPasses bounds how many never-closed elements a field may have
// before the rest of it is left as the last pass read it.
const maxStrayPasses = 8

// html writes the text of the HTML in s. If s ends inside a skipped element
// that was never closed, it returns the offset just after that element's
// start tag, where reading should resume; else -1. Script-like elements,
// whose content is code, still swallow the rest of a body, as in a browser,
// but not of a title: a title of nothing is worse than one with a stray word.
func (w *textWriter) html(s string) int {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside elements whose text is not content
	pos := 0  // offset of the end of the current token in s
	open, openAtom := -1, atom.Atom(0)
	for !w.full {
		tt := z.Next()
		pos += len(z.Raw())
		switch tt {
		case xhtml.ErrorToken:
			// io.EOF: the tokenizer reports nothing else.
			if skip > 0 && (w.oneLine || !rawText[openAtom]) {
				return open
			}
			return -1
		case xhtml.TextToken:
			if skip == 0 {
				w.write(z.Text(), false)
			}
		case xhtml.StartTagToken:
			a := tagAtom(z)
			switch {
			case skipped[a]:
				if skip == 0 {
					open, openAtom = pos, a
				}
				skip++
			case skip == 0 && block[a]:
				w.lineBreak()
			}
		case xhtml.EndTagToken:
			a := tagAtom(z)
			switch {
			case skipped[a]:
				if skip > 0 {
					skip--
				}
			case skip == 0 && block[a]:
				w.lineBreak()
			}
		case xhtml.SelfClosingTagToken:
			if a := tagAtom(z); skip == 0 && block[a] && !skipped[a] {
				w.lineBreak()
			}
		}
	}
	return -1
}

// looksHTML reports a tag, end tag, comment or declaration: a '<' followed
// by a letter, '/', '!' or '?'. "a < b" stays plain text.
func looksHTML(s string) bool {
	for i := strings.IndexByte(s, '<'); i >= 0 && i+1 < len(s); {
		if c := s[i+1]; c == '/' || c == '!' || c == '?' || 'a' <= c|0x20 && c|0x20 <= 'z' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func tagAtom(z *xhtml.Tokenizer) atom.Atom {
	name, _ := z.TagName()
	return atom.Lookup(name)
}

// skipped elements hold code, styling or markup, not readable text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Head: true, atom.Svg: true, atom.Math: true, atom.Iframe: true,
	atom.Object: true, atom.Select: true, atom.Button: true,
}

// rawText are the skipped elements whose content the tokenizer returns as
// text up to their end tag: code, not markup.
var rawText = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Iframe: true,
}

// block elements end a line of text.
var block = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Br: true, atom.Dd: true, atom.Details: true, atom.Div: true, atom.Dl: true,
	atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true, atom.Figure: true,
	atom.Footer: true, atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true, atom.Hr: true,
	atom.Li: true, atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true,
	atom.Pre: true, atom.Section: true, atom.Summary: true, atom.Table: true,
	atom.Td: true, atom.Th: true, atom.Tr: true, atom.Ul: true, atom.Caption: true,
}

// textWriter collapses whitespace as it writes: no leading, trailing or
// repeated spaces, no empty lines. It stops at limit bytes.
type textWriter struct {
	b       strings.Builder
	limit   int
	oneLine bool
	space   bool // a space is owed before the next visible character
	brk     bool // a line break is owed before the next visible character
	full    bool
}

func (w *textWriter) lineBreak() {
	if w.oneLine {
		w.space = true
		return
	}
	w.brk = true
}

// write appends s; keepLines makes its newlines line breaks (plain text)
// rather than spaces (HTML source formatting). Runs of visible characters
// are copied whole: this is the hot loop of Parse.
func (w *textWriter) write(s []byte, keepLines bool) {
	for i := 0; i < len(s) && !w.full; {
		r, size := decodeRune(s[i:])
		switch {
		case keepLines && (r == '\n' || r == '\u2028' || r == '\u2029'):
			w.lineBreak()
		case isSpace(r):
			w.space = true
		case invisible(r):
		case r == utf8.RuneError && size == 1:
			w.put([]byte("\uFFFD"))
		default:
			j := i + size
			for j < len(s) {
				r, size := decodeRune(s[j:])
				if isSpace(r) || invisible(r) || r == utf8.RuneError && size == 1 {
					break
				}
				j += size
			}
			w.put(s[i:j])
			i = j
			continue
		}
		i += size
	}
}

// cutPoint is the largest length <= n that does not split a character.
func cutPoint(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

func decodeRune(s []byte) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRune(s)
}

// put writes a run of visible text after the separator it is owed,
// cutting it at the limit without splitting a character.
func (w *textWriter) put(run []byte) {
	sep := ""
	if w.b.Len() > 0 {
		switch {
		case w.brk:
			sep = "\n"
		case w.space:
			sep = " "
		}
	}
	w.space, w.brk = false, false
	room := w.limit - w.b.Len() - len(sep)
	if len(run) > room {
		w.full = true
		if run = run[:cutPoint(run, max(room, 0))]; len(run) == 0 {
			return
		}
	}
	w.b.WriteString(sep)
	w.b.Write(run)
}

// String returns the text without the spare capacity Grow left, which
// would otherwise live as long as the item.
func (w *textWriter) String() string {
	if w.b.Cap()-w.b.Len() > 256 {
		return strings.Clone(w.b.String())
	}
	return w.b.String()
}

// invisible characters are dropped: controls, and format characters such
// as soft hyphens and zero-width spaces that split words for a tokenizer.
func invisible(r rune) bool {
	switch r {
	case '\u00ad', '\u200b', '\u2060', '\ufeff':
		return true
	}
	// Bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE and friends) would let a
	// title display as something other than what it says.
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
