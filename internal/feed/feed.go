// Package feed turns the body of an RSS, Atom or JSON feed into plain items:
// absolute links, plain-text titles and bodies, one publication time. It is
// a pure function over bytes: fetching happens elsewhere, and Decode adds
// the charset decoding (internal/fetch) that Parse expects done.
package feed

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	jsonfeed "github.com/mmcdole/gofeed/json"

	"dozor/internal/fetch"
)

// Limits that keep a hostile or broken feed from costing unbounded memory
// downstream: every item is stored, analysed and maybe summarised.
const (
	MaxItems     = 1000      // items kept per feed, in feed order
	MaxTextBytes = 200 << 10 // plain text kept per item
	maxTitle     = 2000      // bytes of title kept
	maxGUID      = 2048      // bytes of GUID kept
	maxURL       = 4096      // longer links are dropped, not cut: a cut URL is wrong
	futureSlack  = 24 * time.Hour
)

// earliest is the first date taken at face value; earlier ones are parser
// accidents (year 0001, 1970 epochs) rather than real publication times.
var earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// Item is one entry of a feed, reduced to what the watcher needs.
type Item struct {
	GUID  string
	URL   string // absolute http(s) link, or "" when the feed gave none usable
	Title string // plain text, one line
	Text  string // plain text of the content, else of the description
	// Published is the item's published date, else its updated date, in
	// UTC. It is zero when missing, before 1990, or more than a day in the
	// future: such dates are parser accidents or bogus, and a future date
	// would keep an item "fresh" forever. Zero rather than clamped to now
	// so that every fetch of the feed gives the same value.
	Published time.Time
}

// Feed is a parsed feed.
type Feed struct {
	Title string
	Link  string // the site's address, absolute, or ""
	Items []Item
	// Broken is empty for a feed read as it is, and otherwise says for an
	// admin what was wrong with the XML and how many items could still be
	// read from it: a cut-off or otherwise malformed feed still yields its
	// items, but may be missing some until the site fixes it. Bare
	// ampersands and HTML entities, which every reader accepts, do not
	// count as broken.
	Broken string
}

// Errors a caller may want to tell apart: ErrNotAFeed means the address
// serves something else (an HTML page, an image), so retrying will not help
// until the source is fixed; ErrMalformed means a feed that is broken now.
var (
	ErrNotAFeed  = errors.New("not a feed")
	ErrMalformed = errors.New("malformed feed")
)

// notFeedError carries a message written for the person who added the
// source, while still matching ErrNotAFeed.
type notFeedError string

func (e notFeedError) Error() string { return string(e) }
func (e notFeedError) Unwrap() error { return ErrNotAFeed }

const (
	errEmpty   = notFeedError("the address returned an empty body, not a feed")
	errHTML    = notFeedError("the address returned an HTML page, not a feed")
	errBinary  = notFeedError("the address returned binary data, not a feed")
	errUnknown = notFeedError("not a recognisable RSS, Atom or JSON feed")
)

// Decode is the whole step from a fetched body to a feed: it decodes the
// charset (fetch.DecodeFeed weighs contentType's and the prolog's labels
// against the bytes) and parses the result with Parse. It is the path the
// corpus tests take, so that the watcher calling it runs what was tested.
func Decode(body []byte, contentType, baseURL string) (*Feed, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmpty
	}
	text, _, err := fetch.DecodeFeed(body, contentType)
	if err != nil {
		// DecodeFeed fails only on a body with no text in it.
		return nil, notFeedError("the address returned no readable text, not a feed (" + err.Error() + ")")
	}
	return Parse(text, baseURL)
}

// Parse parses an RSS 0.9x/1.0/2.0, Atom or JSON feed. body must already be
// UTF-8: an encoding named in the XML declaration is ignored, and invalid
// bytes become U+FFFD rather than failing the whole feed. baseURL is the
// address the feed was fetched from; relative links are resolved against
// the feed's own site link, else against baseURL.
//
// Items with no link, no GUID and no title are skipped: nothing could
// identify them. At most MaxItems items are kept, and MaxTextBytes of text
// per item. XML the parser rejects (a feed cut off midway, a stray "<",
// junk before the root element) is read a second time leniently; if that
// recovers items, they are returned with Feed.Broken saying what was wrong.
// Every error matches ErrNotAFeed or ErrMalformed.
func Parse(body []byte, baseURL string) (*Feed, error) {
	return parse(body, baseURL, time.Now())
}

