package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"dozor/internal/canon"
	"dozor/internal/feed"
	"dozor/internal/fetch"
	"dozor/internal/query"
	"dozor/internal/watchlist"
	"dozor/jobs"
	"dozor/storage"
)

const (
	// testMaxTitles is how many matches /test lists.
	testMaxTitles = 10
	// feedAccept asks for feeds first but takes what the server has, so a
	// wrong address is reported as "not a feed" rather than a 406.
	feedAccept = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)

// parseQuery parses a topic's query and, if it is wrong or would match
// almost everything, returns the reply that shows where: the query with a
// caret under the position.
func parseQuery(lang, q string) (*query.Query, string) {
	parsed, err := query.ParseTopic(q)
	if err == nil {
		return parsed, ""
	}
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return nil, tr(lang, "bad_query", escapeTG(se.Caret(truncateUTF16(q, 1200))))
	}
	return nil, tr(lang, "bad_query", escapeTG(err.Error()))
}

// oneLine folds the white space of a query typed over several lines; the
// query language gives line breaks no meaning.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (b *Bot) cmdWatch(ctx context.Context, r *cmdReq) {
	args := strings.TrimSpace(r.args)
	name, q := args, ""
	if i := strings.IndexAny(args, " \t\n\r"); i >= 0 {
		name, q = args[:i], oneLine(args[i+1:])
	}
	if name == "" || q == "" {
		b.reply(ctx, r.chatID, tr(r.lang, "watch_usage"))
		return
	}
	if err := watchlist.ValidateTopicName(name); err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "bad_topic_name", escapeTG(err.Error())))
		return
	}
	if _, msg := parseQuery(r.lang, q); msg != "" {
		b.reply(ctx, r.chatID, msg)
		return
	}
	created, err := b.store.PutTopic(name, q, b.now())
	if err != nil {
		b.fail(ctx, r, "put topic", err)
		return
	}
	b.log.Info("bot: topic saved", "topic", name, "admin_id", r.from.ID, "created", created)
	key := "topic_updated"
	if created {
		key = "topic_added"
	}
	b.reply(ctx, r.chatID, tr(r.lang, key, escapeTG(name), escapeTG(q)))
}

func (b *Bot) cmdUnwatch(ctx context.Context, r *cmdReq) {
	arg := strings.TrimSpace(r.args)
	if arg == "" || strings.ContainsAny(arg, " \t\n") {
		b.reply(ctx, r.chatID, tr(r.lang, "unwatch_usage"))
		return
	}
	name, ok, err := b.findTopic(arg)
	if err != nil {
		b.fail(ctx, r, "find topic", err)
		return
	}
	if !ok {
		b.reply(ctx, r.chatID, tr(r.lang, "topic_unknown", escapeTG(truncateUTF16(arg, 64))))
		return
	}
	counts, err := b.store.SubscriberCounts()
	if err != nil {
		b.fail(ctx, r, "count subscribers", err)
		return
	}
	err = b.store.DeleteTopic(name)
	if errors.Is(err, storage.ErrNotFound) {
		b.reply(ctx, r.chatID, tr(r.lang, "topic_unknown", escapeTG(name)))
		return
	}
	if err != nil {
		b.fail(ctx, r, "delete topic", err)
		return
	}
	b.log.Info("bot: topic removed", "topic", name, "admin_id", r.from.ID)
	b.reply(ctx, r.chatID, tr(r.lang, "topic_removed", escapeTG(name), counts[name]))
}

func (b *Bot) cmdWatchlist(ctx context.Context, r *cmdReq) { b.sendListing(ctx, r, "wl") }

// watchlistBlocks lists the topics with their queries and subscribers.
func (b *Bot) watchlistBlocks(r *cmdReq) ([]string, error) {
	topics, err := b.store.Topics()
	if err != nil || len(topics) == 0 {
		return nil, err
	}
	counts, err := b.store.SubscriberCounts()
	if err != nil {
		return nil, err
	}
	blocks := []string{tr(r.lang, "watchlist_header", len(topics))}
	for _, t := range topics {
		blocks = append(blocks, fmt.Sprintf("<b>%s</b> — %s\n<code>%s</code>",
			escapeTG(t.Name), tr(r.lang, "subscribers", counts[t.Name]), escapeTG(t.Query)))
	}
	return blocks, nil
}

