#include "textflag.h"

// func dotSSE2(a, b *int8, n int) int32
//
// Per 16 bytes: each int8 is widened to int16 (unpack a register with
// itself, then shift right arithmetically by 8), PMADDWD (PMADDWL in Go
// syntax) multiplies int16 pairs and adds neighbours into int32, and two
// accumulators take the halves. At most 2·128·128 per lane per step, so
// MaxDim steps cannot overflow an int32 lane.
TEXT ·dotSSE2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	PXOR X0, X0
	PXOR X7, X7
	SHRQ $4, CX
	JZ   done

loop:
	MOVOU     (SI), X1
	MOVOU     (DI), X2
	MOVO      X1, X3
	MOVO      X2, X4
	PUNPCKLBW X1, X1
	PUNPCKHBW X3, X3
	PUNPCKLBW X2, X2
	PUNPCKHBW X4, X4
	PSRAW     $8, X1
	PSRAW     $8, X3
	PSRAW     $8, X2
	PSRAW     $8, X4
	PMADDWL   X2, X1
	PMADDWL   X4, X3
	PADDL     X1, X0
	PADDL     X3, X7
	ADDQ      $16, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       loop

done:
	PADDL  X7, X0
	PSHUFD $0x4E, X0, X1
	PADDL  X1, X0
	PSHUFD $0xB1, X0, X1
	PADDL  X1, X0
	MOVL   X0, AX
	MOVL   AX, ret+24(FP)
	RET
