// Package newsgen generates an archive of realistic Russian and English
// news articles, deterministically, for benchmarks of search and of the bot
// over an archive the size of a year of watching (100,000 articles).
//
// # What the text is made of
//
// Every word is drawn from a vocabulary of several thousand distinct words
// per language (about 5,900 Russian, 7,200 English), with Zipf frequencies:
// the word of rank r has weight 1/(r+2.7)^1.1. The offset 2.7 (Zipf–
// Mandelbrot) only flattens the first ten ranks, so that «и» and "the" are
// about 3 % of the words, near what they are in real text, rather than
// 10 %; from rank 10 on it is Zipf's law with s = 1.1. The vocabulary is built at New from the
// files of internal/testdata: the corpus gold texts (corpus/pages.json: 4
// Russian, about 170 English article bodies), the real Russian news feeds
// of corpus/feeds and the two seed articles, ranked by how many of those
// documents use a word and then by its count, each word in its most
// frequent written form ("China", «Китае»). Russian words come in the
// inflected forms the texts have: «Китай», «Китая», «Китае» are three words
// of the vocabulary, as in real text, and share one stem in the index.
//
// On top of that, each article is about one subject, sometimes two (banks,
// the economy, politics, AI, China, sanctions, energy, markets, sport …),
// from lexicon.txt, a hand-written news lexicon in the register of the seed
// articles: about a quarter of an article's words and most of its title
// come from its subjects' words (Zipf within the subject), and it uses the
// subjects' collocations and names as units («ключевую ставку», «Эльвира
// Набиуллина», "artificial intelligence", "Xi Jinping"), so words co-occur
// as in news and phrase queries find something. A share of the words are
// the wire register every article has (сообщил, по данным, said, according
// to), and numbers, dates, quotes with attribution.
//
// # The archive
//
// Article i (from 0) has a title of 6–12 words and a text of 150–600 words
// in sentences and paragraphs (about 320 on average, 3 KB), a site from
// about 40 real news domains (.ru and .com; habr.com and championat.com are
// Russian), a language (60 % Russian, 40 % English: Russian outlets write in
// Russian, English ones in English) and a time: articles 0 … Count−1 are
// spread evenly over the 365 days before Now, in order, as ids follow
// fetch times in a real store (articles past Count continue at the same
// pace after Now). About 20 % are reprints: the same story as an article a
// little earlier, on another site of the same language, minutes to two
// days later, lightly edited (a word of the title changed or dropped, a
// paragraph cut, a sentence added). Article.Story is the index of the
// original; an original is its own story.
//
// Article(i) depends only on the seed and i, so articles can be generated
// in any order, on many goroutines at once; archives of different Count
// hold the same articles, only spread over the year differently.
package newsgen

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

//go:embed lexicon.txt
var lexiconText string

// Article is one generated article.
type Article struct {
	Index   int    // i, as passed to Article
	Story   int    // the index of the story's original: Index unless Reprint
	Reprint bool   // a lightly edited copy of article Story, on another site
	Lang    string // "ru" or "en"
	Title   string
	Text    string // paragraphs separated by blank lines
	URL     string // https://host/section/…/id, unique per article
	Host    string // the URL's host, such as www.rbc.ru
	Source  string // the outlet's name, such as РБК
	Time    time.Time
	// Topics are the subjects the article is written on (lexicon.txt
	// section names such as "banks" or "china"), main one first.
	Topics []string
}

// Site is an outlet the articles come from.
type Site struct {
	Host string // as in URLs: www.rbc.ru, ria.ru
	Name string
	Lang string
}

// Domain is the site's host without "www.": what site: filters name.
func (s Site) Domain() string { return strings.TrimPrefix(s.Host, "www.") }

