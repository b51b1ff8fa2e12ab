package jobs

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"dozor/internal/analysis"
	"dozor/internal/query"
)

// The synthetic news world of BenchmarkPipeline: feeds spread over eight
// hosts, each item a teaser of a story whose article page is served by
// the feed's own host. Everything is generated on request from the feed
// and item numbers, so the benchmark holds no corpus in memory and two
// requests for one address always get the same bytes.
//
// The vocabulary is built so that matching behaves as with a real
// watchlist: stories are written in common words (Zipf-distributed, as in
// any language) and mention a few named entities; a topic asks for two
// entities together, so only the stories planted on a topic, and a few
// that mention both entities by chance, match it. A share of the items are
// reprints of another feed's item, lightly edited, for the fold stage.

const (
	pbHosts       = 8     // loopback addresses 127.0.0.2 … 127.0.0.9
	pbTopics      = 200   // watchlist size
	pbEntities    = 600   // named entities; topics use the first 2×pbTopics
	pbFiller      = 3000  // generated content words, besides the function words
	pbUsers       = 100   // approved subscribers
	pbUserTopics  = 3     // topics each subscriber follows
	pbPlantRate   = 0.035 // stories written on a topic
	pbPlantInLead = 0.70  // of those, the share whose topic words are in the teaser
	pbReprintRate = 0.05  // items that are near-copies of another feed's item
	pbEnglishRate = 0.10  // stories in English
)

// pbWorld is the generator; it is read-only once built, so handlers on
// many goroutines share it.
type pbWorld struct {
	feeds, perFeed int
	base           time.Time // items are published in the minutes before it
	hosts          []string  // base URLs, one per loopback address

	ruFunc, enFunc     []string // function words, frequent
	ruFiller, enFiller []string // content words, Zipf-distributed
	entRu, entEn       []string // named entities in both scripts
	topics             []pbTopic
	englishTopics      []int // topics an English story can match
	site               [pbHosts]pbSite
}

// pbTopic is one watchlist entry and what a story must say to match it.
type pbTopic struct {
	name, query string
	plantRu     string // words that make a Russian text match
	plantEn     string // "" when an English text cannot match
}

// pbSite is the boilerplate one host puts around every article.
type pbSite struct {
	name, menu, footer string
}

