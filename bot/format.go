package bot

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"dozor/jobs"
)

// tgTextLimit is Telegram's limit for a message text, counted after
// entity parsing. Telegram's documentation says "characters"; we count
// UTF-16 code units, which is never fewer, so the text fits either way.
const tgTextLimit = 4096

// tgCallbackLimit is Telegram's limit for callback_data, in bytes.
const tgCallbackLimit = 64

// Caps that keep one part from crowding out the others, in UTF-16 units.
const (
	alertKeyPoints   = 3
	alertKeyPointLen = 300
	alertAlsoIn      = 5
	alertURLBytes    = 2048 // longer URLs are shown unlinked (HTML) or not at all (plain)
	alertMuteButtons = 3

	groupTitleLen    = 200
	groupSourceLen   = 64
	groupTopicsLen   = 120
	groupSentenceLen = 300
)

// AlertView is everything an alert message shows about one story; the
// deliver stage loads it.
type AlertView = jobs.AlertStory

// FormatAlert renders one story as a Telegram message for parse_mode HTML.
// Every piece of text is escaped, only http(s) URLs become links, and the
// text stays within Telegram's 4096-character limit however long its parts.
func FormatAlert(v AlertView, lang string, loc *time.Location) string {
	return alertRuns(v, lang, loc, true).render(true, tgTextLimit)
}

// FormatPlain renders the same message as FormatAlert as plain text (no
// parse_mode), for when Telegram refuses the HTML.
func FormatPlain(v AlertView, lang string, loc *time.Location) string {
	return alertRuns(v, lang, loc, false).render(false, tgTextLimit)
}

// FormatGroup renders several stories queued for one chat as one message
// for parse_mode HTML. Entries that do not fitRuns are left out and counted in
// a "+N more" line.
func FormatGroup(vs []AlertView, lang string, loc *time.Location) string {
	text, _ := formatGroup(vs, lang, loc, true, 0)
	return text
}

// FormatGroupPlain is FormatGroup as plain text.
func FormatGroupPlain(vs []AlertView, lang string, loc *time.Location) string {
	text, _ := formatGroup(vs, lang, loc, false, 0)
	return text
}

// AlertKeyboard offers to mute each of the story's topics (at most three)
// and to look for similar stories. Buttons whose callback data would exceed
// Telegram's 64 bytes are left out; nil when no button is left.
func AlertKeyboard(v AlertView, lang string) *models.InlineKeyboardMarkup {
	var rows [][]models.InlineKeyboardButton
	var mute []models.InlineKeyboardButton
	seen := map[string]bool{}
	for _, t := range v.Topics {
		t = strings.TrimSpace(cleanFeedText(t, true))
		if t == "" || seen[t] || len(mute) == alertMuteButtons {
			continue
		}
		seen[t] = true
		mute = append(mute, muteButton(t, lang))
	}
	for _, b := range mute {
		rows = append(rows, []models.InlineKeyboardButton{b})
	}
	if id := v.StoryID(); id != 0 {
		rows = append(rows, []models.InlineKeyboardButton{{
			Text:         "🔎 " + wording(lang, "Similar", "Похожие"),
			CallbackData: "sim:" + strconv.FormatUint(id, 10),
		}})
	}
	if len(rows) == 0 {
		return nil
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: rows}
}

// wording picks the Russian or English wording; like the chat interface,
// anything but "ru" gets English.
func wording(lang, en, ru string) string {
	if lang == "ru" {
		return ru
	}
	return en
}

