package embed

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randomFloats is a random direction in dim dimensions, the way embedding
// components look: roughly normal, none dominant.
func randomFloats(r *rand.Rand, dim int) []float32 {
	f := make([]float32, dim)
	for i := range f {
		f[i] = float32(r.NormFloat64())
	}
	return f
}

func cosine64(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// near makes a vector at about cosine c from a.
func near(r *rand.Rand, a []float32, c float64) []float32 {
	n := randomFloats(r, len(a))
	// Remove n's component along a, then mix.
	var d, na float64
	for i := range a {
		d += float64(a[i]) * float64(n[i])
		na += float64(a[i]) * float64(a[i])
	}
	var nn float64
	for i := range n {
		n[i] -= float32(d / na * float64(a[i]))
		nn += float64(n[i]) * float64(n[i])
	}
	out := make([]float32, len(a))
	s := math.Sqrt(1 - c*c)
	for i := range a {
		out[i] = float32(c*float64(a[i])/math.Sqrt(na) + s*float64(n[i])/math.Sqrt(nn))
	}
	return out
}

func TestQuantizeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	for range 200 {
		a := randomFloats(r, 1024)
		for _, c := range []float64{0.95, 0.85, 0.5, 0.0, -0.3} {
			b := near(r, a, c)
			want := cosine64(a, b)
			got := float64(Quantize("m", a).Cosine(Quantize("m", b)))
			worst = max(worst, math.Abs(got-want))
		}
	}
	t.Logf("worst cosine error over 1,000 pairs: %.5f", worst)
	if worst > 0.005 {
		t.Errorf("quantisation moves a cosine by up to %.4f, want < 0.005", worst)
	}
}