// sites are real outlets, most read first within each language: the
// first ones publish more (Zipf over the list).
var sites = []Site{
	{"ria.ru", "РИА Новости", "ru"}, {"tass.ru", "ТАСС", "ru"}, {"www.interfax.ru", "Интерфакс", "ru"},
	{"www.rbc.ru", "РБК", "ru"}, {"www.kommersant.ru", "Коммерсантъ", "ru"}, {"www.vedomosti.ru", "Ведомости", "ru"},
	{"iz.ru", "Известия", "ru"}, {"lenta.ru", "Лента.ру", "ru"}, {"www.gazeta.ru", "Газета.Ru", "ru"},
	{"rg.ru", "Российская газета", "ru"}, {"www.banki.ru", "Банки.ру", "ru"}, {"www.forbes.ru", "Forbes", "ru"},
	{"www.fontanka.ru", "Фонтанка", "ru"}, {"www.mk.ru", "МК", "ru"}, {"www.kp.ru", "Комсомольская правда", "ru"},
	{"aif.ru", "АиФ", "ru"}, {"vc.ru", "vc.ru", "ru"}, {"habr.com", "Хабр", "ru"}, {"www.cnews.ru", "CNews", "ru"},
	{"www.tadviser.ru", "TAdviser", "ru"}, {"3dnews.ru", "3DNews", "ru"}, {"www.sports.ru", "Sports.ru", "ru"},
	{"www.championat.com", "Чемпионат", "ru"}, {"www.bfm.ru", "BFM.ru", "ru"}, {"www.finam.ru", "Финам", "ru"},
	{"frankmedia.ru", "Frank Media", "ru"},
	{"www.reuters.com", "Reuters", "en"}, {"www.bloomberg.com", "Bloomberg", "en"}, {"www.cnbc.com", "CNBC", "en"},
	{"www.ft.com", "Financial Times", "en"}, {"www.finextra.com", "Finextra", "en"}, {"www.theguardian.com", "The Guardian", "en"},
	{"www.bbc.com", "BBC", "en"}, {"apnews.com", "AP", "en"}, {"www.wsj.com", "The Wall Street Journal", "en"},
	{"www.nytimes.com", "The New York Times", "en"}, {"www.forbes.com", "Forbes", "en"}, {"techcrunch.com", "TechCrunch", "en"},
	{"www.theverge.com", "The Verge", "en"}, {"www.scmp.com", "South China Morning Post", "en"},
	{"www.themoscowtimes.com", "The Moscow Times", "en"}, {"www.intellinews.com", "bne IntelliNews", "en"},
	{"www.aljazeera.com", "Al Jazeera", "en"}, {"www.businessinsider.com", "Business Insider", "en"},
}

// Sites are the outlets articles come from.
func Sites() []Site { return slices.Clone(sites) }

// Options configure New.
type Options struct {
	Seed uint64
	// Dir is internal/testdata: the corpus and seeds the vocabulary is
	// built from (corpus/pages.json, corpus/feeds/ru-*.xml, seeds/*.txt).
	Dir string
	// Now ends the year the first Count articles are spread over (zero:
	// time.Now()).
	Now time.Time
	// Count is the size of the archive (0: 100,000).
	Count int
}

// Gen generates articles. It is read-only once built: Article may be
// called from many goroutines at once.
type Gen struct {
	seed  uint64
	now   time.Time
	count int
	step  time.Duration // between consecutive articles
	lang  map[string]*language
	subj  []string // subject names, lexicon order
	pick  alias    // main subject, by weight
	sites map[string][]Site
	sitep map[string]alias
}

// language is one language's vocabulary.
type language struct {
	words  []string // ranked, most frequent first
	zipf   alias
	core   *subject
	subj   []*subject // as Gen.subj
	months []string   // for dates
}

// subject is one lexicon section in one language.
type subject struct {
	name    string
	words   []string
	zipf    alias
	phrases []string
}

// Zipf parameters of the global vocabulary (see the package doc) and of
// a subject's words, which are flatter: a subject's first word is about
// a tenth of the subject's words, not a quarter.
const (
	zipfS      = 1.1
	zipfOffset = 2.7
	subjectS   = 0.9
	subjectOff = 1.0

	reprintRate = 0.20
	ruRate      = 0.60
	secondRate  = 0.35 // articles with a second subject
)

// Shares of an article's words by where they come from; the rest (about
// two thirds) are from the global vocabulary. Each article has a few
// focus words of its main subject that it keeps coming back to, as an
// article about VTB says «ВТБ» again and again.
const (
	shareFocus  = 0.045
	shareMain   = 0.10
	shareSecond = 0.05
	shareCore   = 0.08
	sharePhrase = 0.035 // a collocation of a subject or of the core
	shareNumber = 0.02
	focusWords  = 4
)