// alertRuns lays out one alert. html decides how the title's link is shown.
func alertRuns(v AlertView, lang string, loc *time.Location, html bool) runDoc {
	var d runDoc
	href := httpLink(v.Article.URL)
	title := storyTitle(v, lang)
	d.add(textRun{text: title, href: href, bold: true, cut: true})
	if !html && href != "" {
		d.newline()
		d.add(textRun{text: href})
	}

	d.newline()
	d.add(sourceRuns(v, lang, loc, 0)...)
	if topics := joinTopics(v.Topics); topics != "" {
		d.newline()
		d.add(textRun{text: wording(lang, "Topics: ", "Темы: ")}, textRun{text: topics, cut: true})
	}
	if also := joinOutlets(v.AlsoIn, lang); also != "" {
		d.newline()
		d.add(textRun{text: wording(lang, "Also in: ", "Также: ")}, textRun{text: also, cut: true})
	}

	if s := v.Summary; s != nil {
		text := cleanFeedText(s.Text, false)
		var points []string
		for _, p := range s.KeyPoints {
			if p = cleanFeedText(p, true); p != "" && len(points) < alertKeyPoints {
				points = append(points, truncateUTF16(p, alertKeyPointLen))
			}
		}
		if text != "" || len(points) > 0 {
			d.newline()
			d.newline()
		}
		if text != "" {
			d.add(textRun{text: text, cut: true})
			if s.Extractive {
				d.add(textRun{text: " "}, textRun{text: wording(lang, "(auto-extract)", "(автовыдержка)"), italic: true})
			}
		}
		for i, p := range points {
			if text != "" || i > 0 {
				d.newline()
			}
			d.add(textRun{text: "• "}, textRun{text: p, cut: true})
		}
		if text == "" && len(points) > 0 && s.Extractive {
			d.newline()
			d.add(textRun{text: wording(lang, "(auto-extract)", "(автовыдержка)"), italic: true})
		}
	}
	if reach := reachLine(v, lang); reach != "" {
		d.newline()
		d.add(textRun{text: reach, italic: true})
	}
	return d
}

// reachLine says how widely a story was reported: "Reported by 3 outlets
// in 2 languages."; "" for one outlet.
func reachLine(v AlertView, lang string) string {
	if v.Outlets < 2 {
		return ""
	}
	if n := len(v.Languages); n > 1 {
		return fmt.Sprintf(wording(lang, "Reported by %d outlets in %d languages.", "Сообщили %d СМИ на %d языках."), v.Outlets, n)
	}
	return fmt.Sprintf(wording(lang, "Reported by %d outlets.", "Сообщили %d СМИ."), v.Outlets)
}

// sourceRuns is "RBC · 22 Nov 2026 14:05 MSK"; sourceCap > 0 caps the
// source name up front, as group entries do.
func sourceRuns(v AlertView, lang string, loc *time.Location, sourceCap int) []textRun {
	src := cleanFeedText(v.Article.Source, true)
	if sourceCap > 0 {
		src = truncateUTF16(src, sourceCap)
	}
	when := formatWhen(v.Article.Time(), lang, loc)
	switch {
	case src != "" && when != "":
		return []textRun{{text: src, cut: true}, {text: " · " + when}}
	case src != "":
		return []textRun{{text: src, cut: true}}
	default:
		return []textRun{{text: when}}
	}
}

var ruMonthAbbr = [...]string{"янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"}

// formatWhen shows t in the subscriber's zone: "22 Nov 2026 14:05 MSK".
func formatWhen(t time.Time, lang string, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if lang == "ru" {
		return fmt.Sprintf("%d %s %d %s", t.Day(), ruMonthAbbr[t.Month()-1], t.Year(), t.Format("15:04 MST"))
	}
	return t.Format("2 Jan 2006 15:04 MST")
}

