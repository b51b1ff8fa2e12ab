package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
		if ref := tx.Bucket(bucketArticleText).Get(itob(id)); ref != nil {
			v = append([]byte(nil), tx.Bucket(bucketPageTexts).Get(ref)...)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func putRawText(t *testing.T, s *Store, id uint64, v []byte) {
	t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { return putPageText(tx, itob(id), v) }); err != nil {
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

// pageTextKeys returns page_texts' keys in order, and article_text as a
// map from article id to text number.
func pageTextKeys(t *testing.T, s *Store) ([]uint64, map[uint64]uint64) {
	t.Helper()
	var keys []uint64
	refs := map[uint64]uint64{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketPageTexts).ForEach(func(k, _ []byte) error {
			keys = append(keys, btoi(k))
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketArticleText).ForEach(func(k, v []byte) error {
			refs[btoi(k)] = btoi(v)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys, refs
}

// TestPageTextsAppended: page texts are appended in the order they are
// saved, whatever the order of their articles, so a new text never lands
// in a leaf written before; a second text of an article replaces its
// first.
func TestPageTextsAppended(t *testing.T) {
	s, _ := openTemp(t)
	var nas []NewArticle
	for i := range 6 {
		nas = append(nas, newArt(i+1, PageBulk))
	}
	arts := save(t, s, 0, nas...)
	// Pages come back in no order of id, a few per commit.
	order := []int{4, 1, 5, 0, 3, 2}
	for _, batch := range [][]int{order[:2], order[2:5], order[5:]} {
		var rs []PageResult
		for _, i := range batch {
			rs = append(rs, PageResult{ArticleID: arts[i].ID, Lane: PageBulk, FullText: fmt.Sprintf("текст страницы %d", i)})
		}
		if err := s.SavePages(rs); err != nil {
			t.Fatal(err)
		}
	}
	keys, refs := pageTextKeys(t, s)
	if len(keys) != 6 || len(refs) != 6 {
		t.Fatalf("%d texts, %d refs; want 6 of each", len(keys), len(refs))
	}
	for n, i := range order {
		if got := refs[arts[i].ID]; got != keys[n] {
			t.Errorf("article %d, saved %d-th: text number %d, want %d (the %d-th key)", i, n+1, got, keys[n], n+1)
		}
	}
	if !slices.IsSorted(keys) {
		t.Errorf("keys %v not in order", keys)
	}

	// A text saved again for an article replaces the first: one text, the
	// newest, at the end.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return putPageText(tx, itob(arts[4].ID), packText("новый текст"))
	}); err != nil {
		t.Fatal(err)
	}
	keys2, refs2 := pageTextKeys(t, s)
	if len(keys2) != 6 || refs2[arts[4].ID] != keys2[5] || keys2[5] <= keys[5] {
		t.Errorf("after a second text: keys %v, ref %d; want 6 keys, the ref the last and new", keys2, refs2[arts[4].ID])
	}
	if got, err := s.FullText(arts[4].ID); err != nil || got != "новый текст" {
		t.Errorf("FullText: %q, %v; want the second text", got, err)
	}
}

// TestFullTextMigrated: a database of an older version, with its page
// texts by article id in full_text (packed and plain, more than one
// chunk), opens with every text readable where it was, and the old bucket
// gone; so does one whose migration a crash cut off between two chunks.
func TestFullTextMigrated(t *testing.T) {
	s, path := openTemp(t)
	const n = 2*migrateChunk + 17
	var nas []NewArticle
	for i := range n {
		nas = append(nas, newArt(i+1, PageNone))
	}
	arts := save(t, s, 0, nas...)
	want := map[uint64]string{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := tx.CreateBucket(bucketFullText)
		if err != nil {
			return err
		}
		for i, a := range arts {
			text := fmt.Sprintf("Текст страницы %d. %s", i, strings.Repeat("Банк ВТБ и Китай. ", i%7))
			want[a.ID] = text
			v := []byte(text) // plain, as before compression
			if i%2 == 0 {
				v = packText(text)
			}
			if i < 300 { // moved already by a migration a crash cut off
				if err := putPageText(tx, itob(a.ID), v); err != nil {
					return err
				}
				continue
			}
			if err := old.Put(itob(a.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	for id, text := range want {
		if got, err := s.FullText(id); err != nil || got != text {
			t.Fatalf("FullText(%d) after migration: %q, %v; want %q", id, got, err, text)
		}
	}
	keys, refs := pageTextKeys(t, s)
	if len(keys) != n || len(refs) != n {
		t.Errorf("%d texts, %d refs after migration; want %d", len(keys), len(refs), n)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketFullText) != nil {
			return errors.New("full_text is still there")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if s.Path() != path {
		t.Fatalf("reopened %s, want %s", s.Path(), path)
	}
}