// New builds the vocabularies. It reads the corpus once.
func New(o Options) (*Gen, error) {
	if o.Dir == "" {
		return nil, errors.New("newsgen: no testdata directory")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Count <= 0 {
		o.Count = 100_000
	}
	g := &Gen{seed: o.Seed, now: o.Now.UTC().Truncate(time.Second), count: o.Count,
		lang: map[string]*language{}, sites: map[string][]Site{}, sitep: map[string]alias{}}
	g.step = 365 * 24 * time.Hour / time.Duration(o.Count)
	lex, err := parseLexicon(lexiconText)
	if err != nil {
		return nil, err
	}
	docs, err := readCorpus(o.Dir)
	if err != nil {
		return nil, err
	}
	var weights []float64
	for _, s := range lex {
		if s.name == "core" {
			continue
		}
		g.subj = append(g.subj, s.name)
		weights = append(weights, s.weight)
	}
	g.pick = newAlias(weights)
	for _, l := range []string{"ru", "en"} {
		lg := &language{months: months[l]}
		lg.words = rank(docs[l], lex, l)
		w := make([]float64, len(lg.words))
		for r := range w {
			w[r] = 1 / math.Pow(float64(r+1)+zipfOffset, zipfS)
		}
		lg.zipf = newAlias(w)
		for _, s := range lex {
			sub := &subject{name: s.name, words: s.words[l], phrases: s.phrases[l]}
			if len(sub.words) == 0 {
				return nil, fmt.Errorf("newsgen: lexicon subject %s has no %s words", s.name, l)
			}
			sw := make([]float64, len(sub.words))
			for r := range sw {
				sw[r] = 1 / math.Pow(float64(r+1)+subjectOff, subjectS)
			}
			sub.zipf = newAlias(sw)
			if s.name == "core" {
				lg.core = sub
			} else {
				lg.subj = append(lg.subj, sub)
			}
		}
		g.lang[l] = lg
	}
	for _, s := range sites {
		g.sites[s.Lang] = append(g.sites[s.Lang], s)
	}
	for l, ss := range g.sites {
		w := make([]float64, len(ss))
		for r := range w {
			w[r] = 1 / math.Pow(float64(r+1), 0.8)
		}
		g.sitep[l] = newAlias(w)
	}
	return g, nil
}

// Now is the end of the archive's year.
func (g *Gen) Now() time.Time { return g.now }

// Count is the archive's size.
func (g *Gen) Count() int { return g.count }

// Words is the vocabulary of lang ("ru" or "en"), most frequent first.
func (g *Gen) Words(lang string) []string {
	if l := g.lang[lang]; l != nil {
		return slices.Clone(l.words)
	}
	return nil
}

// Subjects are the subjects articles are written on.
func (g *Gen) Subjects() []string { return slices.Clone(g.subj) }

// SubjectWords are a subject's words in lang, most used first.
func (g *Gen) SubjectWords(subject, lang string) []string {
	if s := g.subject(subject, lang); s != nil {
		return slices.Clone(s.words)
	}
	return nil
}

// Phrases are a subject's collocations and names in lang.
func (g *Gen) Phrases(subject, lang string) []string {
	if s := g.subject(subject, lang); s != nil {
		return slices.Clone(s.phrases)
	}
	return nil
}

func (g *Gen) subject(name, lang string) *subject {
	l := g.lang[lang]
	if l == nil {
		return nil
	}
	if name == "core" {
		return l.core
	}
	for _, s := range l.subj {
		if s.name == name {
			return s
		}
	}
	return nil
}

// hash is a splitmix64 of the seed, i and a salt: the decisions about an
// article that other articles need (is it a reprint) without generating
// it.
func (g *Gen) hash(i int, salt uint64) uint64 {
	z := g.seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15 ^ salt*0xd6e8feb86659fd93
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (g *Gen) unit(i int, salt uint64) float64 { return float64(g.hash(i, salt)>>11) / (1 << 53) }

func (g *Gen) rng(i int, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.hash(i, salt), g.hash(i, salt+1)))
}

func (g *Gen) isReprint(i int) bool { return i > 0 && g.unit(i, 1) < reprintRate }

// original is the article a reprint copies: one of the few hundred before
// it that is not a reprint itself.
func (g *Gen) original(i int) int {
	if !g.isReprint(i) {
		return i
	}
	j := i - 1 - int(g.hash(i, 2)%uint64(min(i, 300)))
	for j > 0 && g.isReprint(j) {
		j--
	}
	return j
}