func newPBWorld(feeds, perFeed int) *pbWorld {
	w := &pbWorld{feeds: feeds, perFeed: perFeed, base: time.Now().Truncate(time.Minute)}
	rnd := rand.New(rand.NewPCG(1, 2))
	w.ruFunc = strings.Fields(`и в на с по что не о к за из от для как это а но его её до при после также уже
		более году было будет может который которые был были она они мы об этом этого того так же все всё только`)
	w.enFunc = strings.Fields(`the of and to in a is for on that with as by at from it was be are has have
		this which its an or were will not said also been more after their would about than into over`)
	ruSyl := pbSyllables("бвгдзклмнпрстфхчш", "аеиоуя")
	enSyl := pbSyllables("bcdfghklmnprstvz", "aeiou")
	ruEnd := []string{"ый", "ая", "ое", "ов", "ами", "ость", "ение", "ать", "ить", "ому", "ах", "ий"}
	enEnd := []string{"ing", "ed", "s", "tion", "er", "ly", "ment", "al", "", "ness"}
	stems := map[string]bool{}
	for _, f := range w.ruFunc {
		stems[analysis.Stem(f)] = true
	}
	for _, f := range w.enFunc {
		stems[analysis.Stem(f)] = true
	}
	word := func(syl []string, ends []string, minSyl, maxSyl int) string {
		var b strings.Builder
		for range minSyl + rnd.IntN(maxSyl-minSyl+1) {
			b.WriteString(syl[rnd.IntN(len(syl))])
		}
		b.WriteString(ends[rnd.IntN(len(ends))])
		return b.String()
	}
	// Content words may share stems (languages do); entities may not, with
	// each other or with any other word, or matching would be noise.
	for len(w.ruFiller) < pbFiller {
		s := word(ruSyl, ruEnd, 1, 3)
		stems[analysis.Stem(s)] = true
		w.ruFiller = append(w.ruFiller, s)
	}
	for len(w.enFiller) < pbFiller {
		s := word(enSyl, enEnd, 1, 3)
		stems[analysis.Stem(s)] = true
		w.enFiller = append(w.enFiller, s)
	}
	ruNameEnd := []string{"ов", "ин", "екс", "ард", "ком", "тех", "газ", "строй", "банк", "лит"}
	enNameEnd := []string{"ov", "in", "ex", "ard", "com", "tech", "gas", "stroy", "bank", "lit"}
	for len(w.entRu) < pbEntities {
		// One name in two scripts: the same syllables transliterated.
		i, j, k, e := rnd.IntN(len(ruSyl)), rnd.IntN(len(ruSyl)), rnd.IntN(len(ruSyl)), rnd.IntN(len(ruNameEnd))
		ru := pbCapital(ruSyl[i] + ruSyl[j] + ruSyl[k] + ruNameEnd[e])
		en := pbCapital(pbTranslit(ruSyl[i]+ruSyl[j]+ruSyl[k]) + enNameEnd[e])
		sr, se := analysis.Stem(ru), analysis.Stem(en)
		if stems[sr] || stems[se] || sr == se {
			continue
		}
		stems[sr], stems[se] = true, true
		w.entRu, w.entEn = append(w.entRu, ru), append(w.entEn, en)
	}
	// Topics: two entities each, written in the forms real watchlists use.
	for t := range pbTopics {
		a, c := 2*t, 2*t+1
		other := 2*pbTopics + t%(pbEntities-2*pbTopics) // an entity no topic requires
		tp := pbTopic{name: fmt.Sprintf("t%03d", t), plantRu: w.entRu[a] + " " + w.entRu[c]}
		switch t % 5 {
		case 0:
			tp.query = fmt.Sprintf("(%s OR %s) (%s OR %s)", w.entRu[a], w.entEn[a], w.entRu[c], w.entEn[c])
			tp.plantEn = w.entEn[a] + " " + w.entEn[c]
		case 1:
			tp.query = fmt.Sprintf("(%s OR %s) (%s OR %s) -%s", w.entRu[a], w.entEn[a], w.entRu[c], w.entEn[c], w.entRu[other])
			tp.plantEn = w.entEn[a] + " " + w.entEn[c]
		case 2:
			tp.query = fmt.Sprintf(`"%s %s"`, w.entRu[a], w.entRu[c])
		case 3:
			tp.query = fmt.Sprintf("%s %s lang:ru", w.entRu[a], w.entRu[c])
		case 4:
			tp.query = fmt.Sprintf("%s (%s OR %s)", w.entRu[a], w.entRu[c], w.entRu[other])
		}
		if tp.plantEn != "" {
			w.englishTopics = append(w.englishTopics, t)
		}
		w.topics = append(w.topics, tp)
	}
	for h := range w.site {
		r := rand.New(rand.NewPCG(uint64(h), 77))
		var menu, footer strings.Builder
		for k := range 24 {
			fmt.Fprintf(&menu, `<li class="menu__item"><a class="menu__link" href="/rubric/%d">%s</a></li>`, k, pbCapital(w.ruFiller[r.IntN(200)]))
		}
		for k := range 30 {
			fmt.Fprintf(&footer, `<li><a href="/about/%d">%s %s</a></li>`, k, pbCapital(w.ruFiller[r.IntN(300)]), w.ruFiller[r.IntN(300)])
		}
		w.site[h] = pbSite{name: "Вестник " + pbCapital(w.ruFiller[r.IntN(len(w.ruFiller))]), menu: menu.String(), footer: footer.String()}
	}
	return w
}

func pbSyllables(consonants, vowels string) []string {
	var out []string
	for _, c := range consonants {
		for _, v := range vowels {
			out = append(out, string(c)+string(v))
		}
	}
	return out
}

var pbLatin = map[rune]string{'б': "b", 'в': "v", 'г': "g", 'д': "d", 'з': "z", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'ф': "f", 'х': "kh", 'ч': "ch", 'ш': "sh",
	'а': "a", 'е': "e", 'и': "i", 'о': "o", 'у': "u", 'я': "ya"}