func (b *Bot) cmdTest(ctx context.Context, r *cmdReq) {
	q := oneLine(r.args)
	if q == "" {
		b.reply(ctx, r.chatID, tr(r.lang, "test_usage"))
		return
	}
	parsed, msg := parseQuery(r.lang, q)
	if msg != "" {
		b.reply(ctx, r.chatID, msg)
		return
	}
	if b.search == nil {
		b.reply(ctx, r.chatID, tr(r.lang, "search_unavailable"))
		return
	}
	release, err := b.heavy.take(r.from.ID)
	if err != nil {
		b.refuse(ctx, r.chatID, r.lang, err)
		return
	}
	defer release()
	matched, total, hits, partial, err := b.testQuery(ctx, parsed, q)
	release()
	if err != nil {
		b.fail(ctx, r, "test query", err)
		return
	}
	blocks := []string{tr(r.lang, "test_result", escapeTG(truncateUTF16(q, 300)), matched, total)}
	if partial {
		blocks = append(blocks, tr(r.lang, "search_partial"))
	}
	if len(hits) > 0 {
		blocks = append(blocks, "", tr(r.lang, "test_latest", len(hits)))
		loc := r.user.Location()
		for _, a := range hits {
			blocks = append(blocks, articleLine(a, r.lang, loc))
		}
	}
	b.sendBlocks(ctx, r.chatID, blocks, "\n")
}

func (b *Bot) cmdAddSource(ctx context.Context, r *cmdReq) {
	fields := strings.Fields(r.args)
	if len(fields) == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "addsource_usage"))
		return
	}
	raw, mode := fields[0], ""
	var nameWords []string
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || !strings.EqualFold(k, "fulltext") {
			nameWords = append(nameWords, f)
			continue
		}
		switch v = strings.ToLower(v); v {
		case storage.FullTextAuto, storage.FullTextOn, storage.FullTextOff:
			mode = v
		default:
			b.reply(ctx, r.chatID, tr(r.lang, "addsource_usage"))
			return
		}
	}
	name := strings.Join(nameWords, " ")
	u, err := canon.URL(raw)
	if err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "bad_url", escapeTG(err.Error())))
		return
	}
	if b.fetcher == nil {
		b.reply(ctx, r.chatID, tr(r.lang, "fetch_unavailable"))
		return
	}
	shown := escapeTG(truncateUTF16(u, 300))
	if err := b.fetcher.CheckURL(ctx, u); err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "source_fetch_failed", shown, escapeTG(err.Error())))
		return
	}
	resp, err := b.fetcher.Get(ctx, fetch.Request{URL: u, Accept: feedAccept})
	if err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "source_fetch_failed", shown, escapeTG(err.Error())))
		return
	}
	f, err := feed.Decode(resp.Body, resp.ContentType, resp.URL)
	if err != nil {
		b.reply(ctx, r.chatID, tr(r.lang, "source_not_feed", shown, escapeTG(err.Error())))
		return
	}
	src, created, err := b.store.AddSource(storage.NewSource{URL: u, Name: name, FullText: mode}, b.now())
	if err != nil {
		b.fail(ctx, r, "add source", err)
		return
	}
	if title := cleanFeedText(f.Title, true); title != "" && src.Title == "" {
		if err := b.store.UpdateSource(src.ID, func(s *storage.Source) { s.Title = title }); err != nil {
			b.log.Error("bot: store feed title", "source_id", src.ID, "err", err)
		}
		src.Title = title
	}
	key := "source_exists"
	if created {
		key = "source_added"
		b.log.Info("bot: source added", "source_id", src.ID, "url", u, "admin_id", r.from.ID)
	}
	b.reply(ctx, r.chatID, tr(r.lang, key, src.ID, escapeTG(truncateUTF16(src.DisplayName(), 200)), len(f.Items))+
		"\n"+fullTextLine(r.lang, src))
}