func TestQuantize(t *testing.T) {
	v := Quantize("m", []float32{3, -4, 0})
	if v.Dim() != 3 || v.Q[0] != 95 || v.Q[1] != -127 || v.Q[2] != 0 || v.Model != "m" {
		t.Fatalf("Quantize = %+v", v)
	}
	var n float64
	for _, x := range floats(v) {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-6 {
		t.Errorf("dequantised length² %v, want 1", n)
	}
	if c := v.Cosine(v); math.Abs(float64(c)-1) > 1e-6 {
		t.Errorf("self cosine %v", c)
	}
	nan := float32(math.NaN())
	for _, f := range [][]float32{nil, {}, {0, 0}, {1, nan}, {float32(math.Inf(1)), 1}} {
		if v := Quantize("m", f); v.Dim() != 0 {
			t.Errorf("Quantize(%v) = %+v, want the zero Vector", f, v)
		}
	}
}

func TestCosine(t *testing.T) {
	a := Quantize("bge-m3", []float32{1, 2, 3})
	tests := []struct {
		name string
		w    Vector
		want float32
	}{
		{"same", a, 1},
		{"opposite", Quantize("bge-m3", []float32{-1, -2, -3}), -1},
		{"orthogonal", Quantize("bge-m3", []float32{3, 0, -1}), 0},
		{"other model", Quantize("e5", []float32{1, 2, 3}), 0},
		{"other dimension", Quantize("bge-m3", []float32{1, 2, 3, 4}), 0},
		{"zero", Vector{}, 0},
	}
	for _, tt := range tests {
		if got := a.Cosine(tt.w); math.Abs(float64(got-tt.want)) > 0.01 {
			t.Errorf("%s: Cosine = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := (Vector{}).Cosine(Vector{}); got != 0 {
		t.Errorf("zero·zero = %v", got)
	}
}

func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	naive := func(a, b []int8) int32 {
		var s int32
		for i := range a {
			s += int32(a[i]) * int32(b[i])
		}
		return s
	}
	for n := range 300 {
		a, b := make([]int8, n), make([]int8, n)
		for i := range a {
			a[i], b[i] = int8(r.IntN(256)-128), int8(r.IntN(256)-128)
		}
		if n%5 == 0 { // the extremes, where an int16 sum would overflow
			for i := range a {
				a[i], b[i] = -128, int8(-128+255*(i%2))
			}
		}
		want := naive(a, b)
		if got := dot(a, b); got != want {
			t.Fatalf("n=%d: dot = %d, want %d", n, got, want)
		}
		if got := dotGo(a, b); got != want {
			t.Fatalf("n=%d: dotGo = %d, want %d", n, got, want)
		}
	}
	// MaxDim components at the extreme stay within an int32.
	a := bytes.Repeat([]byte{0x80}, MaxDim)
	q := make([]int8, MaxDim)
	for i, c := range a {
		q[i] = int8(c)
	}
	if got, want := dot(q, q), int32(MaxDim*128*128); got != want {
		t.Errorf("dot at MaxDim = %d, want %d", got, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, v := range []Vector{
		Quantize("bge-m3", randomFloats(r, 1024)),
		Quantize("intfloat/multilingual-e5-base", randomFloats(r, 768)),
		Quantize("", randomFloats(r, 1)),
		{},
		{Model: "m"},
	} {
		b, err := v.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if v.Dim() == 1024 && len(b) != 2+len(v.Model)+2+4+1024 {
			t.Errorf("1,024 dimensions of %q take %d bytes", v.Model, len(b))
		}
		var got Vector
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(MarshalBinary(%.20v)): %v", v, err)
		}
		if got.Model != v.Model || got.Scale != v.Scale || !equalInt8(got.Q, v.Q) {
			t.Errorf("round trip changed the vector: %.30v → %.30v", v, got)
		}
		b[len(b)-1] ^= 0xff // UnmarshalBinary copied: the vector does not change
		if v.Dim() > 0 && got.Q[len(got.Q)-1] != v.Q[len(v.Q)-1] {
			t.Error("UnmarshalBinary kept a reference to its input")
		}
	}
	if _, err := (Vector{Model: string(make([]byte, 256))}).MarshalBinary(); err == nil {
		t.Error("a 256-byte model name was encoded")
	}
}

func equalInt8(a, b []int8) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUnmarshalMalformed(t *testing.T) {
	good, _ := Quantize("bge-m3", []float32{1, 2, 3, 4}).MarshalBinary()
	// Every truncation of a good encoding is an error.
	for n := range len(good) {
		var v Vector
		if err := v.UnmarshalBinary(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalBinary of the first %d of %d bytes: %v", n, len(good), err)
		}
	}
	withScale := func(bits uint32) []byte {
		b := append([]byte(nil), good...)
		off := 2 + len("bge-m3") + 1
		b[off], b[off+1], b[off+2], b[off+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		return b
	}
	tests := map[string][]byte{
		"empty":            nil,
		"garbage":          []byte("hello, world"),
		"version 2":        append([]byte{2}, good[1:]...),
		"trailing byte":    append(append([]byte(nil), good...), 0),
		"bad UTF-8 name":   {1, 2, 0xff, 0xfe, 1, 0, 0, 0x80, 0x3f, 1},
		"dim too large":    {1, 0, 0x81, 0x80, 0x80, 0x80, 0x01},
		"varint overlong":  {1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"zero after dim 0": {1, 0, 0, 0},
		"NaN scale":        withScale(0x7fc00000),
		"negative scale":   withScale(0xbf800000),
		"zero scale":       withScale(0),
		"infinite scale":   withScale(0x7f800000),
	}
	for name, b := range tests {
		v := Vector{Model: "keep"}
		if err := v.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
		if v.Model != "keep" {
			t.Errorf("%s: failed UnmarshalBinary changed the vector", name)
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	good, _ := Quantize("bge-m3", []float32{1, -2, 3, 0.5}).MarshalBinary()
	zero, _ := Vector{Model: "m"}.MarshalBinary()
	f.Add(good)
	f.Add(zero)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0x81, 0x80, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Vector
		if err := v.UnmarshalBinary(b); err != nil {
			return
		}
		// What decodes re-encodes to the same bytes (up to a non-minimal
		// varint) and is usable.
		again, err := v.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %v but cannot encode it: %v", b, err)
		}
		var w Vector
		if err := w.UnmarshalBinary(again); err != nil || w.Model != v.Model || !equalInt8(w.Q, v.Q) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
		_ = v.Cosine(w)
	})
}

// BenchmarkCosine is one comparison of 1,024 dimensions.
func BenchmarkCosine(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	x, y := Quantize("m", randomFloats(r, 1024)), Quantize("m", randomFloats(r, 1024))
	var sink float32
	for b.Loop() {
		sink += x.Cosine(y)
	}
	_ = sink
}

// BenchmarkNearest5000 is the scan of the fold's brute-force search: one new article
// against 5,000 recent stories of 1,024 dimensions. Target: well under 5 ms.
func BenchmarkNearest5000(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	stored := make([]Vector, 5000)
	for i := range stored {
		stored[i] = Quantize("bge-m3", randomFloats(r, 1024))
	}
	q := Quantize("bge-m3", randomFloats(r, 1024))
	var sink float32
	for b.Loop() {
		for _, v := range stored {
			sink = max(sink, q.Cosine(v))
		}
	}
	_ = sink
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
}

// BenchmarkNearest5000Portable is the same on the pure-Go dot product, what
// other architectures get.
func BenchmarkNearest5000Portable(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	stored := make([]Vector, 5000)
	for i := range stored {
		stored[i] = Quantize("bge-m3", randomFloats(r, 1024))
	}
	q := Quantize("bge-m3", randomFloats(r, 1024))
	var sink float32
	for b.Loop() {
		for _, v := range stored {
			sink = max(sink, float32(dotGo(q.Q, v.Q))*q.Scale*v.Scale)
		}
	}
	_ = sink
}

// BenchmarkMemory100k reports what 100,000 stored vectors of 1,024
// dimensions take in memory (decoded from storage, as a store loading
// recent stories would hold them) and encoded.
func BenchmarkMemory100k(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(13, 14))
	enc := make([][]byte, 0, 256)
	for range 256 {
		e, err := Quantize("bge-m3", randomFloats(r, 1024)).MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		enc = append(enc, e)
	}
	var heap, encoded float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		vs := make([]Vector, n)
		total := 0
		for i := range vs {
			e := enc[i%len(enc)]
			total += len(e)
			if err := vs[i].UnmarshalBinary(e); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc - before.HeapAlloc)
		encoded = float64(total)
		runtime.KeepAlive(vs)
	}
	b.ReportMetric(heap/(1<<20), "MiB")
	b.ReportMetric(encoded/(1<<20), "encoded-MiB")
	b.ReportMetric(heap/n, "B/vector")
}

// floats is v dequantised.
func floats(v Vector) []float32 {
	out := make([]float32, len(v.Q))
	for i, q := range v.Q {
		out[i] = float32(q) * v.Scale
	}
	return out
}
