package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"dozor/jobs"
)

// poll runs one watcher pass and prints what it found.
func (a *app) poll(ctx context.Context) error {
	st, err := a.open("poll")
	if err != nil {
		return err
	}
	defer st.Close()
	w := a.watcher(st, a.fetcher())
	rep, err := w.Pass(ctx, jobs.PassOptions{Force: true})
	if rep != nil {
		printReport(a, rep)
	}
	return err
}

func printReport(a *app, rep *jobs.Report) {
	out := a.stdout
	for _, m := range rep.Matches {
		note := ""
		switch {
		case m.Alert == nil && !m.NewStory:
			note = "  (reprint of a story already alerted)"
		case m.Alert == nil:
			note = "  (backlog: stored, no alert)"
		}
		when := ""
		if !m.Article.Published.IsZero() {
			when = " · " + m.Article.Published.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(out, "[%s] %s\n    %s%s\n    %s%s\n", strings.Join(m.Topics, ", "), oneLine(m.Article.Title),
			m.Article.Source, when, m.Article.URL, note)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(out, "FAILED %s: %v\n", f.Source.URL, f.Err)
	}
	fmt.Fprintf(out, "poll: %d sources fetched (%d not modified, %d failed, %d not due), %d new articles, %d new stories, %d matches in %s\n",
		rep.Sources, rep.NotModified, len(rep.Failures), rep.Skipped, rep.NewArticles, rep.NewStories, len(rep.Matches),
		rep.Elapsed.Round(time.Millisecond))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
