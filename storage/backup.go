package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Backups, compaction and restore.
//
// A backup is a consistent copy of the whole file written from one read
// transaction (bbolt's Tx.WriteTo): it sees the database as of one commit
// and does not block the writer, except that a commit which needs to grow
// the file's memory map waits until the copy is done. The process that runs
// dozor holds bbolt's file lock, so another process cannot open the file
// to copy it; the running process therefore serves copies on a unix socket
// next to the database (ServeBackups), and `dozor backup` asks it for one
// (RequestBackup), or, when nothing runs, opens the file itself.
//
// Compaction and restore replace the file: they take the lock, write the
// new file next to it, fsync it, and rename it over the old one while
// still holding the old file's lock.

// ErrNoServer is returned by RequestBackup when no process serves backups
// at the socket: none is running, or one was killed and left its socket.
var ErrNoServer = errors.New("no running dozor serves backups")

// SocketPath is where the process holding the database at dbPath serves
// backups.
func SocketPath(dbPath string) string { return dbPath + ".sock" }

// swapHold is how long compaction and restore keep the old file locked
// after renaming the new one over it. A process that opened the old path
// just before the rename waits for that lock (Open gives up after its
// Timeout, 0.5 s in dozor's commands); holding it longer makes such a
// process fail with ErrLocked instead of getting the old, unlinked file.
const swapHold = time.Second

// compactTxMax bounds the size of one write transaction of compaction, so
// copying a large file never holds all of it in memory.
const compactTxMax = 64 << 20

// WriteBackup writes a consistent copy of the database to w and returns
// the number of bytes written. It runs in one read transaction, so dozor
// goes on working meanwhile.
func (s *Store) WriteBackup(w io.Writer) (int64, error) {
	return s.writeBackup(w, nil)
}

// writeBackup is WriteBackup that first tells header the exact size the
// copy will have.
func (s *Store) writeBackup(w io.Writer, header func(size int64) error) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if header != nil {
			if err := header(tx.Size()); err != nil {
				return err
			}
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// backupBuckets must exist in anything that claims to be a dozor database.
var backupBuckets = [][]byte{bucketMeta, bucketSources, bucketArticles, bucketArticleKeys, bucketStories}

// VerifyBackup opens a copy read-only with bbolt, checks that it holds
// dozor's buckets, reads every key and value of every bucket, and runs
// bbolt's consistency check over every page.
//
// The read comes first, in a goroutine of its own that turns faults into
// panics (runtime/debug.SetPanicOnFault) and recovers them: bbolt's check
// of a file without a stored freelist (as dozor wrote them before 2026-12) rebuilds the freelist in a
// goroutine that panics, unrecoverably, on a damaged page. Once every page
// has been read safely, the check cannot meet one.
func VerifyBackup(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("storage: %s is not a usable bbolt file: %w", path, err)
	}
	defer db.Close()
	read := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		read <- db.View(func(tx *bolt.Tx) error {
			for _, b := range backupBuckets {
				if tx.Bucket(b) == nil {
					return fmt.Errorf("not a dozor database: it has no %q bucket", b)
				}
			}
			return readAll(tx)
		})
	}()
	if err := <-read; err != nil {
		return fmt.Errorf("storage: %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		var errs []string
		for err := range tx.Check() {
			if len(errs) < 5 {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("damaged: %s", strings.Join(errs, "; "))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: %s: %w", path, err)
	}
	return nil
}

// readAll reads every key and value of every bucket, nested ones too; a
// damaged page (bbolt's page assertions, a fault reading the map) is an
// error, not a crash.
func readAll(tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	var sum byte
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			for _, x := range k {
				sum ^= x
			}
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					walk(nb)
				}
				continue
			}
			for _, x := range v {
				sum ^= x
			}
		}
	}
	err = tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		walk(b)
		return nil
	})
	_ = sum
	return err
}