// base is when article i appeared, if it is not a reprint.
func (g *Gen) base(i int) time.Time {
	start := g.now.Add(-365 * 24 * time.Hour)
	off := time.Duration((float64(i) + g.unit(i, 3)) * float64(g.step))
	return start.Add(off).Truncate(time.Second)
}

// Article generates article i (i ≥ 0).
func (g *Gen) Article(i int) Article {
	if i < 0 {
		panic("newsgen: negative article index")
	}
	j := g.original(i)
	a := g.write(j)
	if j == i {
		return a
	}
	r := g.rng(i, 23)
	a.Index, a.Story, a.Reprint = i, j, true
	l := g.lang[a.Lang]
	// Another outlet of the same language.
	ss := g.sites[a.Lang]
	k := slices.IndexFunc(ss, func(s Site) bool { return s.Host == a.Host })
	if n := g.sitep[a.Lang].draw(r); n != k {
		k = n
	} else {
		k = (k + 1 + r.IntN(len(ss)-1)) % len(ss)
	}
	// Minutes to two days after the original, log-uniform.
	delay := time.Duration(math.Exp(math.Log(float64(10*time.Minute)) + r.Float64()*math.Log(float64(48*time.Hour)/float64(10*time.Minute))))
	a.Time = a.Time.Add(delay).Truncate(time.Second)
	a.Host, a.Source = ss[k].Host, ss[k].Name
	a.URL = g.url(a, i)
	a.Title = g.editTitle(r, l, a.Title, a.Topics)
	a.Text = g.editText(r, l, a.Text, a.Topics)
	return a
}

func (g *Gen) url(a Article, i int) string {
	return fmt.Sprintf("https://%s/%s/%s/%d", a.Host, a.Topics[0], a.Time.Format("2006/01/02"), 100000000+i)
}

// write generates original article j.
func (g *Gen) write(j int) Article {
	r := g.rng(j, 17)
	a := Article{Index: j, Story: j, Lang: "en"}
	if r.Float64() < ruRate {
		a.Lang = "ru"
	}
	l := g.lang[a.Lang]
	main := g.pick.draw(r)
	a.Topics = []string{g.subj[main]}
	second := -1
	if r.Float64() < secondRate {
		for second < 0 || second == main {
			second = g.pick.draw(r)
		}
		a.Topics = append(a.Topics, g.subj[second])
	}
	s := g.sites[a.Lang][g.sitep[a.Lang].draw(r)]
	a.Host, a.Source = s.Host, s.Name
	a.Time = g.base(j)
	a.URL = g.url(a, j)
	w := &writer{g: g, l: l, r: r, main: l.subj[main]}
	if second >= 0 {
		w.second = l.subj[second]
	}
	for range focusWords {
		w.focus = append(w.focus, w.main.draw(r))
	}
	a.Title = w.title()
	// 150–600 words, skewed to the short end as news is; the last
	// sentence and a quote's attribution may add a few.
	n := 150 + int(435*math.Pow(r.Float64(), 1.6))
	a.Text = w.text(n, a.Title)
	return a
}

// writer writes one article's sentences.
type writer struct {
	g            *Gen
	l            *language
	r            *rand.Rand
	main, second *subject
	focus        []string // the main subject's words this article dwells on
	b            strings.Builder
}

// word draws one word or unit (a collocation, a number) for the body.
func (w *writer) word() string {
	x := w.r.Float64()
	if x < shareFocus && len(w.focus) > 0 {
		return w.focus[w.r.IntN(len(w.focus))]
	}
	switch x -= shareFocus; {
	case x < shareMain:
		return w.main.draw(w.r)
	case x < shareMain+shareSecond:
		if w.second != nil {
			return w.second.draw(w.r)
		}
		return w.main.draw(w.r)
	case x < shareMain+shareSecond+shareCore:
		return w.l.core.draw(w.r)
	case x < shareMain+shareSecond+shareCore+sharePhrase:
		return w.phrase()
	case x < shareMain+shareSecond+shareCore+sharePhrase+shareNumber:
		return w.number()
	}
	return w.l.words[w.l.zipf.draw(w.r)]
}

func (w *writer) phrase() string {
	s := w.main
	switch x := w.r.Float64(); {
	case x < 0.25:
		s = w.l.core
	case x < 0.45 && w.second != nil:
		s = w.second
	}
	if len(s.phrases) == 0 {
		return s.draw(w.r)
	}
	return s.phrases[w.r.IntN(len(s.phrases))]
}

