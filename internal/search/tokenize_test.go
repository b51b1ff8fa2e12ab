package search

import (
	"slices"
	"testing"
)

func TestSpaceTokenizer(t *testing.T) {
	for _, c := range []struct {
		in    string
		stems []string
	}{
		{"", nil},
		{"банк", []string{"банк"}},
		{"втб китай ии", []string{"втб", "китай", "ии"}},
		{"a a a", []string{"a", "a", "a"}},
		// Stray spaces (Put never makes them) make no empty stems and no
		// gaps in the positions.
		{" x  y ", []string{"x", "y"}},
	} {
		var stems []string
		for i, tok := range (spaceTokenizer{}).Tokenize([]byte(c.in)) {
			if tok.Position != i+1 || tok.Start != 0 || tok.End != 0 {
				t.Errorf("%q: stem %q at %d (bytes %d–%d), want position %d and no bytes", c.in, tok.Term, tok.Position, tok.Start, tok.End, i+1)
			}
			stems = append(stems, string(tok.Term))
		}
		if !slices.Equal(stems, c.stems) {
			t.Errorf("%q: stems %q, want %q", c.in, stems, c.stems)
		}
	}
}
