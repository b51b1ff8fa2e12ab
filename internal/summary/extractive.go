package summary

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/russian"
)

// Length limits shared by LLM and extractive summaries, so an alert looks the
// same whichever produced it.
const (
	maxSummaryRunes  = 800
	extractiveRunes  = 600
	maxKeyPoints     = 3
	maxKeyPointRunes = 200
	defaultSentences = 3

	// Extractive works on the lead of long texts only: the ranking is
	// quadratic in sentences and news puts the point first anyway.
	extractiveInput = 20000
	maxCandidates   = 150
)

// Extractive picks the article's most central sentences without any network:
// a TextRank over word-overlap similarity, biased towards the lead as news
// puts the point first. It cannot translate, so the summary is in the
// article's own language (Summary.Lang says which) whatever SUMMARY_LANGUAGE
// is. The result is cut on sentence boundaries to at most maxSentences
// sentences (3 when ≤ 0) and about 600 characters; key points are the
// next-best short sentences.
func Extractive(a Article, maxSentences int) Summary {
	if maxSentences <= 0 {
		maxSentences = defaultSentences
	}
	out := Summary{Lang: articleLang(a), Extractive: true}
	cands := candidates(a)
	if len(cands) == 0 {
		out.Text = cutRunes(cleanLine(a.Title), extractiveRunes)
		return out
	}
	order := rank(cands)

	var picked []int
	total := 0
	for _, i := range order {
		if len(picked) == maxSentences {
			break
		}
		n := utf8.RuneCountInString(cands[i]) + 1
		if total+n > extractiveRunes+1 {
			continue
		}
		picked = append(picked, i)
		total += n
	}
	if len(picked) == 0 {
		// Even the best sentence is too long: cut it on a word.
		out.Text = cutRunes(cands[order[0]], extractiveRunes)
		picked = []int{order[0]}
	} else {
		sort.Ints(picked)
		parts := make([]string, len(picked))
		for k, i := range picked {
			parts[k] = cands[i]
		}
		out.Text = strings.Join(parts, " ")
	}

	used := map[int]bool{}
	for _, i := range picked {
		used[i] = true
	}
	for _, i := range order {
		if len(out.KeyPoints) == maxKeyPoints {
			break
		}
		if !used[i] && utf8.RuneCountInString(cands[i]) <= maxKeyPointRunes {
			out.KeyPoints = append(out.KeyPoints, cands[i])
		}
	}
	return out
}

// candidates returns the article's sentences worth quoting: finished
// sentences of a few words, each once, not repeating the title. Pages
// captured with their boilerplate repeat headlines and banners; those are
// usually unfinished lines and drop out here.
func candidates(a Article) []string {
	text, _ := truncate(strings.ToValidUTF8(a.Text, ""), extractiveInput)
	title := normKey(a.Title)
	seen := map[string]bool{}
	var full, loose []string
	for _, s := range splitSentences(text) {
		s = cleanLine(s)
		key := normKey(s)
		if len(strings.Fields(s)) < 4 || seen[key] || key == title {
			continue
		}
		seen[key] = true
		if len(full)+len(loose) == maxCandidates {
			break
		}
		if endsSentence(s) {
			full = append(full, s)
		} else {
			loose = append(loose, s)
		}
	}
	if len(full) > 0 {
		return full
	}
	return loose
}

// rank returns candidate indexes, best first. Scores come from PageRank over
// the similarity graph with a teleport vector weighted to early sentences;
// ties go to the earlier sentence so the result is deterministic.
func rank(sents []string) []int {
	n := len(sents)
	words := make([]map[string]bool, n)
	for i, s := range sents {
		words[i] = stems(s)
	}
	w := make([][]float64, n)
	out := make([]float64, n)
	for i := range w {
		w[i] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			sim := similarity(words[i], words[j])
			w[i][j], w[j][i] = sim, sim
			out[i] += sim
			out[j] += sim
		}
	}
	tele := make([]float64, n)
	sum := 0.0
	for i := range tele {
		tele[i] = 1 / float64(i+2)
		sum += tele[i]
	}
	for i := range tele {
		tele[i] /= sum
	}

	const d = 0.85
	score := append([]float64(nil), tele...)
	next := make([]float64, n)
	for iter := 0; iter < 100; iter++ {
		dangling := 0.0
		for j := 0; j < n; j++ {
			if out[j] == 0 {
				dangling += score[j]
			}
		}
		delta := 0.0
		for i := 0; i < n; i++ {
			v := 0.0
			for j := 0; j < n; j++ {
				if w[j][i] > 0 {
					v += w[j][i] / out[j] * score[j]
				}
			}
			next[i] = (1-d)*tele[i] + d*(v+dangling*tele[i])
			delta += math.Abs(next[i] - score[i])
		}
		score, next = next, score
		if delta < 1e-9 {
			break
		}
	}

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return score[order[a]] > score[order[b]] })
	return order
}

// similarity is TextRank's overlap measure, normalised by sentence length so
// long sentences do not win by size alone.
func similarity(a, b map[string]bool) float64 {
	if len(a) < 2 || len(b) < 2 {
		return 0
	}
	common := 0
	for w := range a {
		if b[w] {
			common++
		}
	}
	if common == 0 {
		return 0
	}
	return float64(common) / (math.Log(float64(len(a))) + math.Log(float64(len(b))))
}

// stems returns the sentence's content words, stemmed so that «Китае» and
// «Китая» count as one word.
func stems(s string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-'
	}) {
		w = strings.Trim(w, "-")
		if utf8.RuneCountInString(w) < 3 || stopwords[w] {
			continue
		}
		env := snowballstem.NewEnv(w)
		if hasCyrillic(w) {
			russian.Stem(env)
		} else {
			english.Stem(env)
		}
		set[env.Current()] = true
	}
	return set
}

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the and for that this with from are was were has have had been
		its it's which who whom will would can could also not but their they them than then there
		into over about after before said says more most such other some any all one two
		что как это для или его она они был была были быть также так уже при Это
		который которая которые которое этот эта эти того тем том чем над под без между
		только еще ещё может могут более после этом этой данный данных них ним нам вам
		сообщил сообщила заявил заявила году года`) {
		m[strings.ToLower(w)] = true
	}
	return m
}()

func hasCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

// articleLang is the article's declared language, or a guess from its
// alphabet: Cyrillic-heavy text is Russian, anything else English.
func articleLang(a Article) string {
	if l := strings.ToLower(strings.TrimSpace(a.Lang)); l != "" {
		return l
	}
	cyr, lat := 0, 0
	sample := a.Title + " " + a.Text
	if len(sample) > 8192 {
		sample = sample[:8192]
	}
	for _, r := range sample {
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
	return "en"
}

// normKey folds a sentence for duplicate detection.
func normKey(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}
