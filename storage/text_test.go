package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// seedText is one of the real seed articles.
func seedText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "testdata", "seeds", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawText is the stored value of an article's full text.
func rawText(t *testing.T, s *Store, id uint64) []byte {
	t.Helper()
	var v []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bucketFullText).Get(itob(id))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func putRawText(t *testing.T, s *Store, id uint64, v []byte) {
	t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketFullText).Put(itob(id), v) }); err != nil {
		t.Fatal(err)
	}
}

// TestFullTextCompressed: full texts are stored compressed and read back
// exactly, through Article and FullText, and after a reopen.
func TestFullTextCompressed(t *testing.T) {
	s, _ := openTemp(t)
	texts := []string{
		seedText(t, "vtb-ai-centre-china.ru.txt"),
		seedText(t, "finextra-sberbank-china-ai.en.txt"),
		"ё", // short: stored however it comes out, still exact
	}
	var ids []uint64
	var results []PageResult
	for i, text := range texts {
		a := save(t, s, 0, newArt(i+1, PageBulk))[0]
		ids = append(ids, a.ID)
		results = append(results, PageResult{ArticleID: a.ID, Lane: PageBulk, FullText: text})
	}
	if err := s.SavePages(results); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if raw := len(rawText(t, s, ids[i])); 2*raw > len(texts[i]) {
			t.Errorf("seed %d: %d bytes stored for %d of text, want under half", i, raw, len(texts[i]))
		}
	}
	check := func(s *Store) {
		t.Helper()
		for i, id := range ids {
			a, err := s.Article(id)
			if err != nil || a.FullText != texts[i] {
				t.Errorf("Article(%d): %d bytes, %v; want the %d bytes saved", id, len(a.FullText), err, len(texts[i]))
			}
			if ft, err := s.FullText(id); err != nil || ft != texts[i] {
				t.Errorf("FullText(%d): %d bytes, %v; want the %d bytes saved", id, len(ft), err, len(texts[i]))
			}
		}
	}
	check(s)
	check(reopen(t, s))
}

// TestFullTextOlderFormat: a text stored uncompressed by an older version
// still reads as it was.
func TestFullTextOlderFormat(t *testing.T) {
	s, _ := openTemp(t)
	a := save(t, s, 0, newArt(1, PageNone))[0]
	text := seedText(t, "vtb-ai-centre-china.ru.txt")
	putRawText(t, s, a.ID, []byte(text))
	if got, err := s.Article(a.ID); err != nil || got.FullText != text {
		t.Fatalf("Article: %d bytes, %v; want the %d bytes stored", len(got.FullText), err, len(text))
	}
	if got, err := s.FullText(a.ID); err != nil || got != text {
		t.Fatalf("FullText: %d bytes, %v; want the %d bytes stored", len(got), err, len(text))
	}
}

// TestFullTextDamaged: a damaged compressed value is a clear error, not a
// panic, garbage or an empty text.
func TestFullTextDamaged(t *testing.T) {
	s, _ := openTemp(t)
	a := save(t, s, 0, newArt(1, PageNone))[0]
	good := packText(strings.Repeat("Банк ВТБ рассматривает создание центра. ", 50))
	for name, v := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   append(append([]byte(nil), zstdMagic...), strings.Repeat("\xff", 40)...),
	} {
		putRawText(t, s, a.ID, v)
		if _, err := s.Article(a.ID); err == nil || !strings.Contains(err.Error(), "full text") {
			t.Errorf("%s: Article: %v, want an error about the full text", name, err)
		}
		if _, err := s.FullText(a.ID); err == nil {
			t.Errorf("%s: FullText: no error", name)
		}
	}
}
