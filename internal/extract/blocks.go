package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// separated reports the elements whose text a browser never runs into the
// text around them: blocks, table cells and line breaks.
func separated(n *html.Node) bool {
	switch n.Data {
	case "br", "td", "th":
		return true
	}
	return blockTags[n.Data]
}

// separateBlocks puts a line break between each separated element and the
// text or element next to it, unless whitespace is there already. Minified
// pages ("<h1>…</h1><time>…</time><p>…</p>") have none, and trafilatura's
// rescue joins an element's text nodes as they are, which glued a heading, a
// date and a paragraph into one word. Inline neighbours stay as they are:
// "<b>a</b><i>b</i>" is one word in a browser too.
func separateBlocks(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		separateBlocks(c)
		if !separated(c) {
			continue
		}
		// With no neighbour, the break goes inside an inline parent, which
		// may have neighbours of its own; a block parent separates itself.
		if p := c.PrevSibling; p != nil && !endsSpace(p) || p == nil && !blockTags[n.Data] {
			n.InsertBefore(&html.Node{Type: html.TextNode, Data: "\n"}, c)
		}
		if s := c.NextSibling; s != nil && !startsSpace(s) || s == nil && !blockTags[n.Data] {
			n.InsertBefore(&html.Node{Type: html.TextNode, Data: "\n"}, s)
			c = c.NextSibling // the break just inserted
		}
	}
}

func startsSpace(n *html.Node) bool {
	if n.Type != html.TextNode {
		return n.Type == html.CommentNode && n.NextSibling != nil && startsSpace(n.NextSibling)
	}
	r, _ := utf8.DecodeRuneInString(n.Data)
	return unicode.IsSpace(r)
}

func endsSpace(n *html.Node) bool {
	if n.Type != html.TextNode {
		return n.Type == html.CommentNode && n.PrevSibling != nil && endsSpace(n.PrevSibling)
	}
	r, _ := utf8.DecodeLastRuneInString(n.Data)
	return unicode.IsSpace(r)
}

// unflatten undoes the flattening of trafilatura's rescue. When the main
// extraction finds too little, trafilatura falls back to the text of the
// page's first <article>, else of its <body>, as one paragraph with all
// whitespace collapsed, so that a heading, a date and the paragraphs read as
// one run of text. A paragraph of the result that is exactly such an
// element's text (spaces aside) is replaced by the element itself, minus what
// the rescue leaves out, so its blocks are paragraphs again; the rescue's
// other paragraphs, which that element then repeats, go.
func unflatten(content, doc *html.Node) {
	if content == nil || doc == nil {
		return
	}
	var flat []*html.Node
	for c := content.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		if c.Data != "p" || c.FirstChild == nil || c.FirstChild != c.LastChild || c.FirstChild.Type != html.TextNode {
			return // structure the main extraction kept (its nodes have no DataAtom)
		}
		flat = append(flat, c)
	}
	type candidate struct {
		n   *html.Node
		key string
	}
	var cands []candidate
	for _, a := range []atom.Atom{atom.Article, atom.Body} {
		if n := firstRescued(doc, a); n != nil {
			var b strings.Builder
			rescuedText(&b, n)
			cands = append(cands, candidate{n, squeeze(b.String())})
		}
	}
	for _, p := range flat {
		key := squeeze(p.FirstChild.Data)
		for _, c := range cands {
			if key == "" || key != c.key {
				continue
			}
			content.InsertBefore(cloneRescued(c.n), p)
			content.RemoveChild(p)
			for _, q := range flat {
				if q != p && strings.Contains(key, squeeze(q.FirstChild.Data)) {
					content.RemoveChild(q)
				}
			}
			return
		}
	}
}

// leftOut reports the elements trafilatura's rescue removes before taking
// the text: scripts, styles, asides and footers.
func leftOut(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Aside, atom.Footer, atom.Script, atom.Style, atom.Template:
		return true
	case atom.Div:
		for _, a := range n.Attr {
			if (a.Key == "id" || a.Key == "class") && strings.Contains(a.Val, "footer") {
				return true
			}
		}
	}
	return false
}

// firstRescued finds the first a element in document order outside the
// elements the rescue leaves out.
func firstRescued(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode || leftOut(c) {
			continue
		}
		if c.DataAtom == a {
			return c
		}
		if f := firstRescued(c, a); f != nil {
			return f
		}
	}
	return nil
}

func rescuedText(b *strings.Builder, n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.TextNode:
			b.WriteString(c.Data)
		case c.Type == html.ElementNode && !leftOut(c):
			rescuedText(b, c)
		}
	}
}

// cloneRescued copies n's subtree without what the rescue leaves out.
func cloneRescued(n *html.Node) *html.Node {
	m := &html.Node{Type: n.Type, DataAtom: n.DataAtom, Data: n.Data, Namespace: n.Namespace, Attr: n.Attr}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && leftOut(c) || c.Type != html.ElementNode && c.Type != html.TextNode {
			continue
		}
		m.AppendChild(cloneRescued(c))
	}
	return m
}

// squeeze drops all whitespace, so that texts joined with and without
// separators compare equal.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