func (s *subject) draw(r *rand.Rand) string { return s.words[s.zipf.draw(r)] }

var months = map[string][]string{
	"ru": {"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"},
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

// number is a number as news writes them: a share, a sum, a year, a date.
func (w *writer) number() string {
	r := w.r
	ru := w.l == w.g.lang["ru"]
	dec := func(v int) string { // v tenths
		sep := "."
		if ru {
			sep = ","
		}
		if v%10 == 0 {
			return strconv.Itoa(v / 10)
		}
		return strconv.Itoa(v/10) + sep + strconv.Itoa(v%10)
	}
	switch r.IntN(5) {
	case 0:
		return dec(1+r.IntN(400)) + "%"
	case 1:
		return strconv.Itoa(w.g.now.Year() - r.IntN(4))
	case 2:
		if ru {
			return dec(1+r.IntN(999)) + " " + []string{"млрд рублей", "млн рублей", "трлн рублей", "млн долларов", "млрд долларов", "тыс. рублей"}[r.IntN(6)]
		}
		return "$" + dec(1+r.IntN(999)) + " " + []string{"billion", "million", "trillion"}[r.IntN(3)]
	case 3:
		if ru {
			return strconv.Itoa(1+r.IntN(28)) + " " + w.l.months[r.IntN(12)]
		}
		return w.l.months[r.IntN(12)] + " " + strconv.Itoa(1+r.IntN(28))
	}
	return strconv.Itoa(2 + r.IntN(998))
}

// title is 6–12 words, mostly the subjects', sometimes with a colon.
func (w *writer) title() string {
	r := w.r
	n := 6 + r.IntN(7)
	var words []string
	for len(words) < n {
		var u string
		switch x := r.Float64(); {
		case x < 0.42:
			if len(w.focus) > 0 && r.IntN(3) == 0 {
				u = w.focus[r.IntN(len(w.focus))]
			} else {
				u = w.main.draw(r)
			}
		case x < 0.54:
			if w.second != nil {
				u = w.second.draw(r)
			} else {
				u = w.main.draw(r)
			}
		case x < 0.66:
			u = w.phrase()
		case x < 0.72:
			u = w.l.core.draw(r)
		case x < 0.75:
			u = w.number()
		default:
			u = w.l.words[w.l.zipf.draw(r)]
		}
		words = append(words, strings.Fields(u)...)
	}
	words = words[:n]
	if r.IntN(6) == 0 {
		k := 1 + r.IntN(3)
		words[k] += ":"
	}
	return capitalize(strings.Join(words, " "))
}

// text is about n words in sentences of 6–26 words and paragraphs of one
// to four sentences; the lead repeats some of the title's words.
func (w *writer) text(n int, title string) string {
	r := w.r
	var lead []string
	for _, t := range strings.Fields(title) {
		if t = strings.Trim(t, ":«»\""); utf8.RuneCountInString(t) > 3 && r.IntN(2) == 0 {
			lead = append(lead, t)
		}
	}
	b := &w.b
	b.Reset()
	b.Grow(n * 8)
	count, inPara, paraLen := 0, 0, 1+r.IntN(4)
	for count < n {
		if count > 0 {
			if inPara == paraLen {
				b.WriteString("\n\n")
				inPara, paraLen = 0, 1+r.IntN(4)
			} else {
				b.WriteByte(' ')
			}
		}
		m := min(6+r.IntN(11)+r.IntN(11), max(n-count, 4))
		var extra []string
		if count == 0 {
			extra = lead
		}
		count += w.sentence(m, extra, "")
		inPara++
	}
	return b.String()
}

// sentence writes one sentence of about m words with extra among them and
// returns how many words it wrote. Some are quotes with attribution. A
// lead-in, if any, starts the sentence.
func (w *writer) sentence(m int, extra []string, leadIn string) int {
	r := w.r
	ru := w.l == w.g.lang["ru"]
	words := make([]string, 0, m+len(extra)+4)
	for len(words) < m {
		words = append(words, w.word())
	}
	for _, e := range extra {
		k := r.IntN(len(words) + 1)
		words = slices.Insert(words, k, e)
	}
	var s strings.Builder
	for k, u := range words {
		if k > 0 {
			switch x := r.IntN(100); {
			case x < 7 && k > 1:
				s.WriteString(", ")
			case x == 7 && k > 2 && k < len(words)-2:
				s.WriteString(" — ")
			default:
				s.WriteByte(' ')
			}
		}
		s.WriteString(u)
	}
	body := capitalize(s.String())
	if leadIn != "" {
		body = leadIn + " " + s.String()
	}
	n := 0
	for _, u := range words {
		n += 1 + strings.Count(u, " ")
	}
	switch q := r.IntN(100); {
	case leadIn != "":
		w.b.WriteString(body)
		w.b.WriteByte('.')
	case q < 6 && ru:
		who := []string{"представитель компании", "глава ведомства", "источник издания", "собеседник агентства", "аналитик", "пресс-секретарь", "эксперт"}[r.IntN(7)]
		verb := []string{"заявил", "сообщил", "отметил", "подчеркнул", "рассказал", "добавил"}[r.IntN(6)]
		fmt.Fprintf(&w.b, "«%s», — %s %s.", body, verb, who)
		n += 2 + strings.Count(who, " ")
	case q < 6:
		who := []string{"a spokesperson said", "the company said", "an official said", "analysts said", "the ministry said", "a source told Reuters", "he added"}[r.IntN(7)]
		fmt.Fprintf(&w.b, "\"%s,\" %s.", body, who)
		n += 1 + strings.Count(who, " ")
	default:
		w.b.WriteString(body)
		w.b.WriteByte('.')
	}
	return n
}

// editTitle is a reprint's title: a word changed, dropped or two swapped.
func (g *Gen) editTitle(r *rand.Rand, l *language, title string, topics []string) string {
	words := strings.Fields(title)
	if len(words) < 3 {
		return title
	}
	k := 1 + r.IntN(len(words)-1)
	switch r.IntN(4) {
	case 0, 1:
		words[k] = g.subjectWord(r, l, topics)
	case 2:
		if len(words) > 6 {
			words = slices.Delete(words, k, k+1)
		} else {
			words[k] = l.words[l.zipf.draw(r)]
		}
	default:
		if k < len(words)-1 {
			words[k], words[k+1] = words[k+1], words[k]
		} else {
			words[k] = g.subjectWord(r, l, topics)
		}
	}
	return capitalize(strings.Join(words, " "))
}

func (g *Gen) subjectWord(r *rand.Rand, l *language, topics []string) string {
	for _, s := range l.subj {
		if s.name == topics[0] {
			return s.draw(r)
		}
	}
	return l.words[l.zipf.draw(r)]
}

// editText is a reprint's text: one to three words changed, the last
// paragraph cut (of a long text) and sometimes a sentence added at the
// end, as outlets rewrite wire copy.
func (g *Gen) editText(r *rand.Rand, l *language, text string, topics []string) string {
	paras := strings.Split(text, "\n\n")
	if len(paras) > 3 && r.IntN(2) == 0 {
		paras = paras[:len(paras)-1]
	}
	for range 1 + r.IntN(3) {
		p := r.IntN(len(paras))
		words := strings.Split(paras[p], " ")
		if len(words) < 4 {
			continue
		}
		k := 1 + r.IntN(len(words)-2)
		if strings.ContainsAny(words[k], ".,«»\"—:") {
			continue
		}
		words[k] = g.subjectWord(r, l, topics)
		paras[p] = strings.Join(words, " ")
	}
	if r.IntN(3) == 0 {
		w := &writer{g: g, l: l, r: r, main: l.subj[slices.Index(g.subj, topics[0])]}
		lead := []string{"Ранее сообщалось, что", "Напомним, что", "Как писали ранее СМИ,", "По мнению аналитиков,"}
		if l == g.lang["en"] {
			lead = []string{"Earlier,", "As reported earlier,", "Meanwhile,", "Analysts say"}
		}
		w.sentence(8+r.IntN(10), nil, lead[r.IntN(len(lead))])
		paras = append(paras, w.b.String())
	}
	return strings.Join(paras, "\n\n")
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// alias is Vose's alias table: draws an index with the given weights in
// constant time.
type alias struct {
	prob  []float64
	alias []int32
}

func newAlias(w []float64) alias {
	n := len(w)
	a := alias{prob: make([]float64, n), alias: make([]int32, n)}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, v := range w {
		scaled[i] = v * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		a.prob[s], a.alias[s] = scaled[s], int32(l)
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	for _, i := range append(small, large...) {
		a.prob[i], a.alias[i] = 1, int32(i)
	}
	return a
}

func (a alias) draw(r *rand.Rand) int {
	i := r.IntN(len(a.prob))
	if r.Float64() < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}

// lexSubject is one section of lexicon.txt.
type lexSubject struct {
	name    string
	weight  float64
	words   map[string][]string // by language, first occurrence order
	phrases map[string][]string
}

func parseLexicon(text string) ([]*lexSubject, error) {
	var out []*lexSubject
	var cur *lexSubject
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			f := strings.Fields(line[1 : len(line)-1])
			if len(f) != 2 {
				return nil, fmt.Errorf("newsgen: lexicon line %d: want [name weight]", n+1)
			}
			wt, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("newsgen: lexicon line %d: %v", n+1, err)
			}
			cur = &lexSubject{name: f[0], weight: wt, words: map[string][]string{}, phrases: map[string][]string{}}
			out = append(out, cur)
			continue
		}
		key, rest, ok := strings.Cut(line, ":")
		if !ok || cur == nil {
			return nil, fmt.Errorf("newsgen: lexicon line %d: want ru:, en:, ru+: or en+: in a section", n+1)
		}
		switch key {
		case "ru", "en":
			for _, w := range strings.Fields(rest) {
				if !slices.Contains(cur.words[key], w) {
					cur.words[key] = append(cur.words[key], w)
				}
			}
		case "ru+", "en+":
			l := key[:2]
			for _, p := range strings.Split(rest, "|") {
				if p = strings.Join(strings.Fields(p), " "); p != "" && !slices.Contains(cur.phrases[l], p) {
					cur.phrases[l] = append(cur.phrases[l], p)
				}
			}
		default:
			return nil, fmt.Errorf("newsgen: lexicon line %d: unknown key %q", n+1, key)
		}
	}
	if len(out) == 0 || out[0].name != "core" {
		return nil, errors.New("newsgen: the lexicon must start with [core 0]")
	}
	return out, nil
}