func parse(body []byte, baseURL string, now time.Time) (*Feed, error) {
	body = prepare(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmpty
	}
	gf, jf, err := runGofeed(body)
	var problem error // what repair had to fix, if it had to
	if err != nil && mayBeXML(body) {
		// A second, lenient reading, as feedparser's loose mode: a feed
		// cut off or broken midway still has its first items.
		if fixed, perr := repair(body); fixed != nil {
			if gf2, _, err2 := runGofeed(fixed); err2 == nil && len(gf2.Items) > 0 {
				// The parser's error names the first thing it choked
				// on, with its line; for a feed behind junk it says only
				// that it found none, and repair says more.
				problem = err
				if errors.Is(err, gofeed.ErrFeedTypeNotDetected) && perr != nil {
					problem = perr
				}
				gf, body, err = gf2, fixed, nil
			}
		}
	}
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, sniff(body)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if gf.FeedType == "json" && gf.FeedVersion == "" && len(gf.Items) == 0 {
		// Any JSON object "parses" as a feed; an API error such as
		// {"error":"not found"} must not read as an empty feed.
		return nil, errUnknown
	}
	var tf *textFields
	switch gf.FeedType {
	case "atom":
		tf = scanAtom(body)
	case "json":
		tf = jf
	}
	f := convert(gf, tf, baseURL, now)
	if problem != nil {
		if len(f.Items) == 0 {
			// Nothing could be read after all: the feed is broken, not
			// merely damaged.
			return nil, fmt.Errorf("%w: %w", ErrMalformed, problem)
		}
		f.Broken = brokenNote(problem, len(f.Items))
	}
	return f, nil
}

// convert turns gofeed's feed into dozor's, reading text fields the way
// their format declares them where gofeed lost that.
func convert(gf *gofeed.Feed, tf *textFields, baseURL string, now time.Time) *Feed {
	if tf != nil && len(tf.entries) != len(gf.Items) {
		tf = nil // the two parsers disagree: trust neither's declarations
	}
	base, _ := url.Parse(strings.TrimSpace(baseURL))
	if base != nil && !isWeb(base) {
		base = nil
	}
	title := field{gf.Title, guessHTML}
	if tf != nil && tf.title != nil {
		title = *tf.title
	}
	f := &Feed{Title: kindToText(title.s, title.kind, maxTitle, true)}
	if site := resolve(base, gf.Link); site != "" {
		f.Link = site
		base, _ = url.Parse(site)
	}

	n := min(len(gf.Items), MaxItems)
	f.Items = make([]Item, 0, n)
	for i, gi := range gf.Items {
		if len(f.Items) == MaxItems {
			break
		}
		if gi == nil {
			continue
		}
		var ef entryFields
		if tf != nil {
			ef = tf.entries[i]
		}
		it := convertItem(gi, ef, base, now)
		if it.URL == "" && it.GUID == "" && it.Title == "" {
			continue
		}
		f.Items = append(f.Items, it)
	}
	return f
}

// runGofeed calls the parser, turning a panic on hostile input into an
// error: one broken source must not take the watcher down. For a JSON feed
// it also returns the kinds of text JSON Feed declares.
func runGofeed(body []byte) (f *gofeed.Feed, tf *textFields, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, tf, err = nil, nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	p := gofeed.NewParser()
	// The image scan parses every item's HTML into a DOM: half the cost
	// of a parse, for an image nobody here uses.
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	jt := &jsonTranslator{}
	p.JSONTranslator = jt
	f, err = p.Parse(bytes.NewReader(body))
	return f, jt.fields, err
}

// jsonTranslator is gofeed's, noting what JSON Feed says of its fields:
// titles and summaries are plain text, and so is content_text, which
// gofeed puts in Content when there is no content_html.
type jsonTranslator struct {
	gofeed.DefaultJSONTranslator
	fields *textFields
}

func (t *jsonTranslator) Translate(feed any) (*gofeed.Feed, error) {
	f, err := t.DefaultJSONTranslator.Translate(feed)
	jf, ok := feed.(*jsonfeed.Feed)
	if err != nil || !ok || len(jf.Items) != len(f.Items) {
		return f, err
	}
	t.fields = &textFields{title: &field{f.Title, plainText}}
	for i, gi := range f.Items {
		ef := entryFields{
			title:   &field{gi.Title, plainText},
			summary: &field{gi.Description, plainText},
		}
		if ji := jf.Items[i]; ji != nil && ji.ContentHTML == "" {
			ef.content = &field{gi.Content, plainText}
		}
		t.fields.entries = append(t.fields.entries, ef)
	}
	return f, nil
}

