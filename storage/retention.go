package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Retention. A watcher running for years keeps every article it ever saw;
// what makes the file grow is the text, not the identity. Prune drops the
// text of old articles and the records nobody reads again, and keeps what
// the archive lists and what dedup and "one message per story" rest on.
//
// Kept for ever:
//   - an article's record without its text: key, URL, GUID, title, source,
//     times, language, topics, backlog mark; its article_keys entry (so a
//     re-poll never stores it again), its article_time entry (so the
//     archive still lists it) and its story (article_story);
//   - stories, with the topics they alerted on, and their summaries;
//   - queued and held (digest) deliveries and everything in the
//     pipeline's queues.
//
// Dropped:
//   - the feed's text and the page's text (buckets page_texts and
//     article_text) of articles stored more than keep ago, and their
//     embeddings (bucket vectors);
//     the story's own vector (story_vecs) stays for 🔎 and search;
//   - the signatures of stories not seen for FoldHorizon (bucket
//     story_sigs), whatever keep is: the fold stage reads only those seen
//     within its window, at start;
//   - sent and refused delivery records older than keep, of stories that
//     can no longer alert (see pruneDelivered);
//   - usage counters of days older than keep.

// FoldHorizon is longer than any fold window: a story that took no article
// for this long can never take one again, because the fold stage compares
// new articles only with stories seen within jobs.FoldWindow (72 h), and a
// story alerts only when an article joins it. Prune drops the signatures
// of such stories and lets their delivery records age out. A test in
// internal/cli checks that jobs.FoldWindow stays below it.
const FoldHorizon = 7 * 24 * time.Hour

// pruneChunk is how many records one write transaction of Prune changes at
// most, so it never holds bbolt's single writer for long: the pipeline's
// stages commit between two chunks.
const pruneChunk = 2000

// metaPruneMark holds an article id such that Prune is done with every
// article up to it: ids grow with the time an article was stored, so the
// articles stored more than keep ago are a prefix of the ids, and each run
// reads only what aged since the last (and what the pipeline held then).
const metaPruneMark = "prune_article_mark"

// PruneReport counts what one Prune dropped.
type PruneReport struct {
	Texts      int // articles that lost their feed text, page text or both
	FullTexts  int // page texts among them (bucket page_texts)
	Signatures int // story signatures (bucket story_sigs)
	Delivered  int // sent or refused delivery records (bucket delivered)
	Usage      int // days of usage counters (bucket usage)
	// Held is the id of the first old article the pipeline still holds
	// (queued for its page, its fold, its summary or its fan-out): it
	// keeps its text until a later run, when the pipeline let it go. 0 if
	// none.
	Held uint64
}

// Prune drops what is older than keep at now, as the comment above says;
// keep <= 0 keeps articles, delivery records and usage for ever and only
// drops dead story signatures.
//
// An article loses its text once it is older than keep both by its time
// key (article_time) and by when dozor stored it; since its time is never
// later than when it was stored, the second is what decides. So an item a
// feed still carried a year after publishing, stored today (backlog),
// keeps its text for keep from today rather than losing it at once, and
// each run reads only the articles stored since the last run's cut-off.
//
// Prune works in chunks of at most pruneChunk changes per write
// transaction and reads in read transactions, which do not block the
// writer; it is safe to run while dozor runs, may be interrupted at any
// point, and is idempotent: a second run at the same now drops nothing. An
// article that loses text is queued for the search index, which then
// holds only its title too.
func (s *Store) Prune(now time.Time, keep time.Duration) (PruneReport, error) {
	var rep PruneReport
	var err error
	if rep.Signatures, err = s.pruneSigs(now.Add(-FoldHorizon)); err != nil {
		return rep, err
	}
	if keep <= 0 {
		return rep, nil
	}
	cutoff := now.Add(-keep)
	if err = s.pruneTexts(cutoff, &rep); err != nil {
		return rep, err
	}
	if rep.Delivered, err = s.pruneDelivered(cutoff, now.Add(-FoldHorizon)); err != nil {
		return rep, err
	}
	if rep.Usage, err = s.pruneUsage(cutoff); err != nil {
		return rep, err
	}
	return rep, nil
}

// textless is an article's record without its feed text, or nil when it
// has none to drop. Unknown fields are kept as they are.
func textless(rec []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		return nil, err
	}
	_, hasText := m["text"]
	_, hasFull := m["full_text"] // never written, but drop it if it is
	if !hasText && !hasFull {
		return nil, nil
	}
	delete(m, "text")
	delete(m, "full_text")
	return json.Marshal(m)
}

// articleTimes is what pruning reads of an article's record.
type articleTimes struct {
	Published time.Time `json:"published"`
	Fetched   time.Time `json:"fetched"`
}

func (a articleTimes) old(cutoff time.Time) bool {
	t := Article{Published: a.Published, Fetched: a.Fetched}
	return t.Time().Before(cutoff) && a.Fetched.Before(cutoff)
}

