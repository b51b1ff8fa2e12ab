package storage

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Source is a feed dozor polls, with the state that makes polling polite
// and lets an admin see why a source fails.
type Source struct {
	ID    uint64    `json:"id"`
	URL   string    `json:"url"`
	Name  string    `json:"name,omitempty"`
	Title string    `json:"title,omitempty"` // the feed's own title
	Added time.Time `json:"added"`

	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`

	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	ErrorAt     time.Time `json:"error_at,omitzero"`
	Failures    int       `json:"failures,omitempty"`  // consecutive
	NextDue     time.Time `json:"next_due,omitzero"`   // backoff after failures
	HoldUntil   time.Time `json:"hold_until,omitzero"` // the server's Retry-After
	Items       int       `json:"items"`               // articles stored from it

	// FullText is the admin's choice of page fetching for this source:
	// FullTextAuto (also ""), FullTextOn or FullTextOff.
	FullText string `json:"full_text,omitempty"`
	// MedianText is the median length, in characters, of the text its
	// items carried at the last fetch that had items; under the teaser
	// limit the feed counts as teaser-only.
	MedianText int `json:"median_text,omitempty"`
	// Broken says how the feed was malformed at the last fetch when dozor
	// had to recover its items leniently; "" for a well-formed feed.
	Broken string `json:"broken,omitempty"`
}

// Page-fetching modes of a source (Source.FullText).
const (
	FullTextAuto = "auto" // fetch pages when the feed carries only teasers
	FullTextOn   = "on"   // fetch every new article's page
	FullTextOff  = "off"  // never fetch pages; the feed's text is all there is
)

// FullTextMode is the source's mode, FullTextAuto when unset.
func (s *Source) FullTextMode() string {
	if s.FullText == "" {
		return FullTextAuto
	}
	return s.FullText
}

// DisplayName is the name to show people.
func (s *Source) DisplayName() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Title != "":
		return s.Title
	}
	return s.URL
}

// NeverFetched reports whether the source has had no successful fetch yet:
// the items of its first fetch are backlog, not news.
func (s *Source) NeverFetched() bool { return s.LastSuccess.IsZero() }

// NewSource is what an admin says about a source.
type NewSource struct {
	URL      string
	Name     string // "" keeps the stored name
	FullText string // "" keeps the stored mode (auto for a new source)
}

// AddSource stores a new source, or updates the name and page-fetching mode
// of an existing one with the same URL. It reports whether the source was
// created.
func (s *Store) AddSource(ns NewSource, now time.Time) (Source, bool, error) {
	var src Source
	created := false
	err := s.update(func(tx *bolt.Tx) error {
		b, urls := tx.Bucket(bucketSources), tx.Bucket(bucketSourceURLs)
		if id := urls.Get([]byte(ns.URL)); id != nil {
			if err := getJSON(b, id, &src); err != nil {
				return err
			}
			changed := false
			if ns.Name != "" && ns.Name != src.Name {
				src.Name, changed = ns.Name, true
			}
			if ns.FullText != "" && ns.FullText != src.FullTextMode() {
				src.FullText, changed = ns.FullText, true
			}
			if !changed {
				return nil
			}
			return putJSON(b, id, &src)
		}
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		src = Source{ID: id, URL: ns.URL, Name: ns.Name, FullText: ns.FullText, Added: now}
		created = true
		if err := urls.Put([]byte(ns.URL), itob(id)); err != nil {
			return err
		}
		return putJSON(b, itob(id), &src)
	})
	if err != nil {
		return Source{}, false, fmt.Errorf("storage: add source %s: %w", ns.URL, err)
	}
	return src, created, nil
}

// Source returns a source by id.
func (s *Store) Source(id uint64) (Source, error) {
	var src Source
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketSources), itob(id), &src)
	})
	if err != nil {
		return Source{}, fmt.Errorf("storage: source %d: %w", id, err)
	}
	return src, nil
}

// FindSource returns a source by id ("12") or exact URL.
func (s *Store) FindSource(ref string) (Source, error) {
	if id, err := strconv.ParseUint(ref, 10, 64); err == nil {
		return s.Source(id)
	}
	var src Source
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketSourceURLs).Get([]byte(ref))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bucketSources), id, &src)
	})
	if err != nil {
		return Source{}, fmt.Errorf("storage: source %s: %w", ref, err)
	}
	return src, nil
}

// Sources lists all sources by id.
func (s *Store) Sources() ([]Source, error) {
	var out []Source
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachJSON(tx.Bucket(bucketSources), func(_ []byte, src *Source) error {
			out = append(out, *src)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list sources: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RemoveSource deletes a source. Its articles stay in the archive.
func (s *Store) RemoveSource(id uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSources)
		var src Source
		if err := getJSON(b, itob(id), &src); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSourceURLs).Delete([]byte(src.URL)); err != nil {
			return err
		}
		return b.Delete(itob(id))
	})
	if err != nil {
		return fmt.Errorf("storage: remove source %d: %w", id, err)
	}
	return nil
}

// UpdateSource applies fn to the stored source in one transaction. Used for
// fetch results that carry no articles (304s and failures).
func (s *Store) UpdateSource(id uint64, fn func(*Source)) error {
	err := s.update(func(tx *bolt.Tx) error { return updateSource(tx, id, fn) })
	if err != nil {
		return fmt.Errorf("storage: update source %d: %w", id, err)
	}
	return nil
}

func updateSource(tx *bolt.Tx, id uint64, fn func(*Source)) error {
	b := tx.Bucket(bucketSources)
	var src Source
	if err := getJSON(b, itob(id), &src); err != nil {
		// Removed while its fetch was in flight: nothing to update.
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	fn(&src)
	return putJSON(b, itob(id), &src)
}