// mayBeXML reports a body that an XML feed could be hidden in: one that
// starts with a tag, or has an XML declaration after some junk.
func mayBeXML(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '<' || bytes.Contains(body, []byte("<?xml"))
}

// brokenNote is Feed.Broken for a feed that needed repair.
func brokenNote(problem error, items int) string {
	unit := "items"
	if items == 1 {
		unit = "item"
	}
	return fmt.Sprintf("malformed XML (%v); recovered %d %s", problem, items, unit)
}

func convertItem(gi *gofeed.Item, ef entryFields, base *url.URL, now time.Time) Item {
	title := cmp.Or(ef.title, &field{gi.Title, guessHTML})
	it := Item{
		GUID:  truncate(strings.TrimSpace(gi.GUID), maxGUID),
		Title: kindToText(title.s, title.kind, maxTitle, true),
	}
	link := strings.TrimSpace(gi.Link)
	if link == "" && len(gi.Links) > 0 {
		link = strings.TrimSpace(gi.Links[0])
	}
	it.URL = resolve(base, link)
	if it.URL == "" {
		// RSS 2.0 feeds that omit <link> rely on the guid being the
		// permalink. Even isPermaLink="false" guids that are http(s)
		// addresses (WordPress's "?p=123") lead to the article, while
		// "tag:" URIs and bare ids are no address and stay GUIDs only.
		it.URL = resolve(nil, it.GUID)
	}

	content := cmp.Or(ef.content, &field{gi.Content, guessHTML})
	it.Text = kindToText(content.s, content.kind, MaxTextBytes, false)
	if it.Text == "" {
		summary := cmp.Or(ef.summary, &field{gi.Description, guessHTML})
		it.Text = kindToText(summary.s, summary.kind, MaxTextBytes, false)
	}

	switch {
	case gi.PublishedParsed != nil:
		it.Published = *gi.PublishedParsed
	case gi.UpdatedParsed != nil:
		it.Published = *gi.UpdatedParsed
	}
	it.Published = it.Published.UTC()
	if it.Published.Before(earliest) || it.Published.After(now.Add(futureSlack)) {
		it.Published = time.Time{}
	}
	return it
}

// resolve makes link absolute against base and keeps it only if it is an
// http(s) address: javascript: and mailto: links identify no article.
func resolve(base *url.URL, link string) string {
	link = strings.TrimSpace(link)
	if link == "" || len(link) > maxURL {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if !isWeb(u) {
		return ""
	}
	s := u.String()
	if len(s) > maxURL {
		return ""
	}
	return s
}

func isWeb(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// prepare makes body safe for the XML decoder under the UTF-8 contract:
// strips a BOM, replaces invalid UTF-8 (encoding/xml rejects the whole
// document on one bad byte) and drops a non-UTF-8 encoding declaration the
// fetcher may have left, which would make the decoder convert twice.
func prepare(body []byte) []byte {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) {
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("<?xml")) {
		return body
	}
	end := bytes.Index(trimmed, []byte("?>"))
	if end < 0 || !bytes.Contains(bytes.ToLower(trimmed[:end]), []byte("encoding")) {
		return body
	}
	out := make([]byte, 0, len(trimmed))
	out = append(out, `<?xml version="1.0" encoding="UTF-8"?>`...)
	return append(out, trimmed[end+2:]...)
}

// sniff explains a body the parser could not classify.
func sniff(body []byte) error {
	head := body[:min(len(body), 4096)]
	if looksBinary(head) {
		return errBinary
	}
	lower := bytes.ToLower(head)
	for _, marker := range []string{"<!doctype html", "<html", "<head", "<body"} {
		if bytes.Contains(lower, []byte(marker)) {
			return errHTML
		}
	}
	return errUnknown
}

// looksBinary reports a NUL byte or a large share of replacement
// characters (what prepare made of invalid UTF-8) or control bytes.
func looksBinary(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	odd, total := 0, 0
	for _, r := range string(b) {
		total++
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			odd++
		}
	}
	return total > 0 && odd*10 > total
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
