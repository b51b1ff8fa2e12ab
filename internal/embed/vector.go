package embed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Vector is a unit-length embedding quantised to int8 with a scale, stamped
// with the model that made it: vectors of different models are not
// comparable, and Cosine says 0 for them.
//
// The i-th component is Q[i]·Scale. Quantize picks Scale as 1/|Q|, so the
// dequantised vector has length 1 exactly and Cosine of two vectors is the
// cosine of their quantised forms, in [-1, 1]. A 1,024-dimension vector
// takes 1 KiB instead of 4 as float32; rounding to 255 levels moves a
// cosine by about 0.002 (see TestQuantizeError).
//
// The zero Vector (Dim 0) stands for "no embedding": it is close to nothing.
type Vector struct {
	Model string
	Q     []int8
	Scale float32
}

// MaxDim bounds the dimension of a Vector; real models have up to a few
// thousand. Within it an int32 sum of int8 products cannot overflow.
const MaxDim = 1 << 16

// maxModelLen bounds the model name stored with an encoded vector.
const maxModelLen = 255

// Quantize makes a Vector of model's float embedding f: it normalises f,
// maps the largest component to ±127 and rounds the rest to the nearest
// step. A zero, empty or non-finite f gives the zero Vector.
func Quantize(model string, f []float32) Vector {
	if len(f) == 0 || len(f) > MaxDim {
		return Vector{}
	}
	var peak float64
	for _, x := range f {
		a := math.Abs(float64(x))
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return Vector{}
		}
		peak = max(peak, a)
	}
	if peak == 0 {
		return Vector{}
	}
	// Normalising first would not change the rounding: only the direction
	// of f matters once the peak is mapped to 127.
	q := make([]int8, len(f))
	k := 127 / peak
	var norm2 int64
	for i, x := range f {
		v := int8(math.Round(float64(x) * k))
		q[i] = v
		norm2 += int64(v) * int64(v)
	}
	return Vector{Model: model, Q: q, Scale: float32(1 / math.Sqrt(float64(norm2)))}
}

// Dim is the number of components, 0 for the zero Vector.
func (v Vector) Dim() int { return len(v.Q) }

// Cosine is the cosine similarity of v and w, or 0 when they come from
// different models or have different dimensions (or either is zero). It
// costs one int8 dot product: about 70 ns for 1,024 dimensions on amd64.
func (v Vector) Cosine(w Vector) float32 {
	if len(v.Q) != len(w.Q) || len(v.Q) == 0 || v.Model != w.Model {
		return 0
	}
	return float32(dot(v.Q, w.Q)) * v.Scale * w.Scale
}

// Encoding, version 1:
//
//	byte     version (1)
//	byte     length of the model name, then the name (UTF-8, ≤ 255 bytes)
//	uvarint  dimension (1 … MaxDim)
//	4 bytes  scale, float32, little endian
//	dim      components, one int8 each
//
// 1,024 dimensions from "bge-m3" take 1,036 bytes. The zero Vector encodes
// as the version byte, a zero-length name and dimension 0.
const encodingVersion = 1

// MarshalBinary encodes v compactly for storage.
func (v Vector) MarshalBinary() ([]byte, error) {
	if len(v.Model) > maxModelLen {
		return nil, fmt.Errorf("embed: model name of %d bytes: at most %d", len(v.Model), maxModelLen)
	}
	if len(v.Q) > MaxDim {
		return nil, fmt.Errorf("embed: %d dimensions: at most %d", len(v.Q), MaxDim)
	}
	b := make([]byte, 0, 2+len(v.Model)+binary.MaxVarintLen32+4+len(v.Q))
	b = append(b, encodingVersion, byte(len(v.Model)))
	b = append(b, v.Model...)
	b = binary.AppendUvarint(b, uint64(len(v.Q)))
	if len(v.Q) == 0 {
		return b, nil
	}
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v.Scale))
	for _, q := range v.Q {
		b = append(b, byte(q))
	}
	return b, nil
}

// ErrMalformed is wrapped by every error of UnmarshalBinary.
var ErrMalformed = errors.New("embed: malformed vector")

// UnmarshalBinary decodes what MarshalBinary made. It copies what it keeps,
// so b may be a bbolt value that is valid only inside its transaction.
// Truncated, overlong or otherwise malformed input is an error wrapping
// ErrMalformed, and v is left unchanged.
func (v *Vector) UnmarshalBinary(b []byte) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }
	if len(b) < 2 {
		return bad("too short")
	}
	if b[0] != encodingVersion {
		return bad(fmt.Sprintf("version %d", b[0]))
	}
	n := int(b[1])
	b = b[2:]
	if len(b) < n {
		return bad("model name cut short")
	}
	if !utf8.Valid(b[:n]) {
		return bad("model name is not UTF-8")
	}
	model := string(b[:n])
	b = b[n:]
	dim, k := binary.Uvarint(b)
	if k <= 0 {
		return bad("bad dimension")
	}
	b = b[k:]
	if dim == 0 {
		if len(b) != 0 {
			return bad("bytes after a zero vector")
		}
		*v = Vector{Model: model}
		return nil
	}
	if dim > MaxDim {
		return bad(fmt.Sprintf("dimension %d", dim))
	}
	if uint64(len(b)) != 4+dim {
		return bad(fmt.Sprintf("%d bytes for %d dimensions", len(b), dim))
	}
	scale := math.Float32frombits(binary.LittleEndian.Uint32(b))
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		return bad(fmt.Sprintf("scale %v", scale))
	}
	q := make([]int8, dim)
	for i, c := range b[4:] {
		q[i] = int8(c)
	}
	*v = Vector{Model: model, Q: q, Scale: scale}
	return nil
}
