package cli

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"io"
	"os"
	"path/filepath"
	"time"

	"dozor/storage"
)

// Running for years: retention (dozor prune, and daily inside dozor run),
// compaction (dozor compact), backups (dozor backup, served by dozor run on
// a unix socket next to the database) and restore (dozor restore).

// pruneAfter is how long dozor run waits after start before its first
// prune, so start-up work (the index catching up, the first watch pass)
// goes first; pruneEvery is the interval after that.
var (
	pruneAfter = 10 * time.Minute
	pruneEvery = 24 * time.Hour
)

// lockWait is how long the maintenance commands wait for the database.
const lockWait = 500 * time.Millisecond

// retention is RETENTION_DAYS as a duration; 0 keeps everything.
func (a *app) retention() time.Duration {
	return time.Duration(a.cfg.RetentionDays) * 24 * time.Hour
}

// maintain is dozor run's housekeeping until ctx ends: it serves backups
// on the socket next to the database and prunes what RETENTION_DAYS lets
// go, once soon after start and then daily. Neither failing stops dozor:
// a socket that cannot be created costs the online backups, and is
// logged; a failed prune is retried the next day.
func (a *app) maintain(ctx context.Context, st *storage.Store) error {
	var g errgroup.Group
	g.Go(func() error {
		sock := storage.SocketPath(a.cfg.DB)
		if err := storage.ServeBackups(ctx, st, sock, a.log); err != nil {
			a.log.Error("backups: not served while dozor runs; dozor backup will fail until it stops", "socket", sock, "err", err)
		}
		return nil
	})
	g.Go(func() error {
		t := time.NewTimer(pruneAfter)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			a.pruneOnce(st, time.Now())
			t.Reset(pruneEvery)
		}
	})
	return g.Wait()
}

// pruneOnce runs one prune and logs what it dropped.
func (a *app) pruneOnce(st *storage.Store, now time.Time) {
	start := time.Now()
	rep, err := st.Prune(now, a.retention())
	if err != nil {
		a.log.Error("retention: prune failed", "err", err)
		return
	}
	a.log.Info("retention: pruned", "retention_days", a.cfg.RetentionDays,
		"texts", rep.Texts, "full_texts", rep.FullTexts, "signatures", rep.Signatures,
		"delivered", rep.Delivered, "usage_days", rep.Usage, "elapsed", time.Since(start).Round(time.Millisecond))
	if rep.Held != 0 {
		a.log.Info("retention: an old article is still in the pipeline and keeps its text until the next prune", "article", rep.Held)
	}
}

// prune is dozor prune: one prune now, for a database dozor run does not
// hold (dozor run prunes by itself, daily).
func (a *app) prune(ctx context.Context) error {
	if err := needDB(a.cfg.DB); err != nil {
		return err
	}
	st, err := a.open("prune")
	if err != nil {
		return err
	}
	defer st.Close()
	before := st.Size()
	rep, err := st.Prune(time.Now(), a.retention())
	if err != nil {
		return err
	}
	if a.cfg.RetentionDays == 0 {
		fmt.Fprintln(a.stdout, "prune: RETENTION_DAYS=0 keeps articles, delivery records and usage for ever")
	} else {
		fmt.Fprintf(a.stdout, "prune: older than %d days: %d article texts dropped (%d page texts), %d delivery records, %d days of usage\n",
			a.cfg.RetentionDays, rep.Texts, rep.FullTexts, rep.Delivered, rep.Usage)
	}
	fmt.Fprintf(a.stdout, "prune: %d story signatures past the fold window dropped\n", rep.Signatures)
	if rep.Held != 0 {
		fmt.Fprintf(a.stdout, "prune: article %d is old but still queued in the pipeline (dozor run finishes it): it keeps its text until the next prune\n", rep.Held)
	}
	fmt.Fprintf(a.stdout, "prune: %s in use; bbolt keeps the file's size (%s): run dozor compact to give the free space back\n",
		mib(before), mib(fileSize(a.cfg.DB)))
	return nil
}

