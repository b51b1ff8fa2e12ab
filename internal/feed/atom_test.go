package feed

import (
	"encoding/base64"
	"testing"
)

func atomEntry(entry string) string {
	return `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Feed &lt;title&gt;</title>` +
		`<entry><id>tag:x.example,2025:1</id>` + entry + `</entry></feed>`
}

func atom03Entry(entry string) string {
	return `<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><id>tag:x.example,2025:1</id>` + entry + `</entry></feed>`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestParseAtomTextConstructs checks that Atom titles, summaries and
// content are read as the type they declare (RFC 4287 section 3.1, and Atom
// 0.3's modes), not guessed from their look.
func TestParseAtomTextConstructs(t *testing.T) {
	tests := []struct {
		name, body      string
		wantTitle, want string // want: the item's text
	}{
		{"text title keeps markup-like words", atomEntry(`<title type="text">History of the &lt;blink&gt; tag</title>`), "History of the <blink> tag", ""},
		{"untyped title is text", atomEntry(`<title>History of the &lt;blink&gt; tag</title>`), "History of the <blink> tag", ""},
		{"text title in CDATA", atomEntry(`<title type="text"><![CDATA[a <b> c]]></title>`), "a <b> c", ""},
		{"html title", atomEntry(`<title type="html">Example &lt;b&gt;Atom&lt;/b&gt; &amp;amp; Co</title>`), "Example Atom & Co", ""},
		{"html title escaping brackets", atomEntry(`<title type="html">History of the &amp;lt;blink&amp;gt; tag</title>`), "History of the <blink> tag", ""},
		{"xhtml title", atomEntry(`<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Example <b>Atom</b> &lt;3</div></title>`), "Example Atom <3", ""},
		{"html title with an unclosed object", atomEntry(`<title type="html">safe&lt;object classid="clsid:x"&gt; description</title>`), "safe description", ""},
		{"child title of another element", atomEntry(`<image><title>Wrong</title></image><title>Right</title>`), "Right", ""},
		{"extension title", atomEntry(`<media:title xmlns:media="http://search.yahoo.com/mrss/">Wrong</media:title><title>Right &lt;1&gt;</title>`), "Right <1>", ""},
		{"text content", atomEntry(`<title>t</title><content type="text">if a &lt;b&gt; c then d</content>`), "t", "if a <b> c then d"},
		{"html content", atomEntry(`<title>t</title><content type="html">&lt;p&gt;one&lt;/p&gt;&lt;p&gt;two&lt;/p&gt;</content>`), "t", "one\ntwo"},
		{"text summary", atomEntry(`<title>t</title><summary>x &lt;y&gt; z</summary>`), "t", "x <y> z"},
		{"atom 0.3 escaped html", atom03Entry(`<title type="text/html" mode="escaped">Example &lt;b&gt;Atom&lt;/b&gt;</title>`), "Example Atom", ""},
		{"atom 0.3 plain", atom03Entry(`<title type="text/plain">History of the &lt;blink&gt; tag</title>`), "History of the <blink> tag", ""},
		{"atom 0.3 naked markup", atom03Entry(`<title>Example <b>Atom</b></title>`), "Example Atom", ""},
		{"atom 0.3 base64 html", atom03Entry(`<title type="text/html" mode="base64">` + b64(`<div><a href="/x">click here</a></div>`) + `</title>`), "click here", ""},
		{"atom 0.3 base64 plain", atom03Entry(`<title type="text/plain" mode="base64">` + b64(`a <b> c`) + `</title>`), "a <b> c", ""},
		{"atom 0.3 base64 untyped", atom03Entry(`<title mode="base64">` + b64(`Example <b>Atom</b>`) + `</title>`), "Example Atom", ""},
		{"atom 0.3 xml mode", atom03Entry(`<title type="application/xhtml+xml" mode="xml">&#x41;<b>B</b></title>`), "AB", ""},
		{"control characters", atomEntry("<title type=\"text\">a\x0b &lt;b&gt;\x01</title>"), "a <b>", ""},
		{"prefixed atom", `<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry><a:id>1</a:id><a:title type="text">x &lt;y&gt;</a:title></a:entry></a:feed>`, "x <y>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse([]byte(tt.body), base, now)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(f.Items) != 1 {
				t.Fatalf("got %d items, want 1", len(f.Items))
			}
			if got := f.Items[0]; got.Title != tt.wantTitle || got.Text != tt.want {
				t.Errorf("title %q, text %q; want %q, %q", got.Title, got.Text, tt.wantTitle, tt.want)
			}
			if f.Broken != "" {
				t.Errorf("Broken = %q for a well-formed feed", f.Broken)
			}
		})
	}
	f, err := parse([]byte(atomEntry(`<title>t</title>`)), base, now)
	if err != nil || f.Title != "Feed <title>" {
		t.Errorf("feed title = %q (%v), want %q", f.Title, err, "Feed <title>")
	}
}

// TestParseJSONPlainText checks that JSON Feed's plain-text fields keep
// what looks like markup, and content_html is still HTML.
func TestParseJSONPlainText(t *testing.T) {
	body := `{"version":"https://jsonfeed.org/version/1.1","title":"A <b> feed","items":[` +
		`{"id":"1","title":"Why <div> soup is bad","content_text":"Use <p> & </p>."},` +
		`{"id":"2","title":"Two","content_html":"<p>one</p><p>two &amp; <b>three</b></p>"},` +
		`{"id":"3","title":"Three","summary":"x <y> z"}]}`
	f, err := parse([]byte(body), base, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ title, text string }{
		{"Why <div> soup is bad", "Use <p> & </p>."},
		{"Two", "one\ntwo & three"},
		{"Three", "x <y> z"},
	}
	if f.Title != "A <b> feed" || len(f.Items) != len(want) {
		t.Fatalf("feed %q with %d items", f.Title, len(f.Items))
	}
	for i, w := range want {
		if got := f.Items[i]; got.Title != w.title || got.Text != w.text {
			t.Errorf("item %d: %q %q, want %q %q", i, got.Title, got.Text, w.title, w.text)
		}
	}
}