// fullTextLine says how a source's pages are fetched: the mode, and in
// auto mode what the last fetch made of its feed.
func fullTextLine(lang string, s storage.Source) string {
	mode := s.FullTextMode()
	line := tr(lang, "src_fulltext_"+mode)
	if mode == storage.FullTextAuto && !s.NeverFetched() {
		if s.MedianText < jobs.TeaserChars {
			line += " " + tr(lang, "src_teasers", s.MedianText)
		} else {
			line += " " + tr(lang, "src_full_items", s.MedianText)
		}
	}
	return line
}

func (b *Bot) cmdRmSource(ctx context.Context, r *cmdReq) {
	ref := strings.TrimSpace(r.args)
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		b.reply(ctx, r.chatID, tr(r.lang, "rmsource_usage"))
		return
	}
	src, err := b.store.FindSource(strings.TrimPrefix(ref, "#"))
	if errors.Is(err, storage.ErrNotFound) {
		if u, cerr := canon.URL(ref); cerr == nil {
			src, err = b.store.FindSource(u)
		}
	}
	if errors.Is(err, storage.ErrNotFound) {
		b.reply(ctx, r.chatID, tr(r.lang, "source_unknown", escapeTG(truncateUTF16(ref, 300))))
		return
	}
	if err != nil {
		b.fail(ctx, r, "find source", err)
		return
	}
	if err := b.store.RemoveSource(src.ID); err != nil {
		b.fail(ctx, r, "remove source", err)
		return
	}
	b.log.Info("bot: source removed", "source_id", src.ID, "admin_id", r.from.ID)
	b.reply(ctx, r.chatID, tr(r.lang, "source_removed", src.ID, escapeTG(truncateUTF16(src.DisplayName(), 200))))
}

func (b *Bot) cmdSources(ctx context.Context, r *cmdReq) { b.sendListing(ctx, r, "src") }

// sourcesBlocks lists each source's health and page mode.
func (b *Bot) sourcesBlocks(r *cmdReq) ([]string, error) {
	sources, err := b.store.Sources()
	if err != nil || len(sources) == 0 {
		return nil, err
	}
	failing := 0
	for _, s := range sources {
		if s.Failures > 0 {
			failing++
		}
	}
	now := b.now()
	blocks := []string{tr(r.lang, "sources_header", len(sources), failing)}
	for _, s := range sources {
		var health string
		switch {
		case s.Failures > 0:
			health = tr(r.lang, "src_failing", s.Failures)
		case s.NeverFetched():
			health = tr(r.lang, "src_new")
		default:
			health = tr(r.lang, "src_ok")
		}
		blk := fmt.Sprintf("#%d <b>%s</b> — %s\n%s\n%s", s.ID,
			escapeTG(truncateUTF16(s.DisplayName(), 120)), health,
			escapeTG(truncateUTF16(s.URL, 300)),
			tr(r.lang, "src_details", ago(r.lang, now, s.LastSuccess), s.Items))
		blk += "\n" + fullTextLine(r.lang, s)
		if s.Broken != "" {
			blk += "\n" + tr(r.lang, "src_broken", escapeTG(truncateUTF16(s.Broken, 300)))
		}
		if s.Failures > 0 && s.LastError != "" {
			blk += "\n" + tr(r.lang, "src_error", ago(r.lang, now, s.ErrorAt), escapeTG(truncateUTF16(s.LastError, 400)))
		}
		blocks = append(blocks, blk)
	}
	return blocks, nil
}

