package tgfake

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// maxTextRunes is Telegram's limit for a message text after entity parsing.
const maxTextRunes = 4096

// htmlTag describes one supported start tag while it is open.
type htmlTag struct {
	name    string // lower-case tag name as written, matched against the end tag
	kind    models.MessageEntityType
	start   int // UTF-16 offset in the output text
	url     string
	lang    string
	emojiID string
}

// parseHTML applies Telegram's parse_mode=HTML rules (tdlib parse_html) and
// returns the plain text with its entities. Offsets are in UTF-16 code units,
// as in the real API. Errors carry the text Telegram puts after
// "can't parse entities: ".
//
// It is deliberately stricter than Telegram in one place: a '&' that does not
// start one of the supported entities is an error here, while tdlib keeps it
// as a literal character. Text that relies on that leniency breaks as soon as
// it happens to contain "&lt;", so the fake makes missing escaping visible.
func parseHTML(src string) (string, []models.MessageEntity, error) {
	var (
		out   strings.Builder
		stack []*htmlTag
		ents  []models.MessageEntity
		pos   int // UTF-16 length of out
	)
	out.Grow(len(src))
	for i := 0; i < len(src); {
		switch src[i] {
		case '&':
			r, n, err := decodeEntity(src[i:], i)
			if err != nil {
				return "", nil, err
			}
			out.WriteRune(r)
			pos += utf16Len(r)
			i += n
		case '<':
			if i+1 < len(src) && src[i+1] == '/' {
				end, tag, err := parseEndTag(src, i, stack)
				if err != nil {
					return "", nil, err
				}
				stack = stack[:len(stack)-1]
				var parent *htmlTag
				if len(stack) > 0 {
					parent = stack[len(stack)-1]
				}
				if e, ok := closeTag(tag, parent, pos); ok {
					ents = append(ents, e)
				}
				i = end
				continue
			}
			end, tag, err := parseStartTag(src, i)
			if err != nil {
				return "", nil, err
			}
			tag.start = pos
			stack = append(stack, tag)
			i = end
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			out.WriteString(src[i : i+size])
			pos += utf16Len(r)
			i += size
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag %q", stack[len(stack)-1].name)
	}
	sort.SliceStable(ents, func(a, b int) bool {
		if ents[a].Offset != ents[b].Offset {
			return ents[a].Offset < ents[b].Offset
		}
		return ents[a].Length > ents[b].Length
	})
	return out.String(), ents, nil
}

// closeTag turns a closed tag into an entity. A <code> directly inside <pre>
// only names the language of the block, as in Telegram.
func closeTag(tag, parent *htmlTag, pos int) (models.MessageEntity, bool) {
	if tag.kind == models.MessageEntityTypeCode && parent != nil && parent.kind == models.MessageEntityTypePre {
		if tag.lang != "" {
			parent.lang = tag.lang
		}
		return models.MessageEntity{}, false
	}
	length := pos - tag.start
	if tag.kind == "" || length == 0 {
		return models.MessageEntity{}, false
	}
	e := models.MessageEntity{Type: tag.kind, Offset: tag.start, Length: length}
	switch tag.kind {
	case models.MessageEntityTypeTextLink:
		e.URL = tag.url
	case models.MessageEntityTypePre:
		e.Language = tag.lang
	case models.MessageEntityTypeCustomEmoji:
		e.CustomEmojiID = tag.emojiID
	}
	return e, true
}

// tagKinds lists the only tags Telegram accepts; anything else is an error.
var tagKinds = map[string]models.MessageEntityType{
	"b":          models.MessageEntityTypeBold,
	"strong":     models.MessageEntityTypeBold,
	"i":          models.MessageEntityTypeItalic,
	"em":         models.MessageEntityTypeItalic,
	"u":          models.MessageEntityTypeUnderline,
	"ins":        models.MessageEntityTypeUnderline,
	"s":          models.MessageEntityTypeStrikethrough,
	"strike":     models.MessageEntityTypeStrikethrough,
	"del":        models.MessageEntityTypeStrikethrough,
	"tg-spoiler": models.MessageEntityTypeSpoiler,
	"span":       models.MessageEntityTypeSpoiler,
	"a":          models.MessageEntityTypeTextLink,
	"code":       models.MessageEntityTypeCode,
	"pre":        models.MessageEntityTypePre,
	"blockquote": models.MessageEntityTypeBlockquote,
	"tg-emoji":   models.MessageEntityTypeCustomEmoji,
}

// parseStartTag reads the tag starting at src[begin] == '<' and returns the
// index just after its '>'.
func parseStartTag(src string, begin int) (int, *htmlTag, error) {
	unclosed := fmt.Errorf("Unclosed start tag at byte offset %d", begin)
	j := begin + 1
	for j < len(src) && !isHTMLSpace(src[j]) && src[j] != '>' {
		j++
	}
	if j == len(src) {
		return 0, nil, unclosed
	}
	name := strings.ToLower(src[begin+1 : j])
	kind, ok := tagKinds[name]
	if !ok {
		return 0, nil, fmt.Errorf("Unsupported start tag %q at byte offset %d", name, begin)
	}
	attrs := map[string]string{}
	for {
		for j < len(src) && isHTMLSpace(src[j]) {
			j++
		}
		if j == len(src) {
			return 0, nil, unclosed
		}
		if src[j] == '>' {
			j++
			break
		}
		k := j
		for j < len(src) && !isHTMLSpace(src[j]) && src[j] != '=' && src[j] != '>' {
			j++
		}
		attr := strings.ToLower(src[k:j])
		if attr == "" {
			return 0, nil, fmt.Errorf("Empty attribute name in the tag %q at byte offset %d", name, k)
		}
		for j < len(src) && isHTMLSpace(src[j]) {
			j++
		}
		if j == len(src) {
			return 0, nil, unclosed
		}
		if src[j] != '=' {
			attrs[attr] = "" // a valueless attribute such as "expandable"
			continue
		}
		j++
		for j < len(src) && isHTMLSpace(src[j]) {
			j++
		}
		if j == len(src) {
			return 0, nil, unclosed
		}
		var raw string
		valueAt := j
		if q := src[j]; q == '"' || q == '\'' {
			j++
			valueAt = j
			for j < len(src) && src[j] != q {
				j++
			}
			if j == len(src) {
				return 0, nil, unclosed
			}
			raw = src[valueAt:j]
			j++
		} else {
			for j < len(src) && !isHTMLSpace(src[j]) && src[j] != '>' {
				j++
			}
			raw = src[valueAt:j]
		}
		value, err := decodeAttribute(raw, valueAt)
		if err != nil {
			return 0, nil, err
		}
		attrs[attr] = value
	}

	tag := &htmlTag{name: name, kind: kind}
	switch name {
	case "a":
		tag.url = attrs["href"]
		if tag.url == "" {
			tag.kind = "" // Telegram drops a link without a target
		}
	case "span":
		if attrs["class"] != "tg-spoiler" {
			return 0, nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		}
	case "code":
		if lang, ok := strings.CutPrefix(attrs["class"], "language-"); ok {
			tag.lang = lang
		}
	case "blockquote":
		if _, ok := attrs["expandable"]; ok {
			tag.kind = models.MessageEntityTypeExpandableBlockquote
		}
	case "tg-emoji":
		id := attrs["emoji-id"]
		if id == "" {
			return 0, nil, fmt.Errorf("Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset %d", begin)
		}
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return 0, nil, fmt.Errorf("Invalid custom emoji identifier specified at byte offset %d", begin)
		}
		tag.emojiID = id
	}
	return j, tag, nil
}