// newsFeeds are the real Russian news feeds of the corpus (ibash, chat
// quotes, is not news). gazeta is in windows-1251.
var newsFeeds = []string{"ru-lenta-2015", "ru-gazeta-2015", "ru-habr-2018", "ru-liga-2021", "ru-mosru-2022", "ru-onliner-2021"}

// readCorpus returns the texts of the corpus by language, one string per
// document (an article body, a feed's items, a seed article).
func readCorpus(dir string) (map[string][]string, error) {
	docs := map[string][]string{}
	raw, err := os.ReadFile(filepath.Join(dir, "corpus", "pages.json"))
	if err != nil {
		return nil, fmt.Errorf("newsgen: %w", err)
	}
	var pages []struct {
		Gold string `json:"gold"`
	}
	if err := json.Unmarshal(raw, &pages); err != nil {
		return nil, fmt.Errorf("newsgen: pages.json: %w", err)
	}
	for _, p := range pages {
		if l := docLang(p.Gold); l != "" {
			docs[l] = append(docs[l], p.Gold)
		}
	}
	for _, name := range newsFeeds {
		b, err := os.ReadFile(filepath.Join(dir, "corpus", "feeds", name+".xml"))
		if err != nil {
			return nil, fmt.Errorf("newsgen: %w", err)
		}
		if !utf8.Valid(b) {
			if b, err = charmap.Windows1251.NewDecoder().Bytes(b); err != nil {
				return nil, fmt.Errorf("newsgen: %s: %w", name, err)
			}
		}
		// One document per feed, not per item: a feed's boilerplate
		// («Читать дальше») is in every item.
		if _, items, ok := bytes.Cut(b, []byte("<item")); ok {
			docs["ru"] = append(docs["ru"], html.UnescapeString(html.UnescapeString(string(items))))
		}
	}
	seeds, err := filepath.Glob(filepath.Join(dir, "seeds", "*.txt"))
	if err != nil || len(seeds) == 0 {
		return nil, fmt.Errorf("newsgen: no seed articles in %s", filepath.Join(dir, "seeds"))
	}
	for _, f := range seeds {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("newsgen: %w", err)
		}
		l := "en"
		if strings.HasSuffix(f, ".ru.txt") {
			l = "ru"
		}
		docs[l] = append(docs[l], string(b))
	}
	if len(docs["ru"]) == 0 || len(docs["en"]) == 0 {
		return nil, errors.New("newsgen: the corpus has no Russian or no English text")
	}
	return docs, nil
}