// WriteBackupFile writes a backup to path safely: write streams the copy
// into path.tmp (mode 0600), which is fsynced, verified (VerifyBackup) and
// only then renamed to path, so path is either the old file or a complete,
// checked copy. It returns the size of the copy.
func WriteBackupFile(path string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("storage: backup: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // an old tmp file keeps its mode
		return 0, fmt.Errorf("storage: backup: %w", err)
	}
	n, err := write(f)
	if err != nil {
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	if err := VerifyBackup(tmp); err != nil {
		return n, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	done = true
	if err := syncDir(filepath.Dir(path)); err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fileSize is the size of a file, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// CompactFile rewrites the database at path into a new file with every
// bucket's contents and none of its free pages, and puts it in place of
// the old one. bbolt never gives space back to the file system: after
// Prune dropped old texts the file keeps its size, with the space free
// inside it. It opens the store itself, so it fails with ErrLocked while
// another process (dozor run) holds it. It returns the file's size before
// and after.
//
// The copy goes to path.compact (mode 0600) with bbolt.Compact, is checked
// against the original (keys and sequence of every bucket), fsynced, and
// renamed over path while the original is still locked; a crash at any
// point leaves either the old file or the new one at path, never a torn
// one (a stale path.compact is removed by the next run).
func CompactFile(path string, opts Options) (before, after int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("storage: compact: %w", err)
	}
	src, err := Open(path, opts)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := src.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	before = fileSize(path)
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	if err := compactInto(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("storage: compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return before, 0, fmt.Errorf("storage: compact %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return before, fileSize(path), fmt.Errorf("storage: compact %s: %w", path, err)
	}
	time.Sleep(swapHold)
	return before, fileSize(path), nil
}

// compactInto copies src into a new file at tmp, checks it and fsyncs it.
func compactInto(src *Store, tmp string) error {
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{
		Timeout:      time.Second,
		FreelistType: bolt.FreelistMapType,
		NoSync:       true, // one fsync at the end instead of one per chunk
	})
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src.db, compactTxMax); err != nil {
		_ = dst.Close()
		return err
	}
	if err := sameContents(src.db, dst); err != nil {
		_ = dst.Close()
		return err
	}
	var used int64
	_ = dst.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := dst.Close(); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	// bbolt grows a file ahead of its data (up to 16 MiB at a time); the
	// copy needs none of that until dozor writes again.
	if fi, err := f.Stat(); err == nil && used > 0 && fi.Size() > used {
		if err := f.Truncate(used); err != nil {
			return err
		}
	}
	return f.Sync()
}

// sameContents compares the number of keys and the sequence of every
// top-level bucket of two databases.
func sameContents(a, b *bolt.DB) error {
	type census struct {
		keys int
		seq  uint64
	}
	take := func(db *bolt.DB) (map[string]census, error) {
		out := map[string]census{}
		err := db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
				out[string(name)] = census{bk.Stats().KeyN, bk.Sequence()}
				return nil
			})
		})
		return out, err
	}
	ca, err := take(a)
	if err != nil {
		return err
	}
	cb, err := take(b)
	if err != nil {
		return err
	}
	if len(ca) != len(cb) {
		return fmt.Errorf("copy has %d buckets, original %d", len(cb), len(ca))
	}
	for name, c := range ca {
		if cb[name] != c {
			return fmt.Errorf("bucket %s: copy has %d keys (sequence %d), original %d (sequence %d)",
				name, cb[name].keys, cb[name].seq, c.keys, c.seq)
		}
	}
	return nil
}

// RestoreFile puts a backup in place of the database at dbPath: it checks
// the backup (VerifyBackup), takes the database's lock (ErrLocked while
// dozor runs), calls invalidate (if set) to remove what was derived from
// the old database, such as the search index, then copies the backup to
// dbPath.restore, fsyncs it and renames it over dbPath, all while holding
// the lock. A database file so damaged that bbolt cannot open it is not
// held by any process (bbolt takes the lock before reading the file), and
// is replaced all the same.
func RestoreFile(dbPath, backup string, opts Options, invalidate func() error) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if err := VerifyBackup(backup); err != nil {
		return err
	}
	if same, _ := sameFile(dbPath, backup); same {
		return fmt.Errorf("storage: restore: %s is the database itself", backup)
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	held, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: opts.Timeout, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		if holder := readOwner(dbPath); holder != "" {
			return fmt.Errorf("storage: %s is in use by %s: %w", dbPath, holder, ErrLocked)
		}
		return fmt.Errorf("storage: %s is in use by another process: %w", dbPath, ErrLocked)
	case err != nil:
		held = nil // damaged beyond opening: nobody holds it
	}
	if held != nil {
		defer held.Close()
	}
	if invalidate != nil {
		if err := invalidate(); err != nil {
			return fmt.Errorf("storage: restore: %w", err)
		}
	}
	tmp := dbPath + ".restore"
	if err := copyFile(tmp, backup); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: restore: %w", err)
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("storage: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	if held != nil {
		time.Sleep(swapHold)
	}
	return nil
}

