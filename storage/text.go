package storage

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/zstd"
	bolt "go.etcd.io/bbolt"
)

// Full texts are stored compressed, with zstd at its fastest level: news
// text comes out two to three times smaller (the Russian seed article,
// 8.3 KB, in 2.8 KB; the pipeline benchmark's pages in a third). They
// are most of the database: the smaller they are, the smaller the file
// and the writes.
//
// They are stored in the order they are written (bucket page_texts, keyed
// by the bucket's sequence), with an index from the article to its text
// (article_text). Pages arrive in no order of article id: keyed by
// article id, each text would land in the middle of the key space, in a
// leaf written before, which bbolt reads back through its memory map to
// rewrite it, so over a run every text's page ended up in the process's
// memory (about 40 MiB of the pipeline benchmark's peak RSS). Appended, a
// text is written once and read again only when asked for.
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

// putPageText stores an article's packed page text, in place of the one
// it had.
func putPageText(tx *bolt.Tx, article, packed []byte) error {
	texts, refs := tx.Bucket(bucketPageTexts), tx.Bucket(bucketArticleText)
	texts.FillPercent = appendFill
	if old := refs.Get(article); old != nil {
		if err := texts.Delete(old); err != nil {
			return err
		}
	}
	n, err := texts.NextSequence()
	if err != nil {
		return err
	}
	if err := texts.Put(itob(n), packed); err != nil {
		return err
	}
	return refs.Put(article, itob(n))
}

// pageText returns an article's page text, "" if it has none.
func pageText(tx *bolt.Tx, article []byte) (string, error) {
	ref := tx.Bucket(bucketArticleText).Get(article)
	if ref == nil {
		return "", nil
	}
	v := tx.Bucket(bucketPageTexts).Get(ref)
	if v == nil {
		return "", fmt.Errorf("page text %x of article %x is missing", ref, article)
	}
	return unpackText(v)
}

// hasPageText reports whether an article has a page text.
func hasPageText(tx *bolt.Tx, article []byte) bool {
	return tx.Bucket(bucketArticleText).Get(article) != nil
}

// deletePageText drops an article's page text and reports whether it had
// one.
func deletePageText(tx *bolt.Tx, article []byte) (bool, error) {
	refs := tx.Bucket(bucketArticleText)
	ref := refs.Get(article)
	if ref == nil {
		return false, nil
	}
	if err := tx.Bucket(bucketPageTexts).Delete(ref); err != nil {
		return false, err
	}
	return true, refs.Delete(article)
}

// migrateChunk is how many texts one transaction of migrateFullText moves.
const migrateChunk = 1000

// migrateFullText moves the texts of versions that kept them by article id
// (bucket full_text) into page_texts and article_text, a chunk per
// transaction so the writer never holds hundreds of MB of dirty pages. A
// crash between two chunks loses nothing: a text moves in the same
// transaction that deletes it from full_text, and the next Open goes on.
func migrateFullText(db *bolt.DB) error {
	for {
		// Looked at first, so that a database with nothing to move opens
		// without a commit.
		var legacy bool
		_ = db.View(func(tx *bolt.Tx) error { legacy = tx.Bucket(bucketFullText) != nil; return nil })
		if !legacy {
			return nil
		}
		err := db.Update(func(tx *bolt.Tx) error {
			old := tx.Bucket(bucketFullText)
			var keys [][]byte
			c := old.Cursor()
			for k, v := c.First(); k != nil && len(keys) < migrateChunk; k, v = c.Next() {
				if err := putPageText(tx, k, v); err != nil {
					return err
				}
				keys = append(keys, k)
			}
			if len(keys) == 0 {
				return tx.DeleteBucket(bucketFullText)
			}
			for _, k := range keys {
				if err := old.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate full texts: %w", err)
		}
	}
}
