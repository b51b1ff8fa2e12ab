package embed

// dotGo is the portable int8 dot product with int32 accumulation: four
// accumulators over blocks of eight, so the compiler drops the bounds
// checks and the additions do not wait on each other. Callers pass slices
// of equal length of at most MaxDim, so the sum cannot overflow.
func dotGo(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x := (*[8]int8)(a[i:])
		y := (*[8]int8)(b[i:])
		s0 += int32(x[0])*int32(y[0]) + int32(x[4])*int32(y[4])
		s1 += int32(x[1])*int32(y[1]) + int32(x[5])*int32(y[5])
		s2 += int32(x[2])*int32(y[2]) + int32(x[6])*int32(y[6])
		s3 += int32(x[3])*int32(y[3]) + int32(x[7])*int32(y[7])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
