package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// maxResumes bounds how many syntax errors repair steps over before it
// treats the body as ending there: each costs a new decoder, and a body
// that is mostly errors has little to recover.
const maxResumes = 1000

// feedRoots are the root elements gofeed recognises, lower-cased.
var feedRoots = map[string]bool{"rss": true, "rdf": true, "feed": true}

// repair rewrites a malformed XML feed as a well-formed document holding
// what a lenient reader can make of it, the way feedparser's loose mode and
// browsers read broken feeds. It returns the first problem it met, nil if
// it met none.
//
//   - Entities are read the HTML way (&nbsp;, &mdash;), unknown ones and
//     bare ampersands kept as text.
//   - An end tag closes the elements opened after its own start tag (in any
//     letter case); an end tag nothing opened is dropped.
//   - A "<" that starts no tag ("price < 100") is text; after any other
//     error reading resumes where the decoder stopped.
//   - Anything before the feed's root element (a PHP warning printed ahead
//     of the feed) and after it is dropped.
//   - At the end of the body every open element is closed, except that an
//     item or entry still open is dropped whole: it was cut off, and a cut
//     title or link is worse than none.
func repair(body []byte) ([]byte, error) {
	type open struct {
		name string // as written, with its prefix
		at   int    // offset of its start tag in out
		item bool
	}
	var (
		out     bytes.Buffer
		stack   []open
		problem error
		root    bool // the root element has been seen
	)
	body = dropControls(body)
	out.Grow(len(body))
	note := func(err error) {
		if problem == nil {
			problem = err
		}
	}

	pos := 0 // where the current decoder started in body
	done := false
	for resumes := 0; !done; resumes++ {
		d := xml.NewDecoder(bytes.NewReader(body[pos:]))
		d.Strict = false
		d.Entity = xml.HTMLEntity
		for {
			before := pos + int(d.InputOffset())
			tok, err := d.RawToken()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				note(err)
				after := pos + int(d.InputOffset())
				if after >= len(body) || resumes == maxResumes {
					done = true // cut off in the middle of a token
					break
				}
				if body[before] == '<' {
					// A tag that is none: its "<" is text, what follows
					// is read again.
					if len(stack) > 0 {
						out.WriteString("&lt;")
					}
					pos = before + 1
				} else {
					// An error inside text loses that text, but never
					// makes reading go back over it.
					pos = max(after, before+1)
				}
				break
			}
			switch t := tok.(type) {
			case xml.StartElement:
				if len(stack) == 0 {
					if root {
						done = true // a second root: junk after the feed
						break
					}
					if !feedRoots[strings.ToLower(t.Name.Local)] {
						note(errors.New("content before the feed's root element"))
						continue
					}
					root = true
				}
				name := qname(t.Name)
				local := strings.ToLower(t.Name.Local)
				stack = append(stack, open{name: name, at: out.Len(), item: local == "item" || local == "entry"})
				out.WriteString("<" + name)
				for _, a := range t.Attr {
					out.WriteString(" " + qname(a.Name) + `="`)
					_ = xml.EscapeText(&out, []byte(a.Value))
					out.WriteByte('"')
				}
				out.WriteByte('>')
			case xml.EndElement:
				name := qname(t.Name)
				i := len(stack) - 1
				for i >= 0 && !strings.EqualFold(stack[i].name, name) {
					i--
				}
				if i < 0 {
					note(errors.New("end tag </" + name + "> without a start tag"))
					continue
				}
				if i != len(stack)-1 {
					note(errors.New("<" + stack[len(stack)-1].name + "> closed by </" + name + ">"))
				}
				for j := len(stack) - 1; j >= i; j-- {
					out.WriteString("</" + stack[j].name + ">")
				}
				stack = stack[:i]
				if len(stack) == 0 {
					done = true // the feed is complete: ignore what follows
				}
			case xml.CharData:
				if len(stack) > 0 {
					escapeText(&out, t)
				} else if len(bytes.TrimSpace(t)) > 0 && !root {
					note(errors.New("content before the feed's root element"))
				}
			}
			// Comments, processing instructions and the DOCTYPE are no
			// content: the document is UTF-8 and declares no entities.
			if done {
				break
			}
		}
	}
	if !root {
		if problem == nil {
			problem = errors.New("no feed root element")
		}
		return nil, problem
	}
	for i, o := range stack {
		if o.item {
			out.Truncate(o.at)
			stack = stack[:i]
			break
		}
	}
	if len(stack) > 0 {
		note(errors.New("unexpected end of the body"))
	}
	for j := len(stack) - 1; j >= 0; j-- {
		out.WriteString("</" + stack[j].name + ">")
	}
	return out.Bytes(), problem
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// escapeText writes character data escaped for XML. Unlike xml.EscapeText
// it leaves line breaks and tabs alone, which gofeed hands on as they are,
// and a numeric character reference the XML decoder left as text ("&#X41;",
// valid HTML but not XML): readers of HTML decode it, as they would have had
// it been escaped once more.
func escapeText(w *bytes.Buffer, s []byte) {
	last := 0
	for i, c := range s {
		var esc string
		switch c {
		case '&':
			if charRef(s[i:]) {
				continue
			}
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		w.Write(s[last:i])
		w.WriteString(esc)
		last = i + 1
	}
	w.Write(s[last:])
}

// charRef reports whether s starts with a numeric character reference.
func charRef(s []byte) bool {
	if len(s) < 4 || s[1] != '#' {
		return false
	}
	i, hex := 2, s[2] == 'x' || s[2] == 'X'
	if hex {
		i++
	}
	start := i
	for i < len(s) && (isDigit(s[i]) || hex && isHexLetter(s[i])) {
		i++
	}
	return i > start && i < len(s) && s[i] == ';'
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isHexLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'f' }

// dropControls removes the C0 control characters XML forbids, as gofeed
// does before parsing: feeds carry stray ones, and encoding/xml stops at
// each. It copies only when there is one.
func dropControls(b []byte) []byte {
	i := bytes.IndexFunc(b, isControl)
	if i < 0 {
		return b
	}
	out := make([]byte, i, len(b))
	copy(out, b[:i])
	for _, c := range b[i:] {
		if !isControl(rune(c)) {
			out = append(out, c)
		}
	}
	return out
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }
