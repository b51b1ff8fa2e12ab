package bot

import (
	"fmt"
	"time"

	"dozor/jobs"
	"dozor/storage"
)

// RenderDigest lays out one message of a digest: a heading, then the
// stories in the order given under a bold line for each topic, one line a
// story (linked title, source, "+N outlets" for reprints, the summary's
// first sentence). It lists as many whole lines as fit one message; the
// deliver stage sends the rest in the next.
func (a Alerts) RenderDigest(u storage.User, due time.Time, size int, stories []jobs.AlertStory) jobs.Rendered {
	lang, loc := userLang(u), u.Location()
	html, n := formatDigest(u, due, size, stories, lang, loc, true)
	plain, np := formatDigest(u, due, size, stories, lang, loc, false)
	return jobs.Rendered{HTML: html, Plain: plain, HTMLShown: n, PlainShown: np, Group: true}
}

var (
	ruWeekdayAbbr = [...]string{"вс", "пн", "вт", "ср", "чт", "пт", "сб"}
	ruMonthGen    = [...]string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
)

// digestDate is the digest's day in the user's zone: "Mon 7 Dec".
func digestDate(t time.Time, lang string, loc *time.Location) string {
	t = t.In(loc)
	if lang == "ru" {
		return fmt.Sprintf("%s, %d %s", ruWeekdayAbbr[t.Weekday()], t.Day(), ruMonthGen[t.Month()-1])
	}
	return t.Format("Mon 2 Jan")
}

// formatDigest renders the first stories of a digest that fit one message
// and returns the text and how many it shows.
func formatDigest(u storage.User, due time.Time, size int, vs []jobs.AlertStory, lang string, loc *time.Location, html bool) (string, int) {
	name := wording(lang, "Digest", "Дайджест")
	if u.DigestEvery == storage.DigestWeekly {
		name = wording(lang, "Weekly digest", "Недельный дайджест")
	}
	day := digestDate(due, lang, loc)
	var heading string
	switch {
	case len(vs) == 0:
		heading = fmt.Sprintf(wording(lang, "🗓 %s for %s: nothing new on your topics.", "🗓 %s за %s: по вашим темам ничего нового."), name, day)
	case len(vs) >= size:
		heading = fmt.Sprintf(wording(lang, "🗓 %s for %s: %d stories", "🗓 %s за %s: сюжетов %d"), name, day, len(vs))
	default:
		heading = fmt.Sprintf(wording(lang, "🗓 %s for %s, continued: %d more", "🗓 %s за %s, продолжение: ещё %d"), name, day, len(vs))
	}
	d := runDoc{}
	d.add(textRun{text: heading, bold: true})
	total, n, topic := d.length(), 0, "\x00"
	for _, v := range vs {
		var e runDoc
		t := ""
		if len(v.Topics) > 0 {
			t = v.Topics[0]
		}
		if t != topic {
			e.newline()
			e.newline()
			e.add(textRun{text: truncateUTF16(cleanFeedText(t, true), groupTopicsLen), bold: true})
		}
		e.newline()
		e.segs = append(e.segs, digestLine(v, lang, html).segs...)
		if total+e.length() > tgTextLimit && n > 0 {
			break
		}
		d.segs = append(d.segs, e.segs...)
		total += e.length()
		topic = t
		n++
	}
	return d.render(html, tgTextLimit), n
}

// digestLine is one story of a digest, on one line: "• Title — RBC, +2
// outlets. First sentence of the summary."
func digestLine(v jobs.AlertStory, lang string, html bool) runDoc {
	var d runDoc
	href := httpLink(v.Article.URL)
	title := storyTitle(v, lang)
	d.add(textRun{text: "• "}, textRun{text: truncateUTF16(title, groupTitleLen), href: href, cut: true})
	if src := truncateUTF16(cleanFeedText(v.Article.Source, true), groupSourceLen); src != "" {
		d.add(textRun{text: " — "}, textRun{text: src, cut: true})
	}
	if n := len(v.AlsoIn); n > 0 {
		d.add(textRun{text: fmt.Sprintf(wording(lang, ", +%d outlets", ", +%d СМИ"), n)})
	}
	if v.Summary != nil {
		if s := leadSentence(cleanFeedText(v.Summary.Text, true)); s != "" {
			d.add(textRun{text: ". "}, textRun{text: truncateUTF16(s, groupSentenceLen), cut: true})
		}
	}
	if !html && href != "" {
		d.add(textRun{text: " " + href})
	}
	return d
}
