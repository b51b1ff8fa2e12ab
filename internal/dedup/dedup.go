// Package dedup recognises reprints: the same story republished with an
// edited title, a sentence more or less, or cut down to a teaser. It
// estimates the Jaccard similarity of two texts' 2-word shingle sets with
// MinHash and finds candidates by locality-sensitive hashing (LSH) on bands
// of the signature, so a new article is compared only with the few stored
// ones that share a band.
//
// Signatures are stored, so everything here is deterministic: fixed hash
// and permutation constants, identical in every process and release.
// Changing them invalidates every stored signature; TestSignStable guards
// them.
package dedup

import "math"

const (
	// NumHashes is the signature length. Similarity has a standard error
	// of sqrt(J(1-J)/NumHashes): ±0.06 at J = 0.5.
	NumHashes = 64
	// NumBands × BandRows = NumHashes. Two texts share at least one band
	// with probability 1-(1-J^BandRows)^NumBands: 0.64 at J = 0.5, 0.89 at
	// 0.6, 0.99 at 0.7, but 0.12 at 0.3 and 0.002 at 0.1. Reprints measure
	// 0.9 and more (see the tests), so 16×4 finds them while seldom
	// bringing up a merely related story.
	NumBands = 16
	BandRows = NumHashes / NumBands

	// Threshold is the estimated Jaccard similarity from which two texts
	// are one story. Reprints with an edited title, a sentence more or
	// less, or a changed word in a teaser measure 0.9 and more; different
	// events on the same subject stay under 0.05 (see the tests).
	//
	// Jaccard compares whole sets, so a teaser is not a reprint of the full
	// article it was cut from: their sets differ in size too much.
	Threshold = 0.5

	// MinShingles is the fewest shingles (tokens - 1) Sign accepts: fewer
	// words say nothing about whether two texts are the same.
	MinShingles = 4
)

// Signature is the MinHash signature of a text: for each of NumHashes
// permutations, the least permuted hash over the text's shingles.
type Signature [NumHashes]uint32

// perm is one hash permutation x → a·x + b (mod 2⁶⁴), of which Sign keeps
// the high 32 bits: a multiply-shift hash, cheap and good enough for
// MinHash on a well-mixed input.
type perm struct{ a, b uint64 }

// perms are derived from a fixed seed by splitmix64. Never change them.
var perms = func() (p [NumHashes]perm) {
	state := uint64(0x646f7a6f72) // "dozor"
	next := func() uint64 {
		state += 0x9e3779b97f4a7c15
		return mix64(state)
	}
	for i := range p {
		p[i] = perm{a: next() | 1, b: next()}
	}
	return p
}()

// Sign computes the signature of a token stream: normalised, stemmed
// words in text order, as the analysis package gives them. Shingles are
// pairs of adjacent tokens, so word order matters but a changed word
// disturbs only the two shingles it is part of. It reports false, with a
// zero signature, when there are fewer than MinShingles shingles.
func Sign(tokens []string) (Signature, bool) {
	var sig Signature
	if len(tokens)-1 < MinShingles {
		return sig, false
	}
	for i := range sig {
		sig[i] = math.MaxUint32
	}
	for i := 1; i < len(tokens); i++ {
		x := shingleHash(tokens[i-1], tokens[i])
		for j := range sig {
			if v := uint32((perms[j].a*x + perms[j].b) >> 32); v < sig[j] {
				sig[j] = v
			}
		}
	}
	return sig, true
}

// Similarity estimates the Jaccard similarity of the shingle sets of the
// texts a and b were signed from: the share of positions where they agree.
func Similarity(a, b Signature) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / NumHashes
}

// Bands returns one key per band of BandRows values. Texts that share a
// key are candidates, to be confirmed with Similarity >= Threshold. The
// band's index is part of its key, so all keys can share one index.
func (s Signature) Bands() []uint64 {
	keys := make([]uint64, NumBands)
	for b := range keys {
		h := uint64(b+1) * 0x9e3779b97f4a7c15
		for _, v := range s[b*BandRows : (b+1)*BandRows] {
			h = mix64(h ^ uint64(v))
		}
		keys[b] = h
	}
	return keys
}

// shingleHash is FNV-1a over "a 0xFF b" (0xFF never occurs in UTF-8, so
// ("ab","c") and ("a","bc") differ), finished with mix64 because FNV's
// high bits, which the permutations keep, mix poorly on short input.
func shingleHash(a, b string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(a); i++ {
		h ^= uint64(a[i])
		h *= prime
	}
	h ^= 0xff
	h *= prime
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= prime
	}
	return mix64(h)
}

// mix64 is the splitmix64 / MurmurHash3 finaliser: every input bit
// affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
