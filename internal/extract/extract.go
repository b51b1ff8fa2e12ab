// Package extract finds the main text of an article page, so that a summary is
// asked about the story and not about menus, cookie banners, "related news",
// share buttons, ads or comments.
//
// It wraps go-trafilatura, a port of Python's trafilatura, which scores best
// among open-source extractors on the published article-extraction benchmarks
// (ScrapingHub's and trafilatura's own); go-readability, the usual Go
// alternative, is deprecated upstream.
//
// The caller decodes the page to UTF-8 first (fetch.DecodeHTML): trafilatura's
// own decoding guesses the charset statistically, which is slower than, and
// can disagree with, what the HTTP header and <meta> declare.
package extract

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
	"golang.org/x/text/unicode/norm"
)

// Limits that keep one hostile or broken page from costing more than a
// typical one: news pages are well under 1 MB of HTML, and a summary prompt
// has no use for more than a long read's worth of text.
const (
	MaxHTMLBytes = 5 << 20
	MaxTextRunes = 50_000
)

var (
	// ErrTooLarge is returned for pages over MaxHTMLBytes, before any parsing.
	ErrTooLarge = errors.New("extract: html too large")
	// ErrNoText means the page has no recognisable article text (a video page,
	// a paywall, an error page); the caller falls back to the feed's text.
	ErrNoText = errors.New("extract: no main text found")
)

// Result is what a page yields besides its text; the extra fields cost
// nothing more once the page is parsed, and help when the feed lacks them.
type Result struct {
	Title string
	// Text is plain text, one paragraph per block, paragraphs separated by a
	// blank line, NFC-normalised.
	Text string
	// Lang is the ISO 639-1 code guessed from the text ("ru", "en"), or "".
	Lang string
	// Published is the page's publication date from its metadata (meta tags,
	// JSON-LD, URL, <time>), usually without the time of day; zero when not
	// found.
	Published time.Time
	// Truncated reports that Text was cut at MaxTextRunes.
	Truncated bool
}

// options are chosen for speed without losing quality on news pages (see
// BenchmarkText): the readability/domdistiller fallback adds about half
// again to the cost and gave the same text on every test page, since
// trafilatura has its own rescue for thin results; the fast date search
// skips the multilingual date parser, which only matters for pages with no
// machine-readable date.
func options(pageURL string) trafilatura.Options {
	opts := trafilatura.Options{
		ExcludeComments: true,
		EnableFallback:  false,
		Focus:           trafilatura.Balanced,
		HtmlDateMode:    trafilatura.Fast,
		// Template content is inert in a browser, but trafilatura keeps
		// its text.
		PruneSelector: "template",
	}
	if u, err := url.Parse(pageURL); err == nil && u.IsAbs() {
		opts.OriginalURL = u
	}
	return opts
}

// Text extracts the main text of page, an already decoded UTF-8 HTML
// document. pageURL, if valid, helps resolve the page's metadata; it may be "".
// A page without article text gives ErrNoText.
func Text(page string, pageURL string) (Result, error) {
	return run(page, pageURL, trafilatura.ExtractDocument)
}

// extractor is trafilatura.ExtractDocument, a parameter so that tests can
// make it misbehave.
type extractor func(*html.Node, trafilatura.Options) (*trafilatura.ExtractResult, error)

func run(page, pageURL string, extract extractor) (res Result, err error) {
	if len(page) > MaxHTMLBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(page), MaxHTMLBytes)
	}
	// Trafilatura and its dependencies walk arbitrary trees with many
	// indexing shortcuts; a page must never take the watcher down with it.
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, fmt.Errorf("extract: extractor panicked: %v", r)
		}
	}()

	// html.Parse rather than trafilatura.Extract: the input is UTF-8
	// already, and the parser refuses nesting deeper than 512 elements,
	// which is what keeps recursive tree walks bounded.
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return Result{}, fmt.Errorf("extract: parse html: %w", err)
	}
	separateBlocks(doc)
	out, err := extract(doc, options(pageURL))
	if err != nil {
		return Result{}, fmt.Errorf("%w (%v)", ErrNoText, err)
	}

	title := cleanLine(out.Metadata.Title)
	unflatten(out.ContentNode, doc)
	text, truncated := capRunes(renderText(out.ContentNode), MaxTextRunes)
	// On an empty page trafilatura's last resort is all the document's
	// text, which may be nothing but the <title>.
	if text == "" || text == title {
		return Result{}, ErrNoText
	}
	return Result{
		Title:     title,
		Text:      text,
		Lang:      out.Metadata.Language,
		Published: out.Metadata.Date,
		Truncated: truncated,
	}, nil
}

// Best picks the text to summarise: the extracted one, unless extraction
// failed or found less than the feed itself carried (a teaser, a video
// page, a paywall), measured in runes after collapsing whitespace. feedText
// is expected to be plain text, with any HTML already stripped.
func Best(extracted, feedText string) string {
	if normLen(extracted) < normLen(feedText) {
		return strings.TrimSpace(feedText)
	}
	return strings.TrimSpace(extracted)
}

