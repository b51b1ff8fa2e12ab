package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"dozor/jobs"
	"dozor/storage"
)

// poll runs one watcher pass, then fetches full texts and summarises what
// matched, and prints it all.
func (a *app) poll(ctx context.Context) error {
	sum, err := a.summarizer()
	if err != nil {
		return err
	}
	st, err := a.open("poll")
	if err != nil {
		return err
	}
	defer st.Close()
	f := a.fetcher()
	rep, perr := a.watcher(st, f).Pass(ctx, jobs.PassOptions{Force: true})
	if rep == nil {
		return perr
	}
	done, err := a.processor(st, f, sum).Run(ctx)
	printReport(a.stdout, st, a.cfg.SummaryLanguage, rep, done)
	return errors.Join(perr, err)
}

func printReport(out io.Writer, st *storage.Store, lang string, rep *jobs.Report, done []jobs.Processed) {
	printed := map[uint64]bool{}
	for _, m := range rep.Matches {
		note := ""
		switch {
		case m.Alert == nil && !m.NewStory:
			note = "reprint of a story already alerted"
		case m.Alert == nil:
			note = "backlog: stored, no alert"
		}
		printMatch(out, st, lang, m.Article, m.Topics, note, m.Alert != nil)
		printed[m.Article.ID] = true
	}
	// Articles that matched only once their full text was fetched.
	for _, p := range done {
		if !printed[p.Article.ID] {
			printMatch(out, st, lang, p.Article, p.Alert.Topics, "matched on the full text", true)
			printed[p.Article.ID] = true
		}
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(out, "FAILED %s: %v\n", f.Source.URL, f.Err)
	}
	queued := 0
	for _, p := range done {
		queued += p.Queued
	}
	fmt.Fprintf(out, "poll: %d sources fetched (%d not modified, %d failed, %d not due), %d new articles, %d new stories, %d matches, %d summarised, %d alerts queued for subscribers in %s\n",
		rep.Sources, rep.NotModified, len(rep.Failures), rep.Skipped, rep.NewArticles, rep.NewStories, len(printed),
		len(done), queued, rep.Elapsed.Round(time.Millisecond))
}

func printMatch(out io.Writer, st *storage.Store, lang string, a storage.Article, topics []string, note string, alerted bool) {
	when := ""
	if !a.Published.IsZero() {
		when = " · " + a.Published.Local().Format("2006-01-02 15:04")
	}
	fmt.Fprintf(out, "[%s] %s\n    %s%s\n    %s\n", strings.Join(topics, ", "), oneLine(a.Title), a.Source, when, a.URL)
	if note != "" {
		fmt.Fprintf(out, "    (%s)\n", note)
	}
	if !alerted {
		return
	}
	s, err := st.Summary(a.StoryID, lang)
	if err != nil {
		return
	}
	label := "summary"
	if s.Extractive {
		label = "summary (extractive fallback)"
	}
	fmt.Fprintf(out, "    %s: %s\n", label, oneLine(s.Text))
	for _, k := range s.KeyPoints {
		fmt.Fprintf(out, "      • %s\n", oneLine(k))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
