package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dozor/internal/config"
	"dozor/jobs"
	"dozor/storage"
)

// The retention rules lean on folding never reaching further back than
// storage.FoldHorizon.
func TestFoldHorizonCoversFoldWindow(t *testing.T) {
	if jobs.FoldWindow >= storage.FoldHorizon {
		t.Errorf("jobs.FoldWindow %v must stay below storage.FoldHorizon %v: Prune would drop signatures and delivery records of stories that can still take reprints",
			jobs.FoldWindow, storage.FoldHorizon)
	}
}

// maintApp is an app on a database of its own in a temporary directory.
func maintApp(t *testing.T, kv ...string) (*app, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	m := map[string]string{"DOZOR_DB": filepath.Join(dir, "data", "dozor.db")}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return &app{cfg: cfg, log: slog.New(slog.DiscardHandler), stdout: &out, stderr: &out}, &out
}

// seed stores n articles fetched at fetched, each with a page text of
// size bytes, each its own story; it returns their ids.
func seed(t *testing.T, st *storage.Store, from, n, size int, fetched time.Time) []uint64 {
	t.Helper()
	var nas []storage.NewArticle
	for i := from; i < from+n; i++ {
		url := fmt.Sprintf("https://seed.example/%d", i)
		nas = append(nas, storage.NewArticle{Article: storage.Article{Key: url, URL: url, Title: fmt.Sprintf("Статья %d", i),
			Text: strings.Repeat("ВТБ и Китай. ", 30), Fetched: fetched}, Page: storage.PageBulk, Host: "seed.example"})
	}
	res, err := st.SaveFetches([]storage.FetchResult{{Articles: nas}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	var pages []storage.PageResult
	for _, a := range res[0] {
		ids = append(ids, a.ID)
		pages = append(pages, storage.PageResult{ArticleID: a.ID, Lane: storage.PageBulk, FullText: strings.Repeat("т", size/2)})
	}
	if err := st.SavePages(pages); err != nil {
		t.Fatal(err)
	}
	for {
		k, err := st.FoldBatch(1000, fetched, func(tx *storage.FoldTx, j storage.FoldJob) error {
			_, err := tx.NewStory(&j.Article)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			return ids
		}
	}
}

func openDB(t *testing.T, a *app, cmd string) *storage.Store {
	t.Helper()
	st, err := storage.Open(a.cfg.DB, storage.Options{Command: cmd})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPruneAndCompactCommands(t *testing.T) {
	a, out := maintApp(t, "RETENTION_DAYS", "30")
	st := openDB(t, a, "dozor test")
	old := seed(t, st, 1, 2000, 6000, time.Now().Add(-60*24*time.Hour))
	recent := seed(t, st, 5000, 10, 6000, time.Now().Add(-time.Hour))
	st.Close()

	// Refused while dozor run holds the database.
	holder := openDB(t, a, "dozor run")
	err := a.compact(context.Background())
	if !errors.Is(err, storage.ErrLocked) || !strings.Contains(err.Error(), "dozor run") || !strings.Contains(err.Error(), "stop dozor first") {
		t.Errorf("compact while dozor run holds the database: %v", err)
	}
	if err := a.prune(context.Background()); !errors.Is(err, storage.ErrLocked) {
		t.Errorf("prune while dozor run holds the database: %v", err)
	}
	holder.Close()

	if err := a.prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "prune: older than 30 days: 2000 article texts dropped (2000 page texts)") {
		t.Errorf("prune output:\n%s", out)
	}
	out.Reset()
	before := fileSize(a.cfg.DB)
	if err := a.compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := fileSize(a.cfg.DB)
	if !strings.Contains(out.String(), "compact: "+a.cfg.DB) || !strings.Contains(out.String(), "freed") || after*3 > before {
		t.Errorf("compact %d → %d bytes, output %q", before, after, out)
	}
	t.Logf("%s", strings.TrimSpace(out.String()))

	st = openDB(t, a, "dozor test")
	defer st.Close()
	if art, err := st.Article(old[0]); err != nil || art.Text != "" || art.FullText != "" || art.Title != "Статья 1" {
		t.Errorf("old article after prune and compact: %+v, %v", art, err)
	}
	if art, err := st.Article(recent[0]); err != nil || art.Text == "" || art.FullText == "" {
		t.Errorf("recent article after prune and compact: %+v, %v", art, err)
	}
}

func TestCompactAndPruneNeedADatabase(t *testing.T) {
	a, _ := maintApp(t)
	for name, run := range map[string]func() error{
		"compact": func() error { return a.compact(context.Background()) },
		"prune":   func() error { return a.prune(context.Background()) },
		"backup":  func() error { return a.backup(context.Background(), filepath.Join(t.TempDir(), "b.db")) },
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "no database") {
			t.Errorf("%s without a database: %v", name, err)
		}
	}
	if _, err := os.Stat(a.cfg.DB); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a database was created: %v", err)
	}
}

// waitSocket waits until something listens at sock.
func waitSocket(t *testing.T, sock string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens at %s", sock)
}

func TestBackupCommand(t *testing.T) {
	a, out := maintApp(t)
	st := openDB(t, a, "dozor test")
	seed(t, st, 1, 100, 2000, time.Now())
	st.Close()

	// No dozor runs: the command reads the file itself.
	file1 := filepath.Join(t.TempDir(), "b1.db")
	if err := a.backup(context.Background(), file1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from the database file") {
		t.Errorf("output %q", out)
	}
	if err := storage.VerifyBackup(file1); err != nil {
		t.Error(err)
	}

	// dozor run holds the database and serves backups: the command asks it.
	st = openDB(t, a, "dozor run")
	old := pruneAfter
	pruneAfter = time.Hour
	defer func() { pruneAfter = old }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.maintain(ctx, st) }()
	sock := storage.SocketPath(a.cfg.DB)
	waitSocket(t, sock)
	seed(t, st, 1000, 50, 2000, time.Now()) // dozor goes on writing
	out.Reset()
	file2 := filepath.Join(t.TempDir(), "b2.db")
	if err := a.backup(context.Background(), file2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from the running dozor") {
		t.Errorf("output %q", out)
	}
	b, err := storage.Open(file2, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := b.Count(); err != nil || c.Articles != 150 {
		t.Errorf("backup holds %+v, %v; want 150 articles", c, err)
	}
	b.Close()
	// A backup over the database itself is refused.
	for _, f := range []string{a.cfg.DB, sock} {
		if err := a.backup(context.Background(), f); err == nil {
			t.Errorf("backup to %s accepted", f)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after dozor run stopped: %v", err)
	}
	st.Close()

	// Another command holds the database and serves nothing: say so.
	holder := openDB(t, a, "dozor poll")
	defer holder.Close()
	err = a.backup(context.Background(), filepath.Join(t.TempDir(), "b3.db"))
	if err == nil || !strings.Contains(err.Error(), "dozor poll") || !strings.Contains(err.Error(), "does not serve backups") {
		t.Errorf("backup while dozor poll holds the database: %v", err)
	}
}

func TestMaintainPrunes(t *testing.T) {
	a, _ := maintApp(t, "RETENTION_DAYS", "30")
	st := openDB(t, a, "dozor run")
	defer st.Close()
	ids := seed(t, st, 1, 10, 1000, time.Now().Add(-60*24*time.Hour))
	old := pruneAfter
	pruneAfter = 10 * time.Millisecond
	defer func() { pruneAfter = old }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.maintain(ctx, st) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		art, err := st.Article(ids[9])
		if err != nil {
			t.Fatal(err)
		}
		if art.Text == "" && art.FullText == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dozor run's maintenance did not prune")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRestoreCommand(t *testing.T) {
	a, out := maintApp(t)
	st := openDB(t, a, "dozor test")
	seed(t, st, 1, 20, 500, time.Now())
	st.Close()
	bk := filepath.Join(t.TempDir(), "backup.db")
	if err := a.backup(context.Background(), bk); err != nil {
		t.Fatal(err)
	}
	st = openDB(t, a, "dozor run")
	seed(t, st, 100, 20, 500, time.Now()) // after the backup
	// A search index next to the database, as dozor run keeps it.
	if err := os.MkdirAll(filepath.Join(a.cfg.SearchIndex, "store"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(a.cfg.SearchIndex, "index_meta.json"), []byte("{}"), 0o600)

	err := a.restore(context.Background(), bk)
	if !errors.Is(err, storage.ErrLocked) || !strings.Contains(err.Error(), "dozor run") {
		t.Errorf("restore while dozor run holds the database: %v", err)
	}
	if _, err := os.Stat(a.cfg.SearchIndex); err != nil {
		t.Errorf("the index was removed although the restore was refused: %v", err)
	}
	st.Close()

	// A directory that is not only an index is never removed, and the
	// restore stops before touching the database.
	os.WriteFile(filepath.Join(a.cfg.SearchIndex, "notes.txt"), []byte("mine"), 0o600)
	if err := a.restore(context.Background(), bk); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("restore with a foreign file in the index: %v", err)
	}
	if c := countArticles(t, a.cfg.DB); c != 40 {
		t.Errorf("the database changed: %d articles", c)
	}
	os.Remove(filepath.Join(a.cfg.SearchIndex, "notes.txt"))

	out.Reset()
	if err := a.restore(context.Background(), bk); err != nil {
		t.Fatal(err)
	}
	if c := countArticles(t, a.cfg.DB); c != 20 {
		t.Errorf("restored database has %d articles, want 20", c)
	}
	if _, err := os.Stat(a.cfg.SearchIndex); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("search index still there: %v", err)
	}
	if !strings.Contains(out.String(), "replaced by") || !strings.Contains(out.String(), "rebuilds it") {
		t.Errorf("output %q", out)
	}
	if err := a.restore(context.Background(), a.cfg.DB); err == nil {
		t.Error("restored the database over itself")
	}
}

func countArticles(t *testing.T, db string) int {
	t.Helper()
	st, err := storage.Open(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.Count()
	if err != nil {
		t.Fatal(err)
	}
	return c.Articles
}