// docLang is "ru" for a text mostly in Cyrillic, "en" for one in English
// (enough of its words are the commonest English ones), else "".
func docLang(s string) string {
	cyr, lat := 0, 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cyrillic, r):
			cyr++
		case unicode.Is(unicode.Latin, r):
			lat++
		}
	}
	if cyr > lat {
		return "ru"
	}
	words, common := 0, 0
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		words++
		switch w {
		case "the", "and", "of", "to", "in", "is", "a", "that", "for", "it", "on", "with", "as", "was":
			common++
		}
	}
	if words > 50 && common*100 >= words*12 {
		return "en"
	}
	return ""
}

// tokens calls fn with every word of s wholly in lang's script: Cyrillic
// letters for Russian, ASCII letters (with inner apostrophes) for English.
// Runs of letters holding digits or letters of another script are
// skipped, and so are single letters other than a few Russian
// prepositions and conjunctions and English "a" and "I".
func tokens(s, lang string, fn func(string)) {
	inScript := func(r rune) bool {
		if lang == "ru" {
			return unicode.Is(unicode.Cyrillic, r)
		}
		return r < utf8.RuneSelf && unicode.IsLetter(r)
	}
	start, bad := -1, false
	s += " "
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if start < 0 {
				start, bad = i, false
			}
			if !inScript(r) {
				bad = true
			}
			continue
		case (r == '\'' || r == '’') && lang == "en" && start >= 0:
			if next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):]); inScript(next) {
				continue // an inner apostrophe: the word goes on
			}
		}
		if start >= 0 && !bad {
			w := strings.ReplaceAll(s[start:i], "’", "'")
			if utf8.RuneCountInString(w) > 1 || strings.Contains("вискуоаяaI", w) {
				fn(w)
			}
		}
		start = -1
	}
}

