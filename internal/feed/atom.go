package feed

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"strings"
)

// field is a feed field with the kind of text its feed declares.
type field struct {
	s    string
	kind textKind
}

// textFields are a feed's text fields with the kind its format declares for
// them, which gofeed does not pass on: a type="text" Atom title "History of
// the <blink> tag" (RFC 4287: plain text, "<" is a character) would read as
// HTML and lose a word. entries follow gofeed's items; a nil field is one
// to read from gofeed's item as HTML or text, whichever it looks like.
type textFields struct {
	title   *field
	entries []entryFields
}

type entryFields struct {
	title, summary, content *field
}

// atomNamespaces are the ones gofeed takes as Atom's own; other elements
// are extensions it skips, so they must not count here either.
var atomNamespaces = map[string]bool{
	"":                            true,
	"http://www.w3.org/2005/Atom": true,
	"http://purl.org/atom/ns#":    true,
}

// scanAtom reads the text constructs of the Atom feed in body: the feed's
// title and each entry's title, summary and content, entries in document
// order as gofeed lists them. It reads the way gofeed does (non-strict,
// element names in any case) so that both see the same entries; it returns
// nil if body is not an Atom feed it can read to the end.
func scanAtom(body []byte) *textFields {
	d := xml.NewDecoder(bytes.NewReader(dropControls(body)))
	d.Strict = false
	var (
		at      textFields
		depth   int
		inEntry bool
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if depth > 0 {
				return nil // gofeed read further than this, or not at all
			}
			return &at
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			name := strings.ToLower(t.Name.Local)
			native := atomNamespaces[strings.TrimSpace(t.Name.Space)]
			switch {
			case depth == 1:
				if name != "feed" {
					return nil
				}
			case depth == 2 && native && name == "entry":
				at.entries = append(at.entries, entryFields{})
				inEntry = true
			case depth == 2 && native && name == "title":
				at.title = readAtomText(d, t)
				depth--
			case depth == 3 && inEntry && native:
				e := &at.entries[len(at.entries)-1]
				switch name {
				case "title":
					e.title = readAtomText(d, t)
				case "summary":
					e.summary = readAtomText(d, t)
				case "content":
					e.content = readAtomText(d, t)
				default:
					continue
				}
				depth--
			}
		case xml.EndElement:
			if depth == 2 {
				inEntry = false
			}
			depth--
		}
	}
}

// readAtomText reads the Atom text construct that start opened, up to and
// including its end tag, and says what kind of text it holds: RFC 4287's
// type="text" (the default), "html" and "xhtml", and Atom 0.3's MIME types
// with mode="escaped", "xml" or "base64".
func readAtomText(d *xml.Decoder, start xml.StartElement) *field {
	var typ, mode string
	for _, a := range start.Attr {
		switch strings.ToLower(a.Name.Local) {
		case "type":
			typ = strings.ToLower(strings.TrimSpace(a.Value))
		case "mode":
			mode = strings.ToLower(strings.TrimSpace(a.Value))
		}
	}
	// text is the character data, inner the content re-serialised, for
	// when it holds elements.
	var text, inner bytes.Buffer
	elements := false
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements = true
			inner.WriteString("<" + t.Name.Local)
			for _, a := range t.Attr {
				inner.WriteString(" " + a.Name.Local + `="`)
				_ = xml.EscapeText(&inner, []byte(a.Value))
				inner.WriteString(`"`)
			}
			inner.WriteString(">")
		case xml.EndElement:
			if depth--; depth > 0 {
				inner.WriteString("</" + t.Name.Local + ">")
			}
		case xml.CharData:
			text.Write(t)
			escapeText(&inner, t)
		}
	}
	return atomField(typ, mode, elements, text.String(), inner.String())
}

func atomField(typ, mode string, elements bool, text, inner string) *field {
	textual := typ == "" || typ == "text" || strings.HasPrefix(typ, "text/")
	htmlType := typ == "html" || typ == "text/html" || strings.Contains(typ, "xhtml")
	switch {
	case mode == "base64" || binaryType(typ):
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return &field{text, guessHTML}
		}
		// Base64 is a way to carry markup; only an explicit text type says
		// what the bytes are.
		switch {
		case htmlType:
			return &field{string(b), markup}
		case typ == "text" || typ == "text/plain":
			return &field{string(b), plainText}
		}
		return &field{string(b), guessHTML}
	case elements || mode == "xml" || strings.Contains(typ, "xhtml"):
		// Elements inside the construct are markup whatever the type says:
		// Atom 0.3 feeds put inline HTML in untyped titles.
		return &field{inner, markup}
	case htmlType:
		return &field{text, markup}
	case typ == "" && mode == "escaped":
		// Atom 0.3 escapes markup, or text that needs no escaping.
		return &field{text, guessHTML}
	case textual:
		return &field{text, plainText}
	}
	return &field{text, guessHTML}
}

// binaryType reports the media types gofeed takes as base64-encoded.
func binaryType(t string) bool {
	if t == "" || strings.HasPrefix(t, "text/") || strings.Contains(t, "xml") {
		return false
	}
	for _, p := range []string{"image/", "audio/", "video/"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	switch t {
	case "application/octet-stream", "application/pdf", "application/zip",
		"application/gzip", "application/x-gzip", "application/ogg":
		return true
	}
	return false
}
