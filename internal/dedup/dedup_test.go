package dedup

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// tokens is a stand-in for the analysis package: lower-case words split on
// anything that is not a letter. No stemming, which makes the tests harder,
// not easier: an inflection change counts as a changed word.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) })
}

func seed(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", name))
	if err != nil {
		t.Fatalf("seed article missing: %v", err)
	}
	return string(b)
}

func mustSign(t testing.TB, text string) Signature {
	t.Helper()
	sig, ok := Sign(tokens(text))
	if !ok {
		t.Fatalf("Sign refused %q", text)
	}
	return sig
}

func sharesBand(a, b Signature) bool {
	bands := map[uint64]bool{}
	for _, k := range a.Bands() {
		bands[k] = true
	}
	for _, k := range b.Bands() {
		if bands[k] {
			return true
		}
	}
	return false
}

// jaccard is the exact similarity MinHash estimates.
func jaccard(a, b []string) float64 {
	set := func(ts []string) map[string]bool {
		m := map[string]bool{}
		for i := 1; i < len(ts); i++ {
			m[ts[i-1]+" "+ts[i]] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	inter := 0
	for k := range sa {
		if sb[k] {
			inter++
		}
	}
	return float64(inter) / float64(len(sa)+len(sb)-inter)
}

const vtbSeed = "vtb-ai-centre-china.ru.txt"

const (
	seedTitle   = "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований"
	editedTitle = "ВТБ изучает возможность создания ИИ-центра в Китае для совместных исследований"
	cutSentence = "Это также подчеркивает долгосрочные планы ВТБ по развитию международных партнерств в высокотехнологичных областях. "
	newSentence = " Эксперты ожидают, что решение о запуске центра будет принято до конца года."
)

// teaser is a 40-word reprint of the seed's lead, as aggregators carry it.
const teaser = "ВТБ рассматривает создание ИИ-центра в Китае для совместных исследований. " +
	"Банк ВТБ активно прорабатывает инициативу по созданию специализированного центра компетенций " +
	"в области искусственного интеллекта на территории Китая. Основная цель такого центра — " +
	"ускоренное тестирование устройств, использующих технологии ИИ, непосредственно на китайской территории."

// Two teasers on the same subject (VTB and China) about different events.
const (
	teaserOffice = "ВТБ открыл представительство в Пекине. Банк ВТБ в понедельник объявил об открытии " +
		"представительства в Пекине, которое займется обслуживанием российских экспортеров и расчетами в юанях. " +
		"По словам первого заместителя президента банка, офис начнет работу в марте и будет " +
		"сотрудничать с крупнейшими китайскими банками."
	teaserBonds = "ВТБ разместил облигации в юанях. Банк ВТБ завершил размещение облигаций, номинированных " +
		"в китайских юанях, на сумму 5 млрд юаней. Спрос инвесторов превысил предложение в полтора раза, " +
		"сообщили в пресс-службе банка. Средства будут направлены на кредитование компаний, " +
		"работающих с Китаем."
)

func TestSimilarStories(t *testing.T) {
	article := seed(t, vtbSeed)
	if !strings.Contains(article, seedTitle) || !strings.Contains(article, cutSentence) {
		t.Fatal("seed article changed: update the edits below")
	}
	edited := strings.Replace(article, seedTitle, editedTitle, 1)
	edited = strings.Replace(edited, cutSentence, "", 1) + newSentence

	teaserEdited := strings.Replace(teaser, "активно", "всерьез", 1)
	if n := len(tokens(teaser)); n < 30 || n > 50 {
		t.Fatalf("teaser has %d words, want 30-50", n)
	}

	tests := []struct{ name, a, b string }{
		{"article with edited title, a sentence cut and one added", article, edited},
		{"teaser with one word edited", teaser, teaserEdited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa, sb := mustSign(t, tt.a), mustSign(t, tt.b)
			sim := Similarity(sa, sb)
			t.Logf("similarity %.3f (exact Jaccard %.3f)", sim, jaccard(tokens(tt.a), tokens(tt.b)))
			if sim < Threshold {
				t.Errorf("similarity %.3f < Threshold %.2f", sim, Threshold)
			}
			if !sharesBand(sa, sb) {
				t.Error("no shared band: the index would never compare them")
			}
		})
	}
}

func TestDifferentStories(t *testing.T) {
	tests := []struct{ name, a, b string }{
		// Related subjects (Russian banks, AI, China), different events and languages.
		{"the two seed articles", seed(t, vtbSeed), seed(t, "finextra-sberbank-china-ai.en.txt")},
		{"two VTB-China teasers about different events", teaserOffice, teaserBonds},
		{"teaser of the seed and an unrelated VTB teaser", teaser, teaserBonds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa, sb := mustSign(t, tt.a), mustSign(t, tt.b)
			sim := Similarity(sa, sb)
			t.Logf("similarity %.3f (exact Jaccard %.3f)", sim, jaccard(tokens(tt.a), tokens(tt.b)))
			if sim >= Threshold {
				t.Errorf("similarity %.3f >= Threshold %.2f", sim, Threshold)
			}
			if sharesBand(sa, sb) {
				t.Error("shared band between different stories")
			}
		})
	}
}

