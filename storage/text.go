package storage

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Full texts are stored compressed, with zstd at its fastest level: news
// text comes out two to three times smaller (the Russian seed article,
// 8.3 KB, in 2.8 KB; the pipeline benchmark's pages in a third). They
// are most of the database, and bbolt reads each one back soon after it
// is written (it never splits a leaf of four values or fewer, so each
// append rewrites the last few), through its memory map: the smaller they
// are, the smaller the file, the writes and the pages the process maps.
//
// A value is a zstd frame, or, written by an older version, the text
// itself; text is UTF-8 and never starts with zstd's magic number (its
// second byte, 0xB5, cannot follow an ASCII byte in UTF-8), so the two
// never mix up.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxTextMemory bounds what decompressing one value may take, so that a
// damaged value is an error rather than an allocation of gigabytes; a text
// is at most extract.MaxTextRunes, 200 KB.
const maxTextMemory = 8 << 20

// Both are safe for concurrent EncodeAll and DecodeAll.
var (
	textEncoder *zstd.Encoder
	textDecoder *zstd.Decoder
)

func init() {
	var err error
	textEncoder, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err)
	}
	textDecoder, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(maxTextMemory))
	if err != nil {
		panic(err)
	}
}

// packText is how a full text is stored.
func packText(s string) []byte {
	return textEncoder.EncodeAll([]byte(s), make([]byte, 0, len(s)/3+64))
}

// unpackText reads a stored full text.
func unpackText(v []byte) (string, error) {
	if !bytes.HasPrefix(v, zstdMagic) {
		return string(v), nil
	}
	b, err := textDecoder.DecodeAll(v, nil)
	if err != nil {
		return "", fmt.Errorf("decompress full text: %w", err)
	}
	return string(b), nil
}