// heldArticles are the articles the pipeline still needs the text of:
// those waiting for their summary or their fan-out. (Articles waiting for
// their page or their fold are looked up in those queues by id.)
func heldArticles(tx *bolt.Tx) (map[uint64]bool, error) {
	held := map[uint64]bool{}
	for _, name := range [][]byte{bucketAlerts, bucketFanoutQueue} {
		err := forEachJSON(tx.Bucket(name), func(_ []byte, a *Alert) error {
			held[a.ArticleID] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return held, nil
}

func articleHeld(tx *bolt.Tx, held map[uint64]bool, k []byte) bool {
	id := btoi(k)
	pages := tx.Bucket(bucketPageQueue)
	return held[id] || tx.Bucket(bucketFoldQueue).Get(k) != nil || embedQueued(tx, id) ||
		pages.Get(pageKey(PageUrgent, id)) != nil || pages.Get(pageKey(PageBulk, id)) != nil
}

// pruneTexts drops the texts of the articles stored before cutoff, in id
// order from the mark of the last run, up to the first article that is
// not old yet. An article the pipeline still holds keeps its text and the
// mark stays before it, so the next run looks at it again; the articles
// after it are pruned all the same (looking at them again costs a read,
// no write).
func (s *Store) pruneTexts(cutoff time.Time, rep *PruneReport) error {
	m, err := s.GetMeta(metaPruneMark)
	if err != nil {
		return err
	}
	mark := btoi(m) // every article up to here is done with
	pos := mark     // where the scan goes on
	for {
		var ids [][]byte
		newMark, newPos := mark, pos
		done := false
		// Read which articles need a change, outside the writer.
		err := s.db.View(func(tx *bolt.Tx) error {
			held, err := heldArticles(tx)
			if err != nil {
				return err
			}
			arts := tx.Bucket(bucketArticles)
			c := arts.Cursor()
			k, v := c.Seek(itob(pos + 1))
			for ; k != nil && len(ids) < pruneChunk; k, v = c.Next() {
				var at articleTimes
				if err := json.Unmarshal(v, &at); err != nil {
					return fmt.Errorf("decode article %x: %w", k, err)
				}
				if !at.old(cutoff) {
					done = true
					return nil
				}
				id := btoi(k)
				newPos = id
				if articleHeld(tx, held, k) {
					if rep.Held == 0 {
						rep.Held = id
					}
					continue
				}
				if rep.Held == 0 {
					newMark = id
				}
				if hasPageText(tx, k) || bytes.Contains(v, []byte(`"text":`)) {
					ids = append(ids, bytes.Clone(k))
				}
			}
			done = k == nil
			return nil
		})
		if err != nil {
			return fmt.Errorf("storage: prune texts: %w", err)
		}
		if len(ids) == 0 && newMark == mark {
			return nil
		}
		texts, full := 0, 0
		err = s.update(func(tx *bolt.Tx) error {
			texts, full = 0, 0
			held, err := heldArticles(tx)
			if err != nil {
				return err
			}
			arts := tx.Bucket(bucketArticles)
			for _, k := range ids {
				rec := arts.Get(k)
				if rec == nil || articleHeld(tx, held, k) {
					continue // gone, or taken up by the pipeline meanwhile: keeps its text
				}
				changed := false
				slim, err := textless(rec)
				if err != nil {
					return fmt.Errorf("decode article %x: %w", k, err)
				}
				if slim != nil {
					if err := arts.Put(k, slim); err != nil {
						return err
					}
					changed = true
				}
				had, err := deletePageText(tx, k)
				if err != nil {
					return err
				}
				if had {
					full++
					changed = true
				}
				// Its embedding was made of the text that is gone.
				if err := tx.Bucket(bucketVectors).Delete(k); err != nil {
					return err
				}
				if changed {
					texts++
					if err := queueIndex(tx, btoi(k)); err != nil {
						return err
					}
				}
			}
			if newMark == mark {
				return nil
			}
			return tx.Bucket(bucketMeta).Put([]byte(metaPruneMark), itob(newMark))
		})
		if err != nil {
			return fmt.Errorf("storage: prune texts: %w", err)
		}
		rep.Texts += texts
		rep.FullTexts += full
		mark, pos = newMark, newPos
		if done {
			return nil
		}
	}
}

// sweep deletes the keys of a bucket that drop selects, reading in read
// transactions and deleting in write transactions of at most pruneChunk
// keys; drop is asked again in the write transaction, so what changed in
// between is judged on what is stored then. prepare, if set, runs once per
// transaction and its result is handed to drop.
func sweep[P any](s *Store, bucket []byte, prepare func(*bolt.Tx) (P, error), drop func(tx *bolt.Tx, p P, k, v []byte) (bool, error)) (int, error) {
	if prepare == nil {
		prepare = func(*bolt.Tx) (P, error) { var p P; return p, nil }
	}
	var after []byte
	total := 0
	for {
		var keys [][]byte
		end := false
		err := s.db.View(func(tx *bolt.Tx) error {
			p, err := prepare(tx)
			if err != nil {
				return err
			}
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(keys) < pruneChunk; k, v = c.Next() {
				ok, err := drop(tx, p, k, v)
				if err != nil {
					return err
				}
				if ok {
					keys = append(keys, bytes.Clone(k))
				}
			}
			end = k == nil
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(keys) == 0 {
			return total, nil
		}
		n := 0
		err = s.update(func(tx *bolt.Tx) error {
			n = 0
			p, err := prepare(tx)
			if err != nil {
				return err
			}
			b := tx.Bucket(bucket)
			for _, k := range keys {
				v := b.Get(k)
				if v == nil {
					continue
				}
				ok, err := drop(tx, p, k, v)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if end {
			return total, nil
		}
		after = keys[len(keys)-1]
	}
}

// pruneSigs drops the signatures of stories last seen before horizon.
func (s *Store) pruneSigs(horizon time.Time) (int, error) {
	n, err := sweep(s, bucketStorySigs, nil, func(_ *bolt.Tx, _ struct{}, _, v []byte) (bool, error) {
		seen, _, ok := decodeSig(v)
		return ok && seen.Before(horizon.Truncate(time.Second)), nil
	})
	if err != nil {
		return n, fmt.Errorf("storage: prune story signatures: %w", err)
	}
	return n, nil
}

// pruneDelivered drops the records of messages sent or refused before
// cutoff, and keeps every queued or held one.
//
// Why dropping them is safe. A delivery record exists so that a story is
// sent to a user once: fan-out queues nothing for a (user, story) pair it
// finds. A message is only ever queued from an alert, and an alert only
// when the fold stage places an article in its story — a new story, or one
// seen within jobs.FoldWindow. So once a story has taken no article for
// FoldHorizon (its Updated is older) and no alert of it waits in the
// summarize or fan-out queues, nothing can queue it again, and its
// records are never read again by fan-out. A story that keeps taking
// reprints stays live however old it is, and its records stay with it. A
// story older than keep (the default is a year) is long dead, so in
// practice every record older than keep goes.
//
// What is lost: nothing that fan-out needs. The "🔎 Similar" button of a
// message older than keep then works only for users still subscribed to
// one of its topics (the bot checks Delivered or the subscription).
func (s *Store) pruneDelivered(cutoff, horizon time.Time) (int, error) {
	type state struct {
		pending map[uint64]bool // stories with an alert in the queues
		dead    map[uint64]bool // stories checked in this transaction
	}
	prepare := func(tx *bolt.Tx) (*state, error) {
		st := &state{pending: map[uint64]bool{}, dead: map[uint64]bool{}}
		for _, name := range [][]byte{bucketAlerts, bucketFanoutQueue} {
			err := forEachJSON(tx.Bucket(name), func(_ []byte, a *Alert) error {
				st.pending[a.StoryID] = true
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	n, err := sweep(s, bucketDelivered, prepare, func(tx *bolt.Tx, st *state, k, v []byte) (bool, error) {
		// Only final states carry a time; queued and held ones (and any
		// state a later version adds) carry a message id and stay.
		if len(v) != 9 || (v[0] != deliverySent && v[0] != deliveryDropped) || len(k) != 16 {
			return false, nil
		}
		if !time.Unix(int64(binary.BigEndian.Uint64(v[1:])), 0).Before(cutoff) {
			return false, nil
		}
		story := binary.BigEndian.Uint64(k[8:])
		if st.pending[story] {
			return false, nil
		}
		dead, seen := st.dead[story]
		if !seen {
			var rec struct {
				Updated time.Time `json:"updated"`
			}
			switch err := getJSON(tx.Bucket(bucketStories), itob(story), &rec); err {
			case nil:
				dead = rec.Updated.Before(horizon)
			case ErrNotFound:
				dead = true // no story, nothing to join
			default:
				return false, err
			}
			st.dead[story] = dead
		}
		return dead, nil
	})
	if err != nil {
		return n, fmt.Errorf("storage: prune delivery records: %w", err)
	}
	return n, nil
}

// pruneUsage drops the usage counters of days (UTC) before cutoff's.
func (s *Store) pruneUsage(cutoff time.Time) (int, error) {
	day := []byte(cutoff.UTC().Format("2006-01-02"))
	n, err := sweep(s, bucketUsage, nil, func(_ *bolt.Tx, _ struct{}, k, _ []byte) (bool, error) {
		return bytes.Compare(k, day) < 0, nil
	})
	if err != nil {
		return n, fmt.Errorf("storage: prune usage: %w", err)
	}
	return n, nil
}
