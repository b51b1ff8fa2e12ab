package embed

import (
	"slices"
	"strings"
)

// SameStory is the fold rule: two articles report one story when their
// embeddings are close (cos >= threshold) AND their entities (sorted keys
// from Entities.Of) agree:
//
//  1. they share at least one entity that is not context — context being
//     countries, blocs, capitals ("geo:" keys) and news agencies ("media:"
//     keys), which say where a story is or who told it, not what happened;
//  2. they share at least two entities, or the smaller list has only one;
//  3. the shared entities are at least half of the smaller list.
//
// Why: two different events on one subject (the seed articles: VTB's AI
// centre in China, Putin's order to Sberbank about AI with China) read alike
// to an embedding model, and share China and Russia; they do not share the
// bank or the person, which is what tells events apart. A report and its
// translation name the same bank, city and people, so they pass easily.
// Rule 2 keeps one shared name from deciding between two long lists; rule 3
// keeps a long article that mentions many names from folding with every
// short item that shares two of them. Articles with no entities at all do
// not fold across languages: without a second signal the embedding alone
// is not trusted. (Reprints in one language still fold by MinHash.)
func SameStory(cos, threshold float32, a, b []string) bool {
	if !(cos >= threshold) { // NaN never folds
		return false
	}
	shared, specific := 0, 0
	eachShared(a, b, func(key string) {
		shared++
		if !IsContext(key) {
			specific++
		}
	})
	smaller := min(len(a), len(b))
	return specific >= 1 && (shared >= 2 || smaller == 1) && 2*shared >= smaller
}

// IsContext reports whether an entity key is context for SameStory: a
// place ("geo:") or a news agency ("media:").
func IsContext(key string) bool {
	return strings.HasPrefix(key, "geo:") || strings.HasPrefix(key, "media:")
}

// DefaultThreshold is the starting cosine threshold of SameStory for a
// model, by its name (case-insensitive, Ollama tags and Hugging Face ids
// alike):
//
//	bge-m3                   0.80
//	multilingual-e5-base     0.88  (any e5: 0.88)
//	nomic-embed-text-v2-moe  0.78
//	Qwen3-Embedding-0.6B     0.75
//	anything else            0.80
//
// These are NOT calibrated on the real models: this machine has no
// internet and no model weights. They come from how each family is known
// to spread its cosines: e5 was trained with a low temperature, so even
// unrelated texts score about 0.7 and a translation 0.9 or more (its model
// card says so), hence the high value; bge-m3 puts translations at about
// 0.85–0.95 and unrelated news below 0.5; Qwen3-Embedding and nomic spread
// wider and lower. Each value sits below where translation pairs usually
// fall, because the entity rule, not the cosine, is what keeps different
// events apart.
//
// To calibrate for a team's feeds and model: collect a few dozen pairs of
// its own articles labelled "same story" (a Russian report and the English
// one of the same event) and "different story on one subject" (like the
// seeds), embed them with Input and the real model, and pass the two lists
// of cosines to ChooseThreshold; set the result in the configuration, and
// repeat after changing the model.
func DefaultThreshold(model string) float32 {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "bge-m3"):
		return 0.80
	case hasPart(m, "e5"):
		return 0.88
	case strings.Contains(m, "nomic-embed-text"):
		return 0.78
	case strings.Contains(m, "qwen3-embedding") || strings.Contains(m, "qwen3_embedding"):
		return 0.75
	}
	return 0.80
}

// ChooseThreshold picks a cosine threshold from labelled pairs: cosines of
// pairs that are one story (same) and of pairs that are not (different). It
// returns the threshold that misclassifies the fewest pairs, counting a
// wrong fold twice, since a story wrongly merged hides an alert while one
// left split only repeats it; ties go to the higher threshold. It also
// returns the number of pairs it gets wrong. With no same pairs it returns
// 1 (fold nothing).
func ChooseThreshold(same, different []float32) (threshold float32, wrong int) {
	if len(same) == 0 {
		return 1, 0
	}
	cands := slices.Concat(same, different)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	best, bestCost := float32(1), -1
	for _, t := range slices.Backward(cands) {
		cost, errs := 0, 0
		for _, c := range same {
			if c < t {
				cost++
				errs++
			}
		}
		for _, c := range different {
			if c >= t {
				cost += 2
				errs++
			}
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost, wrong = t, cost, errs
		}
	}
	return best, wrong
}