func (b *Bot) cmdStats(ctx context.Context, r *cmdReq) {
	now := b.now()
	c, err := b.store.Count()
	if err != nil {
		b.fail(ctx, r, "count", err)
		return
	}
	usage, err := b.store.Usage(now)
	if err != nil {
		b.fail(ctx, r, "usage", err)
		return
	}
	sources, err := b.store.Sources()
	if err != nil {
		b.fail(ctx, r, "list sources", err)
		return
	}
	users, err := b.store.Users()
	if err != nil {
		b.fail(ctx, r, "list users", err)
		return
	}
	var failing []string
	for _, s := range sources {
		if s.Failures > 0 {
			failing = append(failing, escapeTG(truncateUTF16(s.DisplayName(), 60)))
		}
	}
	byStatus := map[storage.UserStatus]int{}
	for _, u := range users {
		byStatus[u.Status]++
	}
	text := tr(r.lang, "stats",
		c.Sources, len(failing), c.Articles, c.Stories, c.Topics,
		byStatus[storage.StatusApproved], byStatus[storage.StatusPending], byStatus[storage.StatusBanned],
		usage.Sent, c.Outbox, c.PagesUrgent+c.PagesBulk, c.PagesUrgent, c.Fold, c.Alerts, c.Fanout,
		usage.Calls, usage.Fallbacks, usage.PromptTokens+usage.CompletionTokens, usage.PromptTokens, usage.CompletionTokens,
		usage.SendErrors, len(failing), float64(b.store.Size())/(1<<20))
	if len(failing) > 0 {
		shown := failing[:min(len(failing), 10)]
		line := strings.Join(shown, ", ")
		if len(failing) > len(shown) {
			line += ", …"
		}
		text += "\n" + tr(r.lang, "stats_failing", line)
	}
	b.reply(ctx, r.chatID, text)
}

func (b *Bot) cmdApprove(ctx context.Context, r *cmdReq) {
	id, ok := b.userIDArg(ctx, r, "approve")
	if !ok {
		return
	}
	u, changed, err := b.approveUser(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		b.reply(ctx, r.chatID, tr(r.lang, "user_unknown", id))
	case err != nil:
		b.fail(ctx, r, "approve user", err)
	case changed:
		b.reply(ctx, r.chatID, tr(r.lang, "user_approved", id, describePerson(u.Name, u.Username)))
	default:
		b.reply(ctx, r.chatID, tr(r.lang, "user_already_approved", id, describePerson(u.Name, u.Username)))
	}
}

func (b *Bot) cmdBan(ctx context.Context, r *cmdReq) {
	id, ok := b.userIDArg(ctx, r, "ban")
	if !ok {
		return
	}
	u, n, err := b.banUser(id)
	switch {
	case errors.Is(err, errIsAdmin):
		b.reply(ctx, r.chatID, tr(r.lang, "cannot_ban_admin"))
	case err != nil:
		b.fail(ctx, r, "ban user", err)
	default:
		b.reply(ctx, r.chatID, tr(r.lang, "user_banned", id, describePerson(u.Name, u.Username), n))
	}
}

func (b *Bot) userIDArg(ctx context.Context, r *cmdReq, cmd string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimSpace(r.args), 10, 64)
	if err != nil || id == 0 {
		b.reply(ctx, r.chatID, tr(r.lang, "user_id_usage", cmd))
		return 0, false
	}
	return id, true
}

func (b *Bot) cmdUsers(ctx context.Context, r *cmdReq) { b.sendListing(ctx, r, "usr") }

// usersBlocks lists the users with their status.
func (b *Bot) usersBlocks(r *cmdReq) ([]string, error) {
	users, err := b.store.Users()
	if err != nil || len(users) == 0 {
		return nil, err
	}
	blocks := []string{tr(r.lang, "users_header", len(users))}
	for _, u := range users {
		line := fmt.Sprintf("<code>%d</code> %s — %s", u.ID, describePerson(u.Name, u.Username), tr(r.lang, "status_"+string(u.Status)))
		if u.Inactive {
			line += " (" + tr(r.lang, "status_inactive") + ")"
		}
		line += " · " + escapeTG(u.Lang) + " · " + tr(r.lang, "topics_count", len(u.Topics))
		blocks = append(blocks, line)
	}
	return blocks, nil
}