// compact is dozor compact: it rewrites the database without its free
// pages. It needs the database to itself.
func (a *app) compact(ctx context.Context) error {
	if err := needDB(a.cfg.DB); err != nil {
		return err
	}
	start := time.Now()
	before, after, err := storage.CompactFile(a.cfg.DB, storage.Options{Timeout: lockWait, Command: "dozor compact"})
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("%w; compaction needs the database to itself: stop dozor first", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "compact: %s %s → %s (%s freed) in %s\n", a.cfg.DB, mib(before), mib(after),
		mib(before-after), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// backup is dozor backup FILE: a consistent copy of the database, asked
// of the running dozor through its socket, or, when none runs, read from
// the file directly. FILE is written as FILE.tmp, fsynced, verified and
// renamed, so it is never a torn copy.
func (a *app) backup(ctx context.Context, file string) error {
	if err := notTheDatabase(a.cfg.DB, file); err != nil {
		return err
	}
	via := "from the running dozor"
	n, err := storage.WriteBackupFile(file, func(w io.Writer) (int64, error) {
		n, err := storage.RequestBackup(ctx, storage.SocketPath(a.cfg.DB), w)
		if !errors.Is(err, storage.ErrNoServer) {
			return n, err
		}
		// Nothing serves backups: read the file ourselves, under its lock.
		via = "from the database file"
		if err := needDB(a.cfg.DB); err != nil {
			return 0, err
		}
		st, err := storage.Open(a.cfg.DB, storage.Options{Timeout: lockWait, Command: "dozor backup"})
		if errors.Is(err, storage.ErrLocked) {
			return 0, fmt.Errorf("%w, which does not serve backups (only dozor run does): try again when it is done", err)
		}
		if err != nil {
			return 0, err
		}
		defer st.Close()
		return st.WriteBackup(w)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "backup: %s written %s (%s), verified\n", file, via, mib(n))
	return nil
}

// restore is dozor restore FILE: the backup replaces the database, and the
// search index, derived from the old database, is removed so that the next
// start rebuilds it. Refused while any dozor holds the database.
func (a *app) restore(ctx context.Context, file string) error {
	if err := notTheDatabase(a.cfg.DB, file); err != nil {
		return err
	}
	removed := false
	err := storage.RestoreFile(a.cfg.DB, file, storage.Options{Timeout: lockWait}, func() error {
		var err error
		removed, err = removeSearchIndex(a.cfg.SearchIndex)
		return err
	})
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("%w; stop dozor before restoring", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "restore: %s replaced by %s (%s)\n", a.cfg.DB, file, mib(fileSize(a.cfg.DB)))
	if removed {
		fmt.Fprintf(a.stdout, "restore: search index %s removed; dozor rebuilds it at the next start\n", a.cfg.SearchIndex)
	}
	return nil
}

// removeSearchIndex removes the search index directory, refusing one that
// holds anything the index does not write (the same rule search.Open
// keeps). It reports whether there was one.
func removeSearchIndex(dir string) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("search index %s is not a directory: refusing to remove it", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if e.Name() != "index_meta.json" && e.Name() != "store" {
			return false, fmt.Errorf("search index %s holds %q, so it is not (only) a search index: refusing to remove it", dir, e.Name())
		}
	}
	return true, os.RemoveAll(dir)
}

// needDB fails when there is no database at path, rather than letting
// storage.Open create an empty one to compact, prune or copy.
func needDB(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s (DOZOR_DB): %w", path, err)
	}
	return nil
}

// notTheDatabase refuses a backup or restore FILE that is the database or
// one of the files next to it: writing a backup over the live database
// would swap the file under the running process.
func notTheDatabase(db, file string) error {
	adb, err1 := filepath.Abs(db)
	af, err2 := filepath.Abs(file)
	if err1 == nil && err2 == nil {
		for _, p := range []string{adb, storage.SocketPath(adb), adb + ".owner", adb + ".compact", adb + ".restore"} {
			if af == p {
				return fmt.Errorf("%s is the database or one of its own files; name another file", file)
			}
		}
	}
	fi1, err1 := os.Stat(db)
	fi2, err2 := os.Stat(file)
	if err1 == nil && err2 == nil && os.SameFile(fi1, fi2) {
		return fmt.Errorf("%s is the database itself; name another file", file)
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// mib formats a size in bytes for people.
func mib(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	}
}