func TestSignTooShort(t *testing.T) {
	for _, ts := range [][]string{nil, {}, {"втб"}, {"втб", "китай", "ии", "центр"}} {
		if sig, ok := Sign(ts); ok || sig != (Signature{}) {
			t.Errorf("Sign(%q) = ok %v, want false and a zero signature", ts, ok)
		}
	}
	if _, ok := Sign([]string{"втб", "китай", "ии", "центр", "шанхай"}); !ok {
		t.Errorf("Sign refused %d shingles", MinShingles)
	}
}

func TestSimilarityBounds(t *testing.T) {
	a := mustSign(t, teaser)
	if got := Similarity(a, a); got != 1 {
		t.Errorf("Similarity(a, a) = %v", got)
	}
	var inverted Signature
	for i := range a {
		inverted[i] = ^a[i]
	}
	if got := Similarity(a, inverted); got != 0 {
		t.Errorf("Similarity with nothing in common = %v", got)
	}
	// Word order matters: a shingle is an ordered pair.
	words := tokens(teaser)
	reversed := make([]string, len(words))
	for i, w := range words {
		reversed[len(words)-1-i] = w
	}
	r, _ := Sign(reversed)
	if got := Similarity(a, r); got >= Threshold {
		t.Errorf("reversed text similarity %.3f", got)
	}
}

// TestEstimateTracksJaccard checks that the estimate follows the exact
// Jaccard similarity across its range, on texts built from a vocabulary
// of synthetic words with a controlled share of the text rewritten.
func TestEstimateTracksJaccard(t *testing.T) {
	base := make([]string, 400)
	for i := range base {
		base[i] = fmt.Sprintf("w%d", i*7919%1000)
	}
	var worst float64
	for _, rewritten := range []int{0, 20, 50, 100, 150, 200, 300, 400} {
		other := append([]string(nil), base...)
		for i := range rewritten {
			other[i] = fmt.Sprintf("x%d", i)
		}
		exact := jaccard(base, other)
		est := Similarity(mustSignTokens(t, base), mustSignTokens(t, other))
		worst = math.Max(worst, math.Abs(est-exact))
		// Four standard errors at J = 0.5 (0.0625 each) is a bound a correct
		// MinHash meets except by a freak of the fixed constants.
		if math.Abs(est-exact) > 0.25 {
			t.Errorf("%d words rewritten: estimate %.3f, exact %.3f", rewritten, est, exact)
		}
	}
	t.Logf("worst estimate error %.3f", worst)
}

func mustSignTokens(t *testing.T, ts []string) Signature {
	t.Helper()
	sig, ok := Sign(ts)
	if !ok {
		t.Fatal("Sign refused")
	}
	return sig
}

// TestLSHCurve checks the banding's S-curve on many pairs: near
// duplicates almost always meet in a band, distant texts seldom do.
func TestLSHCurve(t *testing.T) {
	const pairs = 300
	rate := func(rewritten int) (shared float64, meanJ float64) {
		n := 0
		for p := range pairs {
			a := make([]string, 100)
			for i := range a {
				a[i] = fmt.Sprintf("p%dw%d", p, i)
			}
			b := append([]string(nil), a...)
			for i := range rewritten {
				b[(i*37+p)%len(b)] = fmt.Sprintf("p%dx%d", p, i)
			}
			meanJ += jaccard(a, b)
			if sharesBand(mustSignTokens(t, a), mustSignTokens(t, b)) {
				n++
			}
		}
		return float64(n) / pairs, meanJ / pairs
	}
	for _, tt := range []struct {
		rewritten int
		min, max  float64
	}{
		{3, 0.97, 1},  // J ≈ 0.89
		{8, 0.85, 1},  // J ≈ 0.73
		{40, 0, 0.15}, // J ≈ 0.25
		{70, 0, 0.02}, // J ≈ 0.07
	} {
		got, j := rate(tt.rewritten)
		t.Logf("%d of 100 words rewritten: mean Jaccard %.2f, share a band %.3f", tt.rewritten, j, got)
		if got < tt.min || got > tt.max {
			t.Errorf("%d words rewritten (J≈%.2f): %.3f share a band, want %.2f-%.2f", tt.rewritten, j, got, tt.min, tt.max)
		}
	}
}

// TestSignStable pins the hash constants: signatures are stored, and a
// change would silently stop new articles from matching stored stories.
func TestSignStable(t *testing.T) {
	sig := mustSign(t, teaser)
	got := fmt.Sprintf("%08x %08x %08x %016x", sig[0], sig[1], sig[NumHashes-1], sig.Bands()[0])
	const want = "06068d90 0b3b5739 0e33d7d0 882bd2d8e6c7b920"
	if got != want {
		t.Errorf("signature of the teaser = %s, want %s", got, want)
	}
}

func TestShingleBoundaries(t *testing.T) {
	if shingleHash("ab", "c") == shingleHash("a", "bc") {
		t.Error(`("ab","c") and ("a","bc") hash alike`)
	}
	if shingleHash("a", "b") == shingleHash("b", "a") {
		t.Error("shingle hash ignores order")
	}
}

func BenchmarkSign500(b *testing.B) {
	words := tokens(seed(b, vtbSeed))
	ts := make([]string, 0, 500)
	for len(ts) < 500 {
		ts = append(ts, words[:min(len(words), 500-len(ts))]...)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, ok := Sign(ts); !ok {
			b.Fatal("refused")
		}
	}
}
