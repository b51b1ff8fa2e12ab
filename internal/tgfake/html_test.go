package tgfake

import (
	"reflect"
	"strings"
	"testing"

	"github.com/go-telegram/bot/models"
)

func ent(kind models.MessageEntityType, off, length int) models.MessageEntity {
	return models.MessageEntity{Type: kind, Offset: off, Length: length}
}

func TestParseHTML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		text string
		ents []models.MessageEntity
	}{
		{"plain", "plain text", "plain text", nil},
		{"bold", "<b>bold</b> text", "bold text", []models.MessageEntity{ent("bold", 0, 4)}},
		{"upper case tags", "<B>x</B>", "x", []models.MessageEntity{ent("bold", 0, 1)}},
		{"synonyms", "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><strike>e</strike>", "abcde",
			[]models.MessageEntity{ent("bold", 0, 1), ent("italic", 1, 1), ent("underline", 2, 1), ent("strikethrough", 3, 1), ent("strikethrough", 4, 1)}},
		{"named entities", "a &lt; b &amp;&amp; c &gt; d &quot;q&quot;", `a < b && c > d "q"`, nil},
		{"numeric entities", "&#1055;&#x440;&#X438;", "При", nil},
		{"bare greater-than", "a > b", "a > b", nil},
		{"nested", "<b>x<i>y</i></b>", "xy", []models.MessageEntity{ent("bold", 0, 2), ent("italic", 1, 1)}},
		{"link with escaped ampersand", `<a href="https://example.com/?a=1&amp;b=2">site</a>`, "site",
			[]models.MessageEntity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://example.com/?a=1&b=2"}}},
		{"single-quoted attribute", `<a href='https://e.com'>x</a>`, "x",
			[]models.MessageEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://e.com"}}},
		{"link without href", `<a>x</a>`, "x", nil},
		{"pre with language", `<pre><code class="language-go">x := 1</code></pre>`, "x := 1",
			[]models.MessageEntity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}}},
		{"inline code", `<code>x</code>`, "x", []models.MessageEntity{ent("code", 0, 1)}},
		{"spoilers", `<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>`, "st",
			[]models.MessageEntity{ent("spoiler", 0, 1), ent("spoiler", 1, 1)}},
		{"expandable blockquote", `<blockquote expandable>q</blockquote>`, "q", []models.MessageEntity{ent("expandable_blockquote", 0, 1)}},
		{"blockquote", `<blockquote>q</blockquote>`, "q", []models.MessageEntity{ent("blockquote", 0, 1)}},
		{"custom emoji", `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, "👍",
			[]models.MessageEntity{{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{"UTF-16 offsets", "😀<b>ж</b>", "😀ж", []models.MessageEntity{ent("bold", 2, 1)}},
		{"empty tag gives no entity", "<b></b>x", "x", nil},
		{"newlines kept", "a\n\n<i>b</i>", "a\n\nb", []models.MessageEntity{ent("italic", 3, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ents, err := parseHTML(tt.in)
			if err != nil {
				t.Fatalf("parseHTML(%q): %v", tt.in, err)
			}
			if text != tt.text {
				t.Errorf("text = %q, want %q", text, tt.text)
			}
			if !reflect.DeepEqual(ents, tt.ents) {
				t.Errorf("entities = %+v, want %+v", ents, tt.ents)
			}
		})
	}
}

func TestParseHTMLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"script tag", "<script>alert(1)</script>", `Unsupported start tag "script" at byte offset 0`},
		{"br tag", "hi<br>there", `Unsupported start tag "br" at byte offset 2`},
		{"self-closing br", "hi<br/>", `Unsupported start tag "br/" at byte offset 2`},
		{"paragraph", "<p>x</p>", `Unsupported start tag "p"`},
		{"bare less-than", "a < b", `Unsupported start tag "" at byte offset 2`},
		{"unclosed tag", "<b>x", `Can't find end tag corresponding to start tag "b"`},
		{"crossed tags", "<b><i>x</b></i>", `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"synonym does not close", "<b>x</strong>", `expected "</b>", found "</strong>"`},
		{"stray end tag", "x</b>", "Unexpected end tag at byte offset 1"},
		{"start tag cut off", "ab<b", "Unclosed start tag at byte offset 2"},
		{"end tag cut off", "<b>x</b", "Unclosed end tag at byte offset 4"},
		{"unterminated attribute", `<a href="x>y</a>`, "Unclosed start tag at byte offset 0"},
		{"bare ampersand", "AT&T", "Character '&' at byte offset 2"},
		{"ampersand at end", "a &", "Character '&' at byte offset 2"},
		{"unsupported named entity", "a&nbsp;b", `Unsupported HTML entity "&nbsp;" at byte offset 1`},
		{"entity without semicolon", "&lt b", "Character '&' at byte offset 0"},
		{"ampersand in attribute", `<a href="https://e.com/?a=1&b=2">x</a>`, "Character '&' at byte offset 27"},
		{"zero code point", "&#0;", `Invalid numeric HTML entity "&#0;"`},
		{"surrogate code point", "&#xD800;", `Invalid numeric HTML entity "&#xD800;"`},
		{"span without class", "<span>x</span>", `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"emoji without id", "<tg-emoji>x</tg-emoji>", `Tag "tg-emoji" must have attribute "emoji-id"`},
		{"empty attribute name", `<a ="x">y</a>`, `Empty attribute name in the tag "a" at byte offset 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseHTML(tt.in)
			if err == nil {
				t.Fatalf("parseHTML(%q) succeeded, want error containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseHTML(%q) = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestTrimText(t *testing.T) {
	text, ents, err := parseHTML("  <b> hi </b>\n\n")
	if err != nil {
		t.Fatal(err)
	}
	text, ents = trimText(text, ents)
	if text != "hi" {
		t.Errorf("text = %q, want %q", text, "hi")
	}
	if want := []models.MessageEntity{ent("bold", 0, 2)}; !reflect.DeepEqual(ents, want) {
		t.Errorf("entities = %+v, want %+v", ents, want)
	}
	if text, ents := trimText(" \n ", []models.MessageEntity{ent("bold", 0, 3)}); text != "" || ents != nil {
		t.Errorf("blank text trimmed to %q with %+v, want empty", text, ents)
	}
}

func TestCommandEntities(t *testing.T) {
	cmd := func(off, length int) models.MessageEntity { return ent("bot_command", off, length) }
	tests := []struct {
		in   string
		want []models.MessageEntity
	}{
		{"/start", []models.MessageEntity{cmd(0, 6)}},
		{"/start@dozor_test_bot now", []models.MessageEntity{cmd(0, 21)}},
		{"/start@ab", []models.MessageEntity{cmd(0, 6)}},
		{"hello /help", []models.MessageEntity{cmd(6, 5)}},
		{"/a /b", []models.MessageEntity{cmd(0, 2), cmd(3, 2)}},
		{"привет /start", []models.MessageEntity{cmd(7, 6)}},
		{"😀 /x", []models.MessageEntity{cmd(3, 2)}},
		{"a/b", nil},
		{"http://example.com", nil},
		{"/", nil},
		{"/тест", nil},
		{"just text", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := commandEntities(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("commandEntities(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkParseHTML(b *testing.B) {
	// A typical alert: title link, summary, source line; about 3 KB.
	item := `<b><a href="https://example.com/news?id=1&amp;utm=tg">Заголовок новости</a></b>` + "\n" +
		strings.Repeat("Краткое содержание статьи &lt;с цитатами&gt; и <i>выделением</i>. ", 20) + "\n<code>source</code>\n"
	b.SetBytes(int64(len(item)))
	for b.Loop() {
		if _, _, err := parseHTML(item); err != nil {
			b.Fatal(err)
		}
	}
}