// joinTopics joins topic names, each cleaned, without repeats.
func joinTopics(topics []string) string {
	var out []string
	for _, t := range topics {
		if t = cleanFeedText(t, true); t != "" && !hasString(out, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// joinOutlets names up to alertAlsoIn other outlets and counts the rest.
func joinOutlets(names []string, lang string) string {
	var out []string
	extra := 0
	for _, n := range names {
		n = cleanFeedText(n, true)
		if n == "" || hasString(out, n) {
			continue
		}
		if len(out) == alertAlsoIn {
			extra++
			continue
		}
		out = append(out, truncateUTF16(n, groupSourceLen))
	}
	s := strings.Join(out, ", ")
	if extra > 0 {
		s += fmt.Sprintf(wording(lang, " and %d more", " и ещё %d"), extra)
	}
	return s
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// formatGroup renders vs as numbered entries and returns the text and how
// many of vs it shows (always the first n). extra counts further queued
// stories that were not passed in; they join the "+N more" line.
func formatGroup(vs []AlertView, lang string, loc *time.Location, html bool, extra int) (string, int) {
	return formatList(fmt.Sprintf(wording(lang, "🗞 %d new stories", "🗞 Новых сюжетов: %d"), len(vs)+extra), vs, lang, loc, html, extra)
}

// formatList is formatGroup under another heading.
func formatList(heading string, vs []AlertView, lang string, loc *time.Location, html bool, extra int) (string, int) {
	header := runDoc{}
	header.add(textRun{text: heading, bold: true})

	entries := make([]runDoc, len(vs))
	for i, v := range vs {
		entries[i] = groupEntryRuns(i+1, v, lang, loc, html)
	}
	// Each entry is capped, so whole entries either fitRuns or are left out;
	// nothing inside is cut further except by the final render.
	more := func(n int) runDoc {
		var d runDoc
		d.add(textRun{text: fmt.Sprintf(wording(lang, "+%d more", "и ещё %d"), n), italic: true})
		return d
	}
	n := 0
	total := header.length()
	for i, e := range entries {
		need := total + 2 + e.length() // blank line before the entry
		if rest := len(vs) - i - 1 + extra; rest > 0 {
			need += 2 + more(rest).length()
		}
		if need > tgTextLimit && n > 0 {
			break
		}
		total += 2 + e.length()
		n++
	}
	d := header
	for _, e := range entries[:n] {
		d.newline()
		d.newline()
		d.segs = append(d.segs, e.segs...)
	}
	if rest := len(vs) - n + extra; rest > 0 {
		d.newline()
		d.newline()
		d.segs = append(d.segs, more(rest).segs...)
	}
	return d.render(html, tgTextLimit), n
}

// groupEntryRuns is one compact story in a group message: linked title,
// source and time, topics, the summary's first sentence.
func groupEntryRuns(num int, v AlertView, lang string, loc *time.Location, html bool) runDoc {
	var d runDoc
	href := httpLink(v.Article.URL)
	title := storyTitle(v, lang)
	d.add(textRun{text: strconv.Itoa(num) + ". "}, textRun{text: truncateUTF16(title, groupTitleLen), href: href, bold: true, cut: true})
	if !html && href != "" {
		d.newline()
		d.add(textRun{text: href})
	}
	d.newline()
	d.add(sourceRuns(v, lang, loc, groupSourceLen)...)
	if topics := joinTopics(v.Topics); topics != "" {
		d.add(textRun{text: " · "}, textRun{text: truncateUTF16(topics, groupTopicsLen), cut: true})
	}
	if v.Summary != nil {
		if s := leadSentence(cleanFeedText(v.Summary.Text, false)); s != "" {
			d.newline()
			d.add(textRun{text: truncateUTF16(s, groupSentenceLen), cut: true})
		}
	}
	return d
}

// storyTitle is the title an alert shows: the article's, else its
// story's, else a placeholder.
func storyTitle(v AlertView, lang string) string {
	if t := cleanFeedText(v.Article.Title, true); t != "" {
		return t
	}
	if t := cleanFeedText(v.Story.Title, true); t != "" {
		return t
	}
	return wording(lang, "(untitled)", "(без заголовка)")
}

// leadSentence is text up to the end of its first sentence or line.
func leadSentence(text string) string {
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	for i, r := range text {
		switch r {
		case '.', '!', '?', '…':
			next := i + utf8.RuneLen(r)
			if next == len(text) || text[next] == ' ' {
				return strings.TrimSpace(text[:next])
			}
		}
	}
	return strings.TrimSpace(text)
}

// textRun is a run of text with one style. Text is raw (unescaped).
type textRun struct {
	text   string
	href   string // http(s) link target, "" for none; ignored in plain text
	bold   bool
	italic bool
	cut    bool // may be shortened to make the message fitRuns
}

// runDoc is a message as styled runs; newlines are runs of their own.
type runDoc struct{ segs []textRun }

func (d *runDoc) add(s ...textRun) { d.segs = append(d.segs, s...) }
func (d *runDoc) newline()         { d.segs = append(d.segs, textRun{text: "\n"}) }

// length is the visible length in UTF-16 units, as Telegram counts it.
func (d runDoc) length() int {
	n := 0
	for _, s := range d.segs {
		n += utf16Length(s.text)
	}
	return n
}

// render fits the document into limit and writes it as HTML or plain text.
// Fitting happens on the raw text, before escaping, so a cut never lands
// inside an entity or a tag.
func (d runDoc) render(html bool, limit int) string {
	segs := fitRuns(d.segs, limit)
	var b strings.Builder
	for _, s := range segs {
		if s.text == "" {
			continue
		}
		if !html {
			b.WriteString(s.text)
			continue
		}
		if s.bold {
			b.WriteString("<b>")
		}
		if s.italic {
			b.WriteString("<i>")
		}
		if s.href != "" {
			b.WriteString(`<a href="`)
			b.WriteString(escapeTG(s.href))
			b.WriteString(`">`)
		}
		b.WriteString(escapeTG(s.text))
		if s.href != "" {
			b.WriteString("</a>")
		}
		if s.italic {
			b.WriteString("</i>")
		}
		if s.bold {
			b.WriteString("</b>")
		}
	}
	return b.String()
}

// fitRuns shortens the longest cuttable runs to a common cap until the whole
// text is within limit: a 10,000-character title loses its tail before a
// 500-character summary loses anything.
func fitRuns(segs []textRun, limit int) []textRun {
	fixed, longest := 0, 0
	lens := make([]int, len(segs))
	for i, s := range segs {
		lens[i] = utf16Length(s.text)
		if s.cut {
			longest = max(longest, lens[i])
		} else {
			fixed += lens[i]
		}
	}
	total := func(c int) int {
		n := fixed
		for i, s := range segs {
			if s.cut {
				n += min(lens[i], c)
			}
		}
		return n
	}
	if total(longest) <= limit {
		return segs
	}
	// The largest cap that fits; total is monotonic in the cap.
	lo, hi := 0, longest
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if total(mid) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	out := make([]textRun, len(segs))
	for i, s := range segs {
		if s.cut && lens[i] > lo {
			s.text = truncateUTF16(s.text, lo)
		}
		out[i] = s
	}
	return out
}

// truncateUTF16 shortens s to at most n UTF-16 units, ending in "…", cutting
// on a rune boundary and never leaving a dangling joiner or space.
func truncateUTF16(s string, n int) string {
	if utf16Length(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	room := n - 1 // for "…"
	used, end := 0, 0
	for i, r := range s {
		w := utf16Units(r)
		if used+w > room {
			break
		}
		used += w
		end = i + utf8.RuneLen(r)
	}
	cut := strings.TrimRightFunc(s[:end], func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200d' || unicode.Is(unicode.Variation_Selector, r)
	})
	return cut + "…"
}

func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

func utf16Length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16Units(r)
	}
	return n
}

// escapeTG escapes exactly the characters Telegram's HTML parser treats
// specially, using the only named entities it knows.
func escapeTG(s string) string { return tgEscaper.Replace(s) }

var tgEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// httpLink returns raw as a link target if it is an absolute http(s) URL of
// reasonable length, else "": javascript: and friends never become links.
func httpLink(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > alertURLBytes {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := u.String()
	if len(s) > alertURLBytes || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// cleanFeedText makes feed text safe to send: valid UTF-8, no control
// characters (Telegram rejects some), trimmed. oneLine folds line breaks
// and runs of spaces into single spaces; otherwise at most one blank line
// is kept between paragraphs.
func cleanFeedText(s string, oneLine bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space, newlines := false, 0
	for _, r := range s {
		switch {
		case r == '\n' && !oneLine:
			newlines++
			space = false
			continue
		case unicode.IsSpace(r) || r == '\r':
			space = true
			continue
		case unicode.IsControl(r) || r == '\uFEFF' || r == '\uFFFE' || r == '\uFFFF':
			continue
		case unicode.Is(unicode.Bidi_Control, r):
			// U+202E and friends would make a title or name read as
			// something else than it is.
			continue
		}
		if b.Len() > 0 {
			switch {
			case newlines > 1:
				b.WriteString("\n\n")
			case newlines == 1:
				b.WriteByte('\n')
			case space:
				b.WriteByte(' ')
			}
		}
		space, newlines = false, 0
		b.WriteRune(r)
	}
	return b.String()
}
