package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"dozor/jobs"
	"dozor/storage"
)

// pollGrace is how long poll waits past SUMMARY_DEADLINE for the
// fallbacks the deadline calls for to be written.
const pollGrace = 5 * time.Second

// poll runs one watch pass and prints what matched on the feeds' text at
// once. It then runs the other stages (all but delivery) until every page,
// story and summary an alert waits for is done, at most SUMMARY_DEADLINE,
// and prints the summaries and what matched on the full text. It never
// waits for the pages of articles that matched nothing: those stay queued
// for dozor run.
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
	p, err := a.pipeline(st, a.fetcher(), sum, nil, nil, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, perr := p.Watcher.Pass(ctx, jobs.PassOptions{Force: true})
	if rep == nil {
		return perr
	}
	printed := map[uint64]bool{}
	if len(rep.Matches) > 0 {
		fmt.Fprintln(a.stdout, "Matched on the feeds' text:")
	}
	for _, m := range rep.Matches {
		printArticle(a.stdout, m.Article, m.Topics)
		printed[m.Article.ID] = true
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(a.stdout, "FAILED %s: %v\n", f.Source.URL, f.Err)
	}
	if st.UrgentWork() {
		fmt.Fprintf(a.stdout, "(waiting for the pages and summaries of what matched, at most %s)\n", a.cfg.SummaryDeadline)
	}
	waited, werr := a.drain(ctx, st, p)

	summarised := 0
	if len(rep.Matches) > 0 {
		fmt.Fprintln(a.stdout, "\nSummaries:")
	}
	for _, m := range rep.Matches {
		if printOutcome(a.stdout, st, a.cfg.SummaryLanguage, m.Article.ID) {
			summarised++
		}
	}
	late := 0
	err = st.ArticlesSince(start, func(art *storage.Article) bool {
		if len(art.Topics) == 0 || printed[art.ID] {
			return true
		}
		if late == 0 {
			fmt.Fprintln(a.stdout, "\nMatched on the full text:")
		}
		late++
		printArticle(a.stdout, *art, art.Topics)
		if printOutcome(a.stdout, st, a.cfg.SummaryLanguage, art.ID) {
			summarised++
		}
		return true
	})
	if err != nil {
		return err
	}
	c, cerr := st.Count()
	fmt.Fprintf(a.stdout, "poll: %d sources fetched (%d not modified, %d failed, %d not due), %d new articles, %d matches (%d on the full text), %d summarised, %d stories started, in %s; %d pages remain queued for dozor run\n",
		rep.Sources, rep.NotModified, len(rep.Failures), rep.Skipped, rep.NewArticles,
		len(rep.Matches)+late, late, summarised, p.Folder.StoriesStarted(),
		(rep.Elapsed + waited).Round(time.Millisecond), c.PagesUrgent+c.PagesBulk)
	return errors.Join(perr, werr, cerr)
}

// drain runs the stages until nothing an alert waits for is queued, or
// SUMMARY_DEADLINE (and a grace for the fallbacks) has passed.
func (a *app) drain(ctx context.Context, st *storage.Store, p *jobs.Pipeline) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, a.cfg.SummaryDeadline+pollGrace)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.Run(gctx) })
	g.Go(func() error {
		defer cancel()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for st.UrgentWork() {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
		}
		return nil
	})
	err := g.Wait()
	return time.Since(start), err
}

func printArticle(out io.Writer, a storage.Article, topics []string) {
	when := ""
	if !a.Published.IsZero() {
		when = " · " + a.Published.Local().Format("2006-01-02 15:04")
	}
	fmt.Fprintf(out, "[%s] %s\n    %s%s\n    %s\n", strings.Join(topics, ", "), oneLine(a.Title), a.Source, when, a.URL)
}

// printOutcome prints what became of a matched article: its summary, or
// why there is none. It reports whether it printed a summary.
func printOutcome(out io.Writer, st *storage.Store, lang string, id uint64) bool {
	a, err := st.ArticleHead(id)
	if err != nil {
		return false
	}
	title := fmt.Sprintf("[%s] %s", strings.Join(a.Topics, ", "), oneLine(a.Title))
	switch {
	case a.Backlog:
		fmt.Fprintf(out, "%s\n    (backlog: stored, no alert)\n", title)
		return false
	case a.StoryID == 0:
		fmt.Fprintf(out, "%s\n    (its page is still queued; dozor run summarises it)\n", title)
		return false
	}
	s, err := st.Summary(a.StoryID, lang)
	if err != nil {
		note := "not summarised yet; dozor run does it"
		if story, serr := st.Story(a.StoryID); serr == nil && len(story.Articles) > 0 && story.Articles[0] != a.ID {
			note = "reprint of a story already reported"
		}
		fmt.Fprintf(out, "%s\n    (%s)\n", title, note)
		return false
	}
	label := "summary"
	if s.Extractive {
		label = "summary (extractive fallback)"
	}
	fmt.Fprintf(out, "%s\n    %s: %s\n", title, label, oneLine(s.Text))
	for _, k := range s.KeyPoints {
		fmt.Fprintf(out, "      • %s\n", oneLine(k))
	}
	return true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
