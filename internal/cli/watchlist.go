package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"dozor/internal/fetch"
	"dozor/internal/watchlist"
	"dozor/storage"
)

// importFile adds or updates sources and topics; it never duplicates.
func (a *app) importFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	wl, err := watchlist.Read(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Refuse private addresses before touching the store, so a bad file
	// changes nothing.
	fetcher := a.fetcher()
	for _, s := range wl.Sources {
		if err := fetcher.CheckURL(ctx, s.URL); err != nil {
			var fe *fetch.Error
			if errors.As(err, &fe) && fe.Kind != fetch.KindPrivateAddress && fe.Kind != fetch.KindBadURL {
				// Unresolvable now (offline?): the connect-time check still guards it.
				a.log.Warn("could not check source address", "url", s.URL, "err", err)
				continue
			}
			return fmt.Errorf("%s: source %s: %w", path, s.URL, err)
		}
	}
	st, err := a.open("import")
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	var addedS, addedT, updatedT int
	for _, s := range wl.Sources {
		_, created, err := st.AddSource(storage.NewSource{URL: s.URL, Name: s.Name, FullText: s.FullText}, now)
		if err != nil {
			return err
		}
		if created {
			addedS++
		}
	}
	for _, t := range wl.Topics {
		old, oerr := st.Topic(t.Name)
		created, err := st.PutTopic(t.Name, t.Query, now)
		if err != nil {
			return err
		}
		switch {
		case created:
			addedT++
		case oerr == nil && old.Query != t.Query:
			updatedT++
		}
	}
	if wl.Entities != nil {
		if err := st.SetEntities(wl.Entities); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "import: %d sources (%d new), %d topics (%d new, %d changed), %d entity groups\n",
		len(wl.Sources), addedS, len(wl.Topics), addedT, updatedT, len(wl.Entities))
	return nil
}

// export prints the stored sources and topics as a watchlist.
func (a *app) export() error {
	st, err := a.open("export")
	if err != nil {
		return err
	}
	defer st.Close()
	srcs, err := st.Sources()
	if err != nil {
		return err
	}
	topics, err := st.Topics()
	if err != nil {
		return err
	}
	ents, err := st.Entities()
	if err != nil {
		return err
	}
	wl := &watchlist.File{Sources: []watchlist.Source{}, Topics: []watchlist.Topic{}, Entities: ents}
	for _, s := range srcs {
		wl.Sources = append(wl.Sources, watchlist.Source{URL: s.URL, Name: s.Name, FullText: s.FullText})
	}
	for _, t := range topics {
		wl.Topics = append(wl.Topics, watchlist.Topic{Name: t.Name, Query: t.Query})
	}
	return watchlist.Write(a.stdout, wl)
}