func pbTranslit(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(pbLatin[r])
	}
	return b.String()
}

func pbCapital(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if u := unicode.ToUpper(r); u != r {
		return string(u) + s[n:]
	}
	return s
}

// host is the host index of feed f: feeds and their pages are spread
// evenly over the hosts.
func (w *pbWorld) host(f int) int { return f % pbHosts }

func (w *pbWorld) feedURL(f int) string { return fmt.Sprintf("%s/feed/%d", w.hosts[w.host(f)], f) }

func (w *pbWorld) pageURL(f, i int) string {
	return fmt.Sprintf("%s/news/%d/%d?utm_source=rss", w.hosts[w.host(f)], f, i)
}

func (w *pbWorld) rng(f, i int, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(f)<<20|uint64(i), salt))
}

// reprint reports whether item (f, i) is a near-copy of another's.
func (w *pbWorld) reprint(f, i int) bool {
	return w.feeds > 1 && w.rng(f, i, 11).Float64() < pbReprintRate
}

// original is the item (f, i) reprints, or (f, i) itself. Reprints copy
// only items that are no reprints themselves, from another feed.
func (w *pbWorld) original(f, i int) (int, int, bool) {
	if !w.reprint(f, i) {
		return f, i, false
	}
	r := w.rng(f, i, 12)
	for {
		f2 := (f + 1 + r.IntN(w.feeds-1)) % w.feeds
		i2 := r.IntN(w.perFeed)
		if !w.reprint(f2, i2) {
			return f2, i2, true
		}
	}
}

// pbStory is one piece of news as its publisher wrote it.
type pbStory struct {
	lang    string
	title   string
	lead    []string // the first paragraph's sentences
	teaserN int      // how many of them the feed carries
	paras   []string // the rest of the body; only for the page
	related []string // headlines of other stories, for the page's sidebar
	planted int      // topic it was written on, -1 for none
	inLead  bool     // the topic's words are in the teaser
}

// story is the text of item (f, i): its own, or a lightly edited copy of
// the item it reprints. Without page only the title and the teaser are
// written, which is all a feed needs.
func (w *pbWorld) story(f, i int, page bool) pbStory {
	of, oi, reprint := w.original(f, i)
	s := w.write(of, oi, page)
	if reprint {
		r := w.rng(f, i, 13)
		// An edited headline, one word changed in the first sentence, the
		// last paragraph cut: a reprint as the fold stage meets them.
		words := strings.Fields(s.title)
		words[len(words)-1] = w.filler(r, s.lang)
		s.title = strings.Join(words, " ")
		words = strings.Fields(s.lead[0])
		if k := 1 + r.IntN(len(words)-1); k < len(words)-1 {
			words[k] = w.filler(r, s.lang)
		}
		s.lead[0] = strings.Join(words, " ")
		if len(s.paras) > 3 {
			s.paras = s.paras[:len(s.paras)-1]
		}
	}
	return s
}

// pbZipf maps 16 random bits to a rank under a Zipf(1) law over pbFiller
// words: rank ≈ N^u, tabulated, since math.Pow per word would make the
// generator cost as much as parsing what it generates.
var pbZipf = func() (t [1 << 16]uint16) {
	for k := range t {
		t[k] = uint16(min(pbFiller-1, int(math.Pow(pbFiller, (float64(k)+0.5)/(1<<16)))-1))
	}
	return t
}()

func (w *pbWorld) filler(r *rand.Rand, lang string) string {
	// Zipf over the content words; a third of the words are function words.
	fn, fill := w.ruFunc, w.ruFiller
	if lang == "en" {
		fn, fill = w.enFunc, w.enFiller
	}
	x := r.Uint64()
	if x%3 == 0 {
		return fn[(x>>8)%uint64(len(fn))]
	}
	return fill[pbZipf[x>>48]]
}

func (w *pbWorld) entity(r *rand.Rand, lang string) string {
	k := r.IntN(pbEntities)
	if lang == "en" {
		return w.entEn[k]
	}
	return w.entRu[k]
}