// rank builds lang's vocabulary: every word of the corpus documents and of
// the lexicon, ranked by the documents that use it, then by its count,
// each in its most frequent written form. Lexicon words count as two more
// documents and uses, which puts the news words the corpus lacks above
// the corpus's hapaxes, and among themselves they rank by their subject's
// weight and their place in it. English words used once are left out: the English
// gold texts are many and varied, their hapaxes mostly names and typos.
func rank(docs []string, lex []*lexSubject, lang string) []string {
	type stat struct {
		df, n int
		forms map[string]int
		lex   string
		score float64 // how often the lexicon would have it
	}
	stats := map[string]*stat{}
	get := func(w string) *stat {
		k := strings.ToLower(w)
		st := stats[k]
		if st == nil {
			st = &stat{forms: map[string]int{}}
			stats[k] = st
		}
		return st
	}
	for _, d := range docs {
		seen := map[*stat]bool{}
		tokens(d, lang, func(w string) {
			st := get(w)
			st.n++
			st.forms[w]++
			if !seen[st] {
				seen[st] = true
				st.df++
			}
		})
	}
	for _, s := range lex {
		weight := s.weight
		if s.name == "core" {
			weight = 15
		}
		for k, w := range s.words[lang] {
			tokens(w, lang, func(t string) {
				st := get(t)
				if st.lex == "" {
					st.df += 2
					st.n += 2
					st.lex = t
				}
				st.score = max(st.score, weight/math.Pow(float64(k+1)+subjectOff, subjectS))
			})
		}
	}
	type entry struct {
		form  string
		df, n int
		score float64
	}
	var out []entry
	for _, st := range stats {
		if lang == "en" && st.n < 2 && st.lex == "" {
			continue
		}
		form := st.lex
		if form == "" {
			best := -1
			for f, c := range st.forms {
				if c > best || c == best && f < form {
					form, best = f, c
				}
			}
		}
		out = append(out, entry{form, st.df, st.n, st.score})
	}
	slices.SortFunc(out, func(a, b entry) int {
		if a.df != b.df {
			return b.df - a.df
		}
		if a.n != b.n {
			return b.n - a.n
		}
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		return strings.Compare(a.form, b.form)
	})
	words := make([]string, len(out))
	for i, e := range out {
		words[i] = e.form
	}
	return words
}
