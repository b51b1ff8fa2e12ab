package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bulkArt is a distinct article n with a feed text of about 400 bytes.
func bulkArt(n int, fetched time.Time) NewArticle {
	url := fmt.Sprintf("https://bulk.example/%d", n)
	return NewArticle{Article: Article{Key: url, URL: url, Title: fmt.Sprintf("Статья %d", n),
		Text: strings.Repeat("ВТБ и Китай. ", 30), Fetched: fetched}, Sig: sigOf(uint32(n)), HasSig: true}
}

// fill stores n articles with page texts of size bytes, folded, and
// returns the next article number.
func fill(t testing.TB, s *Store, from, n, size int, fetched time.Time) int {
	t.Helper()
	for done := 0; done < n; {
		var nas []NewArticle
		for i := 0; i < 500 && done < n; i++ {
			na := bulkArt(from, fetched)
			na.Page, na.Host = PageBulk, "bulk.example"
			nas = append(nas, na)
			from++
			done++
		}
		res, err := s.SaveFetches([]FetchResult{{Articles: nas}})
		if err != nil {
			t.Fatal(err)
		}
		// Texts like news (size bytes, compressing as news does), not
		// one letter repeated, which would compress to nothing.
		words := &growthWorld{rng: rand.New(rand.NewPCG(uint64(from), uint64(size)))}
		var pages []PageResult
		for _, a := range res[0] {
			pages = append(pages, PageResult{ArticleID: a.ID, Lane: PageBulk, FullText: words.text(size), Sig: sigOf(uint32(a.ID)), HasSig: true})
		}
		if err := s.SavePages(pages); err != nil {
			t.Fatal(err)
		}
	}
	for {
		n, err := s.FoldBatch(1000, fetched, func(tx *FoldTx, j FoldJob) error {
			st, err := tx.NewStory(&j.Article)
			if err != nil {
				return err
			}
			return tx.PutSig(st.ID, j.Sig)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return from
		}
	}
}

// dump is every bucket's keys, values and sequence.
func dump(t *testing.T, db *bolt.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var sb strings.Builder
			fmt.Fprintf(&sb, "seq=%d;", b.Sequence())
			err := b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&sb, "%x=%x;", k, v)
				return nil
			})
			out[string(name)] = sb.String()
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dumpFile(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return dump(t, db)
}

// checkCopy opens a copy with bbolt, runs its consistency check, checks
// that its articles agree across buckets (as one snapshot would) and
// returns how many articles it holds.
func checkCopy(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check %s: %v", path, err)
		}
		arts, keys := tx.Bucket(bucketArticles), tx.Bucket(bucketArticleKeys)
		n = arts.Stats().KeyN
		if int(arts.Sequence()) != n || keys.Stats().KeyN != n {
			t.Errorf("copy not from one snapshot: sequence %d, %d articles, %d keys", arts.Sequence(), n, keys.Stats().KeyN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// gatedWriter blocks its first Write until gate is closed.
type gatedWriter struct {
	w       io.Writer
	once    sync.Once
	started chan struct{}
	gate    chan struct{}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.gate
	})
	return g.w.Write(p)
}

func TestWriteBackupWhileWriting(t *testing.T) {
	s, _ := openTemp(t)
	fill(t, s, 1, 1000, 6000, t0)

	// A writer stores articles all along, the way the watcher does.
	stop := make(chan struct{})
	var saved atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 1_000_000
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			var nas []NewArticle
			for range 20 {
				nas = append(nas, bulkArt(n, t0))
				n++
			}
			if _, err := s.SaveFetches([]FetchResult{{Articles: nas}}); err != nil {
				t.Error(err)
				return
			}
			saved.Add(20)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for i := range 3 {
		dst := filepath.Join(t.TempDir(), fmt.Sprintf("copy%d.db", i))
		var atStart, atGate int
		_, err := WriteBackupFile(dst, func(w io.Writer) (int64, error) {
			g := &gatedWriter{w: w, started: make(chan struct{}), gate: make(chan struct{})}
			c, err := s.Count()
			if err != nil {
				return 0, err
			}
			atStart = c.Articles
			go func() {
				// While the copy's read transaction is open, the writer
				// goes on committing: a backup does not block it.
				<-g.started
				from := saved.Load()
				deadline := time.After(10 * time.Second)
				for saved.Load() < from+60 {
					select {
					case <-deadline:
						t.Error("the writer made no progress while a backup was open")
						close(g.gate)
						return
					case <-time.After(time.Millisecond):
					}
				}
				if c, err := s.Count(); err == nil {
					atGate = c.Articles
				}
				close(g.gate)
			}()
			return s.WriteBackup(g)
		})
		if err != nil {
			t.Fatal(err)
		}
		got := checkCopy(t, dst)
		if got < atStart || got >= atGate {
			t.Errorf("copy %d has %d articles; the store had %d when it began and %d while it ran: not one snapshot", i, got, atStart, atGate)
		}
		if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("copy mode: %v %v", fi.Mode(), err)
		}
		if _, err := os.Stat(dst + ".tmp"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary file left: %v", err)
		}
	}
}