// pbTeaserRunes is about how long a teaser is: sentences are taken until
// it is this long, which keeps it well under TeaserChars.
const pbTeaserRunes = 300

// write generates story (f, i) from its own seeds: one for the title and
// the lead, one for the rest of the page, so a feed costs only its items'
// teasers.
func (w *pbWorld) write(f, i int, page bool) pbStory {
	r := w.rng(f, i, 17)
	s := pbStory{lang: "ru", planted: -1}
	if r.Float64() < pbEnglishRate {
		s.lang = "en"
	}
	plant := ""
	if r.Float64() < pbPlantRate {
		if s.lang == "en" {
			s.planted = w.englishTopics[r.IntN(len(w.englishTopics))]
			plant = w.topics[s.planted].plantEn
		} else {
			s.planted = r.IntN(len(w.topics))
			plant = w.topics[s.planted].plantRu
		}
		s.inLead = r.Float64() < pbPlantInLead
	}
	var sb strings.Builder
	sentence := func(r *rand.Rand, words int, extra string) string {
		sb.Reset()
		sb.Grow(words * 16)
		at := -1
		if extra != "" {
			at = r.IntN(words + 1)
		}
		for k := range words + 1 {
			word := ""
			switch {
			case k == at:
				word = extra
			case k == words:
				continue
			default:
				word = w.filler(r, s.lang)
			}
			if sb.Len() == 0 {
				word = pbCapital(word)
			} else {
				sb.WriteByte(' ')
			}
			sb.WriteString(word)
		}
		sb.WriteByte('.')
		return sb.String()
	}
	mention := []string{w.entity(r, s.lang), w.entity(r, s.lang)}
	if plant != "" && s.inLead {
		mention[0] = plant // in the first sentence: always part of the teaser
	}
	s.title = sentence(r, 5+r.IntN(4), mention[1])
	s.title = s.title[:len(s.title)-1]
	leadN := 4 + r.IntN(2)
	runes := 0
	for k := range leadN {
		extra := ""
		if k < len(mention) {
			extra = mention[k]
		}
		if runes >= pbTeaserRunes && !page {
			break
		}
		sent := sentence(r, 8+r.IntN(9), extra)
		s.lead = append(s.lead, sent)
		if runes < pbTeaserRunes {
			runes += utf8.RuneCountInString(sent) + 1
			s.teaserN++
		}
	}
	if !page {
		return s
	}
	r = w.rng(f, i, 19)
	n := 10 + r.IntN(8)
	plantAt := 1 + r.IntN(n-1)
	for k := 1; k < n; k++ {
		var sents []string
		for j := range 3 + r.IntN(3) {
			extra := ""
			if j == 0 && k%4 == 0 {
				extra = w.entity(r, s.lang) // a few more entities in the body
			}
			if j == 1 && plant != "" && !s.inLead && k == plantAt {
				extra = plant
			}
			sents = append(sents, sentence(r, 8+r.IntN(9), extra))
		}
		s.paras = append(s.paras, strings.Join(sents, " "))
	}
	for range 10 {
		s.related = append(s.related, sentence(r, 6+r.IntN(4), ""))
	}
	return s
}

// teaser is what the feed carries: the lead's first sentences, well under
// TeaserChars.
func (s *pbStory) teaser() string { return strings.Join(s.lead[:s.teaserN], " ") }

// body is the story's paragraphs, the lead first.
func (s *pbStory) body() []string { return append([]string{strings.Join(s.lead, " ")}, s.paras...) }

func (w *pbWorld) published(f, i int) time.Time {
	return w.base.Add(-time.Duration(i*7+f%7) * time.Minute)
}