// parseEndTag reads "</name>" at src[begin] and checks it closes the innermost
// open tag; it returns the index after '>' and that tag.
func parseEndTag(src string, begin int, stack []*htmlTag) (int, *htmlTag, error) {
	j := begin + 2
	for j < len(src) && src[j] != '>' {
		j++
	}
	if j == len(src) {
		return 0, nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
	}
	name := strings.ToLower(strings.TrimRightFunc(src[begin+2:j], func(r rune) bool { return r < utf8.RuneSelf && isHTMLSpace(byte(r)) }))
	if len(stack) == 0 {
		return 0, nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
	}
	top := stack[len(stack)-1]
	if name != top.name {
		return 0, nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
	}
	return j + 1, top, nil
}

// decodeEntity decodes the HTML entity at the start of rest (rest[0] == '&');
// at is its byte offset in the message, for errors. It returns the
// character and the number of bytes the entity took.
func decodeEntity(rest string, at int) (rune, int, error) {
	bare := fmt.Errorf("Character '&' at byte offset %d is not a part of an HTML entity; it must be escaped as \"&amp;\"", at)
	semi := strings.IndexByte(rest, ';')
	if semi < 0 || semi > 12 {
		return 0, 0, bare
	}
	body := rest[1:semi]
	switch body {
	case "lt":
		return '<', semi + 1, nil
	case "gt":
		return '>', semi + 1, nil
	case "amp":
		return '&', semi + 1, nil
	case "quot":
		return '"', semi + 1, nil
	}
	if num, ok := strings.CutPrefix(body, "#"); ok && num != "" {
		base := 10
		if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = hex, 16
		}
		v, err := strconv.ParseUint(num, base, 32)
		r := rune(v)
		if err == nil && v > 0 && v <= unicode.MaxRune && !utf16.IsSurrogate(r) {
			return r, semi + 1, nil
		}
		return 0, 0, fmt.Errorf("Invalid numeric HTML entity %q at byte offset %d", rest[:semi+1], at)
	}
	if isEntityName(body) {
		return 0, 0, fmt.Errorf("Unsupported HTML entity %q at byte offset %d; only &lt; &gt; &amp; &quot; and numeric entities are allowed", rest[:semi+1], at)
	}
	return 0, 0, bare
}

// decodeAttribute decodes entities inside an attribute value that starts at
// byte offset base of the message.
func decodeAttribute(raw string, base int) (string, error) {
	if !strings.ContainsRune(raw, '&') {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] != '&' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		r, n, err := decodeEntity(raw[i:], base+i)
		if err != nil {
			return "", err
		}
		b.WriteRune(r)
		i += n
	}
	return b.String(), nil
}

func isEntityName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// utf16Count is the length Telegram uses for entity offsets.
func utf16Count(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Len(r)
	}
	return n
}

// trimText strips leading and trailing white space the way Telegram does
// before storing a message, shifting and clipping the entities to match.
func trimText(text string, ents []models.MessageEntity) (string, []models.MessageEntity) {
	trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
	lead := utf16Count(text[:len(text)-len(trimmed)])
	trimmed = strings.TrimRightFunc(trimmed, unicode.IsSpace)
	end := lead + utf16Count(trimmed)
	if len(ents) == 0 {
		return trimmed, nil
	}
	out := make([]models.MessageEntity, 0, len(ents))
	for _, e := range ents {
		s, f := max(e.Offset, lead), min(e.Offset+e.Length, end)
		if f <= s {
			continue
		}
		e.Offset, e.Length = s-lead, f-s
		out = append(out, e)
	}
	if len(out) == 0 {
		out = nil
	}
	return trimmed, out
}
