package storage

import (
	"errors"
	"testing"
	"time"
)

func TestAddSource(t *testing.T) {
	const url = "https://example.com/rss"
	later := t0.Add(time.Hour)
	tests := []struct {
		name         string
		first, again NewSource
		wantName     string
		wantFullText string // stored
		wantMode     string // FullTextMode
		wantChanged  bool   // the second call stored anything
	}{
		{"plain re-add", NewSource{URL: url}, NewSource{URL: url}, "", "", FullTextAuto, false},
		{"name given later", NewSource{URL: url}, NewSource{URL: url, Name: "Example"}, "Example", "", FullTextAuto, true},
		{"name renamed", NewSource{URL: url, Name: "Old"}, NewSource{URL: url, Name: "New"}, "New", "", FullTextAuto, true},
		{"empty name keeps it", NewSource{URL: url, Name: "Example", FullText: FullTextOff}, NewSource{URL: url}, "Example", FullTextOff, FullTextOff, false},
		{"mode given later", NewSource{URL: url, Name: "Example"}, NewSource{URL: url, FullText: FullTextOn}, "Example", FullTextOn, FullTextOn, true},
		{"mode changed", NewSource{URL: url, FullText: FullTextOn}, NewSource{URL: url, FullText: FullTextOff}, "", FullTextOff, FullTextOff, true},
		{"auto over unset is no change", NewSource{URL: url}, NewSource{URL: url, FullText: FullTextAuto}, "", "", FullTextAuto, false},
		{"auto over on", NewSource{URL: url, FullText: FullTextOn}, NewSource{URL: url, FullText: FullTextAuto}, "", FullTextAuto, FullTextAuto, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			a, created, err := s.AddSource(tt.first, t0)
			if err != nil || !created || a.ID == 0 || a.URL != url || !a.Added.Equal(t0) {
				t.Fatalf("add: %+v created=%v err=%v", a, created, err)
			}
			if err := s.UpdateSource(a.ID, func(src *Source) { src.ETag = `"v1"`; src.Items = 5 }); err != nil {
				t.Fatal(err)
			}
			commits := s.Commits()
			b, created, err := s.AddSource(tt.again, later)
			if err != nil || created || b.ID != a.ID {
				t.Fatalf("re-add: %+v created=%v err=%v", b, created, err)
			}
			stored, err := s.Source(a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range []Source{b, stored} {
				if src.Name != tt.wantName || src.FullText != tt.wantFullText || src.FullTextMode() != tt.wantMode {
					t.Errorf("source = name %q, full text %q (mode %s); want %q, %q (%s)",
						src.Name, src.FullText, src.FullTextMode(), tt.wantName, tt.wantFullText, tt.wantMode)
				}
				if src.ETag != `"v1"` || src.Items != 5 || !src.Added.Equal(t0) {
					t.Errorf("re-add lost the fetch state: %+v", src)
				}
			}
			if s.Commits()-commits != 1 {
				t.Errorf("re-add took %d commits", s.Commits()-commits)
			}
			if all, _ := s.Sources(); len(all) != 1 {
				t.Errorf("sources = %+v, want one", all)
			}
		})
	}
}

func TestSourceLifecycle(t *testing.T) {
	s, _ := openTemp(t)
	a, _, err := s.AddSource(NewSource{URL: "https://example.com/rss"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, created, err := s.AddSource(NewSource{URL: "https://other.example/feed", Name: "Other"}, t0)
	if err != nil || !created || b.ID == a.ID {
		t.Fatalf("second source: %+v created=%v err=%v", b, created, err)
	}
	all, _ := s.Sources()
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Fatalf("sources = %+v, want both by id", all)
	}
	if got, err := s.FindSource("https://example.com/rss"); err != nil || got.ID != a.ID {
		t.Errorf("find by url: %+v %v", got, err)
	}
	if err := s.UpdateSource(a.ID, func(src *Source) { src.Failures = 3; src.LastError = "server answered 404" }); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindSource("1")
	if err != nil || got.ID != a.ID || got.Failures != 3 || got.LastError != "server answered 404" {
		t.Errorf("find by id after update = %+v, %v", got, err)
	}
	if err := s.UpdateSource(999, func(*Source) { t.Error("fn called for a missing source") }); err != nil {
		t.Errorf("update of a missing source: %v", err)
	}
	if err := s.RemoveSource(a.ID); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"https://example.com/rss", "1"} {
		if _, err := s.FindSource(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("find %s after remove: %v", ref, err)
		}
	}
	if err := s.RemoveSource(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}

	// The URL can be added again, as a new source.
	c, created, err := s.AddSource(NewSource{URL: "https://example.com/rss"}, t0)
	if err != nil || !created || c.ID == a.ID {
		t.Errorf("re-add after remove: %+v created=%v err=%v", c, created, err)
	}
}

func TestSourceHelpers(t *testing.T) {
	tests := []struct {
		name          string
		src           Source
		mode, display string
		never         bool
	}{
		{"bare", Source{URL: "https://a.example/rss"}, FullTextAuto, "https://a.example/rss", true},
		{"feed title", Source{URL: "u", Title: "Лента", FullText: FullTextOff, LastSuccess: t0}, FullTextOff, "Лента", false},
		{"admin's name wins", Source{URL: "u", Title: "Лента", Name: "A", FullText: FullTextOn}, FullTextOn, "A", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.src.FullTextMode(); got != tt.mode {
				t.Errorf("FullTextMode = %q, want %q", got, tt.mode)
			}
			if got := tt.src.DisplayName(); got != tt.display {
				t.Errorf("DisplayName = %q, want %q", got, tt.display)
			}
			if got := tt.src.NeverFetched(); got != tt.never {
				t.Errorf("NeverFetched = %v, want %v", got, tt.never)
			}
		})
	}
}