// writeFeed writes feed f as RSS 2.0.
func (w *pbWorld) writeFeed(out *bufio.Writer, f int) {
	site := w.site[w.host(f)]
	fmt.Fprintf(out, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>%s — лента %d</title><link>%s/</link><description>Новости</description>`,
		site.name, f, w.hosts[w.host(f)])
	for i := range w.perFeed {
		s := w.story(f, i, false)
		link := w.pageURL(f, i)
		fmt.Fprintf(out, "\n<item><title>%s</title><link>%s</link><guid isPermaLink=\"false\">%d-%d</guid><description><![CDATA[%s]]></description><pubDate>%s</pubDate></item>",
			s.title, link, f, i, s.teaser(), w.published(f, i).Format(time.RFC1123Z))
	}
	out.WriteString("</channel></rss>\n")
}

// writePage writes the article page of item (f, i): the story in a news
// site's usual clothes (menus, cookie banner, share buttons, a figure,
// "read also", tags, related headlines, comments, footer, scripts), 15–30
// KB in all, of which the story is a third to a half.
func (w *pbWorld) writePage(out *bufio.Writer, f, i int) {
	s := w.story(f, i, true)
	site := w.site[w.host(f)]
	pub := w.published(f, i).Format(time.RFC3339)
	fmt.Fprintf(out, `<!DOCTYPE html><html lang="%s"><head><meta charset="utf-8"><title>%s — %s</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="description" content="%s">
<meta property="og:title" content="%s"><meta property="og:type" content="article"><meta property="article:published_time" content="%s">
<link rel="stylesheet" href="/static/main.css"><link rel="canonical" href="%s">
<style>%s</style>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"%s","datePublished":"%s","author":{"@type":"Person","name":"Редакция"},"publisher":{"@type":"Organization","name":"%s"}}</script>
<script>%s</script></head><body class="page page--article">
<header class="site-header"><div class="logo"><a href="/">%s</a></div><nav class="menu"><ul class="menu__list">%s</ul></nav>
<form class="search" action="/search"><input type="search" name="q" placeholder="Поиск по сайту"><button type="submit">Найти</button></form></header>
<div class="cookie-banner" id="cookies">Мы используем файлы cookie, чтобы сайт работал лучше. Продолжая пользоваться сайтом, вы соглашаетесь с этим. <button class="cookie-banner__ok">Принять</button></div>
<main class="layout"><div class="breadcrumbs"><a href="/">Главная</a> / <a href="/rubric/%d">Новости</a></div>
<article class="article"><h1 class="article__title">%s</h1><div class="article__meta"><time datetime="%s">%s</time> <span class="author">Редакция</span></div>
<div class="share"><a href="#vk">ВКонтакте</a><a href="#tg">Telegram</a><a href="#ok">Одноклассники</a><a href="#copy">Скопировать ссылку</a></div>
<div class="article__body">`,
		s.lang, s.title, site.name, s.teaser(), s.title, pub, w.pageURL(f, i), pbCSS, s.title, pub, site.name, pbJS,
		site.name, site.menu, f%24, s.title, pub, pub[:10])
	for k, p := range s.body() {
		fmt.Fprintf(out, "<p>%s</p>\n", p)
		switch k {
		case 1:
			fmt.Fprintf(out, `<figure class="article__figure"><img src="/img/%d/%d.jpg" alt="" width="800" height="450"><figcaption>Фото: пресс-служба</figcaption></figure>`+"\n", f, i)
		case 3:
			fmt.Fprintf(out, `<div class="read-also"><span>Читайте также:</span> <a href="/news/%d/%d">%s</a></div>`+"\n", f, (i+1)%w.perFeed, s.related[0])
		}
	}
	out.WriteString(`</div><div class="tags">`)
	for k := range 5 {
		fmt.Fprintf(out, `<a class="tag" href="/tag/%d">%s</a>`, k, w.ruFiller[(f+i+k*37)%200])
	}
	out.WriteString(`</div><div class="subscribe">Подпишитесь на наш канал, чтобы не пропустить главное. <a href="#tg">Подписаться</a></div></article>
<aside class="sidebar"><h2>Главное за день</h2><ul class="related">`)
	for k, h := range s.related {
		fmt.Fprintf(out, `<li class="related__item"><a href="/news/%d/%d"><span class="related__time">%02d:%02d</span> %s</a></li>`, (f+k+1)%w.feeds, k, 9+k, (k*7)%60, h)
	}
	out.WriteString(`</ul><div class="banner"><a href="/ads/1"><img src="/ads/1.png" alt="Реклама"></a></div></aside>
<section class="comments"><h3>Комментарии</h3>`)
	for k := range 3 {
		fmt.Fprintf(out, `<div class="comment"><b>Читатель %d</b><p>%s</p></div>`, k+1, s.related[len(s.related)-1-k])
	}
	fmt.Fprintf(out, `</section></main>
<footer class="site-footer"><ul class="footer__links">%s</ul><p>© 2003–2025 %s. Все права защищены. Использование материалов разрешено только с указанием источника. 18+</p></footer>
<script>%s</script></body></html>
`, site.footer, site.name, pbJS)
}

const pbCSS = `body{margin:0;font-family:Georgia,serif;color:#222;background:#fff}.site-header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;border-bottom:1px solid #e5e5e5}.logo a{font-size:28px;font-weight:700;color:#b00;text-decoration:none}.menu__list{display:flex;flex-wrap:wrap;list-style:none;margin:0;padding:0}.menu__item{margin-right:16px}.menu__link{color:#333;text-decoration:none;font-size:14px;text-transform:uppercase}.cookie-banner{position:fixed;bottom:0;left:0;right:0;padding:16px;background:#333;color:#fff;font-size:13px}.layout{display:grid;grid-template-columns:1fr 320px;gap:32px;max-width:1200px;margin:0 auto;padding:24px}.article__title{font-size:36px;line-height:1.2;margin:0 0 12px}.article__meta{color:#888;font-size:13px;margin-bottom:16px}.article__body p{font-size:18px;line-height:1.6;margin:0 0 18px}.article__figure img{max-width:100%;height:auto}.read-also{border-left:3px solid #b00;padding-left:12px;margin:18px 0}.tags .tag{display:inline-block;margin:0 8px 8px 0;padding:4px 10px;background:#f2f2f2;border-radius:12px;font-size:13px}.sidebar h2{font-size:20px}.related{list-style:none;padding:0}.related__item{padding:8px 0;border-bottom:1px solid #eee}.related__time{color:#b00;margin-right:6px}.comments{grid-column:1/2}.site-footer{padding:24px;background:#f7f7f7;font-size:13px}.footer__links{columns:4;list-style:none}@media (max-width:800px){.layout{grid-template-columns:1fr}.sidebar{display:none}}`

const pbJS = `(function(w,d){w.dataLayer=w.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());gtag('config','G-XXXXXXX');var s=d.createElement('script');s.async=true;s.src='https://counter.example/tag.js?id=123456';d.head.appendChild(s);d.addEventListener('DOMContentLoaded',function(){var b=d.querySelector('.cookie-banner__ok');if(b){b.addEventListener('click',function(){d.getElementById('cookies').style.display='none';try{localStorage.setItem('cookies','1')}catch(e){}})}var links=d.querySelectorAll('.share a');for(var i=0;i<links.length;i++){links[i].addEventListener('click',function(e){e.preventDefault();w.open(this.href,'share','width=600,height=400')})}});w.addEventListener('scroll',function(){var h=d.querySelector('.site-header');if(!h)return;if(w.scrollY>80){h.classList.add('site-header--fixed')}else{h.classList.remove('site-header--fixed')}},{passive:true})})(window,document);`

// serve starts the world's eight hosts. Pages answer after latency,
// as a remote site would; feeds answer at once, as in the bare baseline.
func (w *pbWorld) serve(b testing.TB, latency time.Duration) {
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		num := func(k int) int {
			if k >= len(parts) {
				return -1
			}
			n, err := strconv.Atoi(parts[k])
			if err != nil {
				return -1
			}
			return n
		}
		switch {
		case len(parts) == 2 && parts[0] == "feed" && num(1) >= 0 && num(1) < w.feeds:
			etag := `"f` + parts[1] + `"`
			if r.Header.Get("If-None-Match") == etag {
				rw.WriteHeader(http.StatusNotModified)
				return
			}
			rw.Header().Set("ETag", etag)
			rw.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
			out := bufio.NewWriterSize(rw, 32<<10)
			w.writeFeed(out, num(1))
			out.Flush()
		case len(parts) == 3 && parts[0] == "news" && num(1) >= 0 && num(1) < w.feeds && num(2) >= 0 && num(2) < w.perFeed:
			if latency > 0 {
				t := time.NewTimer(latency)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
			out := bufio.NewWriterSize(rw, 32<<10)
			w.writePage(out, num(1), num(2))
			out.Flush()
		default:
			http.NotFound(rw, r)
		}
	})
	w.hosts = make([]string, pbHosts)
	for h := range pbHosts {
		ip := fmt.Sprintf("127.0.0.%d", h+2)
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			b.Fatalf("listen on %s (Linux routes 127/8 to loopback; elsewhere add the aliases): %v", ip, err)
		}
		srv := httptest.NewUnstartedServer(handler)
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		b.Cleanup(srv.Close)
		w.hosts[h] = srv.URL
	}
}