// normLen is the length in runes of s with whitespace runs counted as one
// space and the ends trimmed, so that layout does not decide Best.
func normLen(s string) int {
	n, space := 0, false
	for _, f := range strings.Fields(s) {
		if space {
			n++
		}
		n += utf8.RuneCountInString(f)
		space = true
	}
	return n
}

// capRunes cuts s to at most limit runes, at the last paragraph break or
// space before the limit when there is one in the last tenth.
func capRunes(s string, limit int) (string, bool) {
	if utf8.RuneCountInString(s) <= limit {
		return s, false
	}
	cut, n := 0, 0
	for i := range s {
		if n == limit {
			cut = i
			break
		}
		n++
	}
	head := s[:cut]
	for _, sep := range []string{"\n\n", " "} {
		if i := strings.LastIndex(head, sep); i >= len(head)*9/10 {
			head = head[:i]
			break
		}
	}
	return strings.TrimSpace(head), true
}

// cleanLine collapses whitespace, including newlines, into single spaces.
func cleanLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\u00ad", "")), " ")
}

// blockTags start a new paragraph. Trafilatura's output uses few tags (p,
// h1–h6, ul/ol/li, dl/dt/dd, blockquote, pre, table rows, br), but its
// baseline rescue can return other HTML, so the set is generous.
var blockTags = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true,
	"body": true, "caption": true, "dd": true, "details": true, "dialog": true,
	"div": true, "dl": true, "dt": true, "fieldset": true, "figcaption": true,
	"figure": true, "footer": true, "form": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "header": true,
	"hgroup": true, "hr": true, "legend": true, "li": true, "main": true,
	"menu": true, "nav": true, "ol": true, "p": true, "pre": true,
	"section": true, "summary": true, "table": true, "tbody": true,
	"tfoot": true, "thead": true, "tr": true, "ul": true,
}

// renderText turns the extracted tree into plain text: block elements become
// paragraphs separated by blank lines, <br> a line break, table cells in a
// row are joined with " | ". Script-like elements are skipped in case a
// rescue path let one through.
func renderText(root *html.Node) string {
	if root == nil {
		return ""
	}
	var (
		paras []string
		cur   strings.Builder
	)
	flush := func() {
		if p := cleanParagraph(cur.String()); p != "" {
			paras = append(paras, p)
		}
		cur.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			// Newlines in source are layout; only <br> breaks a line.
			cur.WriteString(newlines.Replace(n.Data))
			return
		case html.DocumentNode:
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
			return
		case html.ElementNode:
		default:
			return
		}
		switch n.Data {
		case "script", "style", "noscript", "template", "iframe", "svg", "head", "title":
			return
		case "br":
			cur.WriteByte('\n')
			return
		case "td", "th":
			if prevCell(n) {
				cur.WriteString(" | ")
			} else {
				cur.WriteByte(' ')
			}
		}
		block := blockTags[n.Data]
		if block {
			flush()
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			flush()
		}
	}
	walk(root)
	flush()
	paras = slices.DeleteFunc(paras, isPromo)
	return norm.NFC.String(strings.Join(paras, "\n\n"))
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// prevCell reports whether a table cell follows another cell in its row.
func prevCell(n *html.Node) bool {
	for s := n.PrevSibling; s != nil; s = s.PrevSibling {
		if s.Type == html.ElementNode && (s.Data == "td" || s.Data == "th") {
			return true
		}
	}
	return false
}

// cleanParagraph collapses whitespace within each line of a paragraph and
// drops empty lines and soft hyphens.
func cleanParagraph(s string) string {
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = cleanLine(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// Promotions that outlets write as ordinary paragraphs of the article body
// ("subscribe to our channel", a lone "Subscribe" button), which no
// structural rule can tell from text. Only short paragraphs are checked, so
// a real paragraph that happens to begin the same way survives.
var (
	promoPrefixes = []string{
		"подпишитесь", "подписывайтесь", "читайте также", "читайте нас",
		"смотрите также", "subscribe to", "sign up for", "read more:",
		"follow us on",
	}
	promoLines = map[string]bool{
		"подписаться": true, "поделиться": true, "реклама": true,
		"subscribe": true, "share": true, "advertisement": true,
		"read more": true,
	}
)

const maxPromoRunes = 300

// isPromo reports whether paragraph p is one of those promotions.
func isPromo(p string) bool {
	if utf8.RuneCountInString(p) > maxPromoRunes {
		return false
	}
	l := strings.ToLower(strings.TrimRight(p, " .:!…»"))
	if promoLines[l] {
		return true
	}
	for _, pre := range promoPrefixes {
		if strings.HasPrefix(l, pre) {
			return true
		}
	}
	return false
}