// copyFile copies src to dst (mode 0600) and fsyncs dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Chmod(0o600); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// sameFile reports whether two paths name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// The backup protocol on the socket: the client sends "BACKUP\n"; the
// server answers "OK <size>\n" followed by exactly size bytes of the copy,
// or "ERR <reason>\n".
const (
	backupRequest = "BACKUP"
	// maxSockPath is what a unix socket address holds on Linux, less the
	// terminating NUL; macOS allows 103.
	maxSockPath = 107
)

// ServeBackups serves backups of s on a unix socket at sockPath (mode
// 0600) until ctx ends, then closes the connections in flight and removes
// the socket. Only the process that holds the database may call it: a
// socket file left at sockPath by a process that was killed is removed
// first. Backups are served one at a time.
func ServeBackups(ctx context.Context, s *Store, sockPath string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(sockPath) > maxSockPath {
		return fmt.Errorf("storage: backup socket %s: path longer than the %d bytes a unix socket allows; put DOZOR_DB on a shorter path", sockPath, maxSockPath)
	}
	if fi, err := os.Lstat(sockPath); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("storage: backup socket %s: a file that is not a socket is in the way", sockPath)
		}
		_ = os.Remove(sockPath) // left by a process that was killed
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("storage: backup socket: %w", err)
	}
	if err := os.Chmod(sockPath, 0o600); err != nil {
		_ = ln.Close()
		return fmt.Errorf("storage: backup socket: %w", err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		one   sync.Mutex // one backup at a time
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	var acceptErr error
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("storage: backup socket: %w", err)
			}
			break
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			_ = c.Close()
			break
		}
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				_ = c.Close()
			}()
			one.Lock()
			defer one.Unlock()
			serveBackup(s, c, log)
		}()
	}
	_ = ln.Close()
	wg.Wait()
	if err := os.Remove(sockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("remove backup socket", "path", sockPath, "err", err)
	}
	return acceptErr
}

func serveBackup(s *Store, c net.Conn, log *slog.Logger) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 64)).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != backupRequest {
		fmt.Fprintf(c, "ERR unknown request %q\n", strings.TrimSpace(line))
		return
	}
	start := time.Now()
	w := bufio.NewWriterSize(c, 1<<20)
	n, err := s.writeBackup(w, func(size int64) error {
		_, err := fmt.Fprintf(w, "OK %d\n", size)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		log.Warn("backup not completed", "bytes", n, "err", err)
		return
	}
	log.Info("backup served", "bytes", n, "elapsed", time.Since(start).Round(time.Millisecond))
}

// RequestBackup asks the process serving backups at sockPath for a copy
// and writes it to w. It fails with ErrNoServer when no process listens
// there, and with an error when the copy comes short of the size the
// server announced. Cancelling ctx stops it.
func RequestBackup(ctx context.Context, sockPath string, w io.Writer) (int64, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sockPath)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return 0, fmt.Errorf("storage: %w at %s", ErrNoServer, sockPath)
		}
		return 0, fmt.Errorf("storage: backup socket: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if _, err := io.WriteString(c, backupRequest+"\n"); err != nil {
		return 0, fmt.Errorf("storage: backup request: %w", ctxErr(ctx, err))
	}
	r := bufio.NewReaderSize(c, 1<<20)
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("storage: backup request: no answer: %w", ctxErr(ctx, err))
	}
	line = strings.TrimSpace(line)
	if reason, ok := strings.CutPrefix(line, "ERR "); ok {
		return 0, fmt.Errorf("storage: backup refused: %s", reason)
	}
	sz, ok := strings.CutPrefix(line, "OK ")
	size, perr := strconv.ParseInt(sz, 10, 64)
	if !ok || perr != nil || size < 0 {
		return 0, fmt.Errorf("storage: backup request: unexpected answer %q", line)
	}
	n, err := io.CopyN(w, r, size)
	if err != nil {
		return n, fmt.Errorf("storage: backup cut off after %d of %d bytes: %w", n, size, ctxErr(ctx, err))
	}
	return n, nil
}

// ctxErr prefers the context's error to the one a closed connection gave.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