// TestBenchWorld keeps BenchmarkPipeline's world what its doc says: teasers
// well under TeaserChars and a prefix of their page, pages of 15–30 KB,
// 2–5 % of the stories matching some topic, reprints folding.
func TestBenchWorld(t *testing.T) {
	w := newPBWorld(200, 50)
	w.hosts = make([]string, pbHosts)
	for h := range w.hosts {
		w.hosts[h] = fmt.Sprintf("http://127.0.0.%d:8080", h+2)
	}
	var names []string
	var qs []*query.Query
	for _, tp := range w.topics {
		q, err := query.Parse(tp.query)
		if err != nil {
			t.Fatalf("topic %s: %q: %v", tp.name, tp.query, err)
		}
		names, qs = append(names, tp.name), append(qs, q)
	}
	topics := query.NewSet(names, qs)
	var n, onTeaser, onPage, reprints int
	for f := 0; f < w.feeds; f += 4 {
		for i := range w.perFeed {
			feedOnly, s := w.story(f, i, false), w.story(f, i, true)
			if feedOnly.title != s.title || feedOnly.teaser() != s.teaser() {
				t.Fatalf("item %d/%d: the feed's teaser is not the page's", f, i)
			}
			if !strings.HasPrefix(s.body()[0], s.teaser()) {
				t.Fatalf("item %d/%d: teaser is not the lead's start", f, i)
			}
			if c := utf8.RuneCountInString(s.teaser()); c >= TeaserChars*9/10 {
				t.Fatalf("item %d/%d: teaser of %d characters", f, i, c)
			}
			n++
			if len(topics.Match(analysis.Analyze(s.title, s.teaser(), "x"))) > 0 {
				onTeaser++
			}
			if len(topics.Match(analysis.Analyze(s.title, strings.Join(s.body(), "\n\n"), "x"))) > 0 {
				onPage++
			}
			if w.reprint(f, i) {
				reprints++
			}
		}
	}
	teaserRate, pageRate := float64(onTeaser)/float64(n), float64(onPage)/float64(n)
	t.Logf("%d stories: %.1f %% match on the teaser, %.1f %% on the page, %d reprints", n, 100*teaserRate, 100*pageRate, reprints)
	if teaserRate < 0.015 || pageRate > 0.06 || pageRate <= teaserRate {
		t.Errorf("match rates %.1f %% (teaser), %.1f %% (page): want about 2–5 %%", 100*teaserRate, 100*pageRate)
	}
	if reprints < n*3/100 || reprints > n*7/100 {
		t.Errorf("%d reprints of %d items, want about 5 %%", reprints, n)
	}
	lo, hi := 1<<30, 0
	for k := range 200 {
		var buf strings.Builder
		out := bufio.NewWriter(&buf)
		w.writePage(out, k*13%w.feeds, k%w.perFeed)
		out.Flush()
		lo, hi = min(lo, buf.Len()), max(hi, buf.Len())
	}
	t.Logf("pages of %d–%d bytes", lo, hi)
	if lo < 15_000 || hi > 30_000 {
		t.Errorf("pages of %d–%d bytes, want 15–30 KB", lo, hi)
	}
}
