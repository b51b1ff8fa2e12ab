package feed

import (
	"errors"
	"strings"
	"testing"
)

const (
	rssHead  = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<rss version="2.0"><channel><title>Лента</title><link>https://lenta.example.ru/</link>` + "\n"
	rssItem1 = `<item><title>ВТБ рассматривает создание ИИ-центра в Китае</title><link>https://lenta.example.ru/1</link><description>Банк прорабатывает инициативу.</description></item>` + "\n"
	rssItem2 = `<item><title>Дата-центры в Китае</title><link>https://lenta.example.ru/2</link></item>` + "\n"
)

// TestParseRecoversMalformedXML checks the lenient second reading: what a
// broken feed still holds is kept, and Broken says what happened.
func TestParseRecoversMalformedXML(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantTitles []string
		wantBroken string
	}{
		{
			// The connection or the generator died mid-item: the cut
			// item is dropped, not stored with half a title or link.
			name:       "cut off in the second item",
			body:       rssHead + rssItem1 + `<item><title>Дата-центры в Ки`,
			wantTitles: []string{"ВТБ рассматривает создание ИИ-центра в Китае"},
			wantBroken: "malformed XML (XML syntax error on line 4: unexpected EOF); recovered 1 item",
		},
		{
			name:       "cut off inside a tag",
			body:       rssHead + rssItem1 + rssItem2 + `<item><title>Третья</title><link>https://lenta.example.ru/3</li`,
			wantTitles: []string{"ВТБ рассматривает создание ИИ-центра в Китае", "Дата-центры в Китае"},
			wantBroken: "malformed XML (XML syntax error on line 5: unexpected EOF); recovered 2 items",
		},
		{
			name:       "cut off after the last item",
			body:       rssHead + rssItem1 + rssItem2 + `</chan`,
			wantTitles: []string{"ВТБ рассматривает создание ИИ-центра в Китае", "Дата-центры в Китае"},
			wantBroken: "recovered 2 items",
		},
		{
			name:       "unclosed atom",
			body:       `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title></entry>`,
			wantTitles: []string{"a"},
			wantBroken: "malformed XML (XML syntax error on line 1: unexpected EOF); recovered 1 item",
		},
		{
			// "<" before a space starts no tag: it is text, and the items
			// after it survive.
			name:       "bare less-than sign",
			body:       rssHead + `<item><title>Курс < 100 рублей</title><link>https://lenta.example.ru/0</link></item>` + rssItem1 + `</channel></rss>`,
			wantTitles: []string{"Курс < 100 рублей", "ВТБ рассматривает создание ИИ-центра в Китае"},
			wantBroken: "malformed XML (XML syntax error on line 3: expected element name after <); recovered 2 items",
		},
		{
			// PHP prints its warnings ahead of the feed.
			name:       "junk before the feed",
			body:       "<br />\n<b>Warning</b>: mysql_connect(): Too many connections in /var/www/rss.php on line 3<br />\n" + rssHead + rssItem1 + `</channel></rss>`,
			wantTitles: []string{"ВТБ рассматривает создание ИИ-центра в Китае"},
			wantBroken: "malformed XML (content before the feed's root element); recovered 1 item",
		},
		{
			name:       "junk before the feed, then cut off",
			body:       "Deprecated: something\n" + rssHead + rssItem1 + rssItem2 + `<item><title>x`,
			wantTitles: []string{"ВТБ рассматривает создание ИИ-центра в Китае", "Дата-центры в Китае"},
			wantBroken: "malformed XML (content before the feed's root element); recovered 2 items",
		},
		{
			// An unterminated end tag with entities XML lacks on the way:
			// feedparser's entities/hex_entity_x_lowercase.xml.
			name:       "html entities and an unterminated end tag",
			body:       rssHead + `<item><title>Рубль&nbsp;&mdash; 100 &amp; &#x41;</title><link>https://lenta.example.ru/1</link></item></channel></rss`,
			wantTitles: []string{"Рубль — 100 & A"},
			wantBroken: "recovered 1 item",
		},
		{
			// Stray control characters, which gofeed drops too, must not
			// stop the lenient reading either.
			name:       "control characters, then cut off",
			body:       rssHead + "<item><title>Курс\x0b рубля\x01</title><link>https://lenta.example.ru/1</link><description>" + strings.Repeat("текст ", 200) + "\x02</description></item>" + rssItem2 + "<item><title>x",
			wantTitles: []string{"Курс рубля", "Дата-центры в Китае"},
			wantBroken: "recovered 2 items",
		},
		{
			name:       "atom xhtml title, unterminated",
			body:       `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">History of the &lt;blink&gt; <b>tag</b> &#X41;</div></title></entry></feed`,
			wantTitles: []string{"History of the <blink> tag A"},
			wantBroken: "recovered 1 item",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse([]byte(tt.body), base, now)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var titles []string
			for _, it := range f.Items {
				titles = append(titles, it.Title)
			}
			if strings.Join(titles, "\n") != strings.Join(tt.wantTitles, "\n") {
				t.Errorf("titles = %q, want %q", titles, tt.wantTitles)
			}
			if !strings.Contains(f.Broken, tt.wantBroken) || !strings.HasPrefix(f.Broken, "malformed XML (") {
				t.Errorf("Broken = %q, want it to say %q", f.Broken, tt.wantBroken)
			}
		})
	}
}

// TestParseWellFormedIsNotBroken checks that Broken stays empty for feeds
// read as they are, including the sloppiness every reader accepts.
func TestParseWellFormedIsNotBroken(t *testing.T) {
	for name, body := range map[string]string{
		"well-formed":       rssHead + rssItem1 + rssItem2 + `</channel></rss>`,
		"bare ampersands":   rssHead + `<item><title>AT&T и Ко</title><link>https://lenta.example.ru/?a=1&b=2</link></item></channel></rss>`,
		"html entities":     rssHead + `<item><title>Рубль&nbsp;&mdash; 100 &laquo;р&raquo;</title></item></channel></rss>`,
		"testdata rss2_ru":  string(readTestdata(t, "rss2_ru.xml")),
		"testdata atom":     string(readTestdata(t, "atom.xml")),
		"testdata jsonfeed": string(readTestdata(t, "jsonfeed.json")),
	} {
		f, err := parse([]byte(body), base, now)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.Broken != "" || len(f.Items) == 0 {
			t.Errorf("%s: Broken = %q with %d items, want a clean feed", name, f.Broken, len(f.Items))
		}
	}
}

// TestRepairBounded checks that a body of nothing but errors costs a
// bounded number of decoder restarts and still fails cleanly.
func TestRepairBounded(t *testing.T) {
	body := rssHead + strings.Repeat("< ", 50_000)
	_, err := parse([]byte(body), base, now)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	out, problem := repair([]byte(body))
	if problem == nil || len(out) > len(body)*5 {
		t.Errorf("repair: problem %v, %d bytes out of %d", problem, len(out), len(body))
	}
}