// serve runs ServeBackups for s until the test ends or stop is called; it
// returns the socket path and stop, which waits for ServeBackups to return.
func serve(t *testing.T, s *Store) (string, func() error) {
	t.Helper()
	sock := SocketPath(s.Path())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeBackups(ctx, s, sock, nil) }()
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil { // listening
			c.Close()
			break
		}
		if i > 500 {
			cancel()
			t.Fatalf("no socket at %s: %v", sock, <-done)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("ServeBackups did not stop")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return sock, stop
}

func TestBackupThroughSocket(t *testing.T) {
	s, path := openTemp(t)
	fill(t, s, 1, 300, 6000, t0)
	sock, stop := serve(t, s)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	// A second process cannot open the store: that is why the socket is.
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 2 { // two at once are served one after the other
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := filepath.Join(t.TempDir(), fmt.Sprintf("b%d.db", i))
			n, err := WriteBackupFile(dst, func(w io.Writer) (int64, error) { return RequestBackup(ctx, sock, w) })
			if err != nil {
				t.Error(err)
				return
			}
			if n != s.Size() || fileSize(dst) != n {
				t.Errorf("copy of %d bytes, file %d, store %d", n, fileSize(dst), s.Size())
			}
			if got := checkCopy(t, dst); got != 300 {
				t.Errorf("copy has %d articles, want 300", got)
			}
		}()
	}
	wg.Wait()
	// The copy is the store.
	dst := filepath.Join(t.TempDir(), "b.db")
	if _, err := WriteBackupFile(dst, func(w io.Writer) (int64, error) { return RequestBackup(ctx, sock, w) }); err != nil {
		t.Fatal(err)
	}
	if want, got := dump(t, s.db), dumpFile(t, dst); fmt.Sprint(want) != fmt.Sprint(got) {
		t.Error("the copy differs from the store")
	}

	if err := stop(); err != nil {
		t.Fatalf("ServeBackups: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
	if _, err := RequestBackup(ctx, sock, io.Discard); !errors.Is(err, ErrNoServer) {
		t.Errorf("after shutdown: %v, want ErrNoServer", err)
	}
}

func TestBackupWithoutRunningProcess(t *testing.T) {
	s, path := openTemp(t)
	fill(t, s, 1, 50, 1000, t0)
	want := dump(t, s.db)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing listens: the caller is told so and opens the file itself.
	ctx := context.Background()
	if _, err := RequestBackup(ctx, SocketPath(path), io.Discard); !errors.Is(err, ErrNoServer) {
		t.Fatalf("no server: %v", err)
	}
	s2, err := Open(path, Options{Command: "dozor backup"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	dst := filepath.Join(t.TempDir(), "b.db")
	if _, err := WriteBackupFile(dst, s2.WriteBackup); err != nil {
		t.Fatal(err)
	}
	if got := dumpFile(t, dst); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Error("the copy differs from the store")
	}
}

func TestBackupSocketLeftByAKilledProcess(t *testing.T) {
	s, _ := openTemp(t)
	sock := SocketPath(s.Path())
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the socket file stays, as after kill -9
	if _, err := RequestBackup(context.Background(), sock, io.Discard); !errors.Is(err, ErrNoServer) {
		t.Errorf("stale socket: %v, want ErrNoServer", err)
	}
	sock, _ = serve(t, s) // replaces it
	var buf bytes.Buffer
	if n, err := RequestBackup(context.Background(), sock, &buf); err != nil || n != s.Size() {
		t.Errorf("backup through the new socket: %d, %v", n, err)
	}
}

func TestServeBackupsRefusesWhatIsNotASocket(t *testing.T) {
	s, _ := openTemp(t)
	sock := SocketPath(s.Path())
	if err := os.WriteFile(sock, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ServeBackups(ctx, s, sock, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(sock); string(b) != "mine" {
		t.Error("the file was replaced")
	}
	long := "/tmp/" + strings.Repeat("x", 120) + ".sock"
	if err := ServeBackups(ctx, s, long, nil); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Errorf("long path: %v", err)
	}
}

func TestRequestBackupCutOffLeavesNothing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		_, _ = c.Read(buf)
		fmt.Fprintf(c, "OK 100000\n%s", strings.Repeat("x", 10)) // dies mid-copy
	}()
	dst := filepath.Join(t.TempDir(), "b.db")
	_, err = WriteBackupFile(dst, func(w io.Writer) (int64, error) { return RequestBackup(context.Background(), sock, w) })
	if err == nil || !strings.Contains(err.Error(), "cut off after 10 of 100000 bytes") {
		t.Errorf("err = %v", err)
	}
	for _, p := range []string{dst, dst + ".tmp"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

func TestVerifyBackupRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600)
	empty := filepath.Join(dir, "empty.db")
	db, err := bolt.Open(empty, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{garbage, empty, filepath.Join(dir, "missing.db")} {
		if err := VerifyBackup(p); err == nil {
			t.Errorf("%s verified", filepath.Base(p))
		}
	}
	// A good file whose page is damaged fails the check.
	s, _ := openTemp(t)
	fill(t, s, 1, 200, 2000, t0)
	good := filepath.Join(dir, "good.db")
	if _, err := WriteBackupFile(good, s.WriteBackup); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBackup(good); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	for i := 40 * 4096; i < 41*4096; i++ {
		data[i] = 0xff
	}
	bad := filepath.Join(dir, "bad.db")
	os.WriteFile(bad, data, 0o600)
	if err := VerifyBackup(bad); err == nil {
		t.Error("a damaged copy verified")
	}
}

func TestCompactFileShrinksAndKeepsEverything(t *testing.T) {
	s, path := openTemp(t)
	fill(t, s, 1, 3000, 6000, t0.Add(-400*day))
	addUser(t, s, 7, StatusApproved, false, "vtb")
	if err := s.AddUsage(t0, Usage{Calls: 3}); err != nil {
		t.Fatal(err)
	}
	if rep := prune(t, s, t0, 365*day); rep.Texts != 3000 || rep.FullTexts != 3000 {
		t.Fatalf("prune = %+v", rep)
	}
	want := dump(t, s.db)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, after, err := CompactFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compact after dropping 3,000 page texts: %d → %d bytes", before, after)
	if before != 0 && after*4 > before {
		t.Errorf("compaction took %d bytes to %d; want a quarter at most", before, after)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != after || fi.Mode().Perm() != 0o600 {
		t.Errorf("compacted file: %v %v, reported size %d", fi, err, after)
	}
	for _, p := range []string{path + ".compact", path + ".owner"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	if got := dumpFile(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
		for name := range want {
			if got[name] != want[name] {
				t.Errorf("bucket %s differs after compaction", name)
			}
		}
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c := count(t, s2); c.Articles != 3000 || c.Stories != 3000 {
		t.Errorf("after compaction: %+v", c)
	}
	if a, err := s2.Article(42); err != nil || a.Title != "Статья 42" {
		t.Errorf("article 42: %+v, %v", a, err)
	}
	// It goes on working, and growing, as before.
	fill(t, s2, 5000, 10, 100, t0)
	if c := count(t, s2); c.Articles != 3010 {
		t.Errorf("after more writes: %+v", c)
	}
}

func TestCompactFileRefusedWhileLocked(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	holder, err := Open(path, Options{Command: "dozor run"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	fill(t, holder, 1, 20, 100, t0)
	want := dump(t, holder.db)
	_, _, err = CompactFile(path, Options{Timeout: 50 * time.Millisecond, Command: "dozor compact"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "dozor run") {
		t.Fatalf("err = %v, want ErrLocked naming dozor run", err)
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compact file left: %v", err)
	}
	if got := dump(t, holder.db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Error("the database changed")
	}
	// A missing database is not created to be compacted.
	missing := filepath.Join(t.TempDir(), "none.db")
	if _, _, err := CompactFile(missing, Options{}); err == nil {
		t.Error("compacted a missing file")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing database created: %v", err)
	}
}

func TestRestoreFile(t *testing.T) {
	s, path := openTemp(t)
	fill(t, s, 1, 30, 500, t0)
	bk := filepath.Join(t.TempDir(), "backup.db")
	if _, err := WriteBackupFile(bk, s.WriteBackup); err != nil {
		t.Fatal(err)
	}
	want := dumpFile(t, bk)
	fill(t, s, 100, 30, 500, t0) // written after the backup

	called := 0
	invalidate := func() error { called++; return nil }
	if err := RestoreFile(path, bk, Options{Timeout: 50 * time.Millisecond}, invalidate); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "dozor test") {
		t.Fatalf("restore while held: %v", err)
	}
	if called != 0 {
		t.Error("invalidate ran while the database was held")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, []byte("nope"), 0o600)
	if err := RestoreFile(path, garbage, Options{}, invalidate); err == nil || called != 0 {
		t.Errorf("a bad backup restored: %v", err)
	}
	if err := RestoreFile(path, path, Options{}, invalidate); err == nil {
		t.Error("restored the database over itself")
	}
	if err := RestoreFile(path, bk, Options{}, invalidate); err != nil {
		t.Fatal(err)
	}
	if called != 1 {
		t.Errorf("invalidate called %d times", called)
	}
	if got := dumpFile(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Error("the restored database is not the backup")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	// A database damaged beyond opening is replaced all the same.
	os.WriteFile(path, bytes.Repeat([]byte{0xee}, 8192), 0o600)
	if err := RestoreFile(path, bk, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c := count(t, s2); c.Articles != 30 {
		t.Errorf("restored: %+v", c)
	}
}
