package bot

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"

	"dozor/internal/query"
	"dozor/internal/search"
	"dozor/storage"
)

// Searcher is what the bot needs of the search index; internal/search
// implements it.
type Searcher interface {
	Search(ctx context.Context, q *query.Query, opt search.Options) (search.Result, error)
	Matches(ctx context.Context, q *query.Query, limit int) ([]uint64, bool, error)
	Similar(ctx context.Context, storyID uint64, title, text string, limit int) ([]search.Hit, error)
	Suggest(q *query.Query) string
}

const (
	// searchPage is how many stories one page of /search shows.
	searchPage = 5
	// searchTTL is how long a search's ◀ ▶ keep working.
	searchTTL = 24 * time.Hour
	// searchKeep bounds the searches kept for paging.
	searchKeep = 10_000
	// heavyTimeout bounds one search, /test or 🔎.
	heavyTimeout = 5 * time.Second
	// snippetRunes is the length of a result's snippet.
	snippetRunes = 220
)

// heavy bounds the work that reads the whole archive (/search and its
// pages, /test, 🔎): at most two at a time overall, each user at a pace
// of their own, so nobody's search holds up anybody's reply.
type heavy struct {
	slots chan struct{}
	mu    sync.Mutex
	users map[int64]*rate.Limiter
}

func newHeavy() *heavy {
	return &heavy{slots: make(chan struct{}, 2), users: map[int64]*rate.Limiter{}}
}

// errBusy and errSlow say why heavy work was refused.
var (
	errBusy = errors.New("busy")
	errSlow = errors.New("slow down")
)

// take reserves a slot for user's heavy work, or says why not.
func (h *heavy) take(user int64) (func(), error) {
	h.mu.Lock()
	lim := h.users[user]
	if lim == nil {
		if len(h.users) > 10_000 {
			clear(h.users)
		}
		lim = rate.NewLimiter(rate.Every(3*time.Second), 5)
		h.users[user] = lim
	}
	ok := lim.Allow()
	h.mu.Unlock()
	if !ok {
		return nil, errSlow
	}
	select {
	case h.slots <- struct{}{}:
		// Called once the work is done and again, deferred, by its
		// handler: the slot is for the work, not for waiting on the
		// pacer to send its answer.
		return sync.OnceFunc(func() { <-h.slots }), nil
	default:
		return nil, errBusy
	}
}

// refusal says why heavy work was not done.
func refusal(lang string, err error) string {
	if errors.Is(err, errSlow) {
		return tr(lang, "slow_down_heavy")
	}
	return tr(lang, "busy")
}

// refuse tells the chat why heavy work was not done.
func (b *Bot) refuse(ctx context.Context, chatID int64, lang string, err error) {
	b.reply(ctx, chatID, refusal(lang, err))
}

// searches keeps each search's query behind a short key for its ◀ ▶
// buttons: callback_data holds only 64 bytes.
type searches struct {
	mu sync.Mutex
	m  map[string]savedSearch
}

type savedSearch struct {
	chat  int64
	query string
	at    time.Time
}

func newSearches() *searches { return &searches{m: map[string]savedSearch{}} }

func (s *searches) put(chat int64, q string, now time.Time) string {
	var raw [5]byte
	_, _ = rand.Read(raw[:])
	key := strings.ToLower(base32.StdEncoding.EncodeToString(raw[:]))
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= searchKeep {
		for k, v := range s.m {
			if now.Sub(v.at) > searchTTL || len(s.m) >= searchKeep {
				delete(s.m, k)
			}
		}
	}
	s.m[key] = savedSearch{chat: chat, query: q, at: now}
	return key
}

func (s *searches) get(key string, chat int64, now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok || v.chat != chat || now.Sub(v.at) > searchTTL {
		return "", false
	}
	return v.query, true
}

func (b *Bot) cmdSearch(ctx context.Context, r *cmdReq) {
	text := oneLine(r.args)
	if text == "" {
		quiet(ctx)
		b.reply(ctx, r.chatID, tr(r.lang, "search_usage"))
		return
	}
	if b.search == nil {
		b.reply(ctx, r.chatID, tr(r.lang, "search_unavailable"))
		return
	}
	q, err := query.ParseSearch(text, b.now())
	if err != nil {
		quiet(ctx)
		b.reply(ctx, r.chatID, badQuery(r.lang, text, err))
		return
	}
	release, err := b.heavy.take(r.from.ID)
	if err != nil {
		quiet(ctx)
		b.refuse(ctx, r.chatID, r.lang, err)
		return
	}
	defer release()
	key := b.searches.put(r.chatID, text, b.now())
	msg, kb := b.searchPage(ctx, r.user, r.lang, key, text, q, 0)
	release()
	b.send(ctx, r.chatID, msg, kb)
}

// onSearchPage is ◀ or ▶ under a search: "sr:<key>:<offset>".
func (b *Bot) onSearchPage(ctx context.Context, q *models.CallbackQuery, msg *models.Message, user storage.User, arg string) {
	quiet(ctx)
	lang := normLang(user.Lang)
	key, off, _ := strings.Cut(arg, ":")
	offset, err := strconv.Atoi(off)
	if msg == nil || err != nil || offset < 0 || b.search == nil {
		b.refuseButton(ctx, q.ID, tr(lang, "cb_expired"))
		return
	}
	text, ok := b.searches.get(key, msg.Chat.ID, b.now())
	if !ok {
		b.answer(ctx, q.ID, tr(lang, "search_again"))
		return
	}
	parsed, err := query.ParseSearch(text, b.now())
	if err != nil {
		b.answer(ctx, q.ID, tr(lang, "search_again"))
		return
	}
	release, err := b.heavy.take(q.From.ID)
	if err != nil {
		b.answer(ctx, q.ID, stripTags(refusal(lang, err)))
		return
	}
	defer release()
	page, kb := b.searchPage(ctx, user, lang, key, text, parsed, offset)
	release()
	b.edit(ctx, msg.Chat.ID, msg.ID, page, kb)
	b.answer(ctx, q.ID, "")
}

// searchPage runs a search and lays out one page of it.
func (b *Bot) searchPage(ctx context.Context, u storage.User, lang, key, text string, q *query.Query, offset int) (string, *models.InlineKeyboardMarkup) {
	ctx, cancel := context.WithTimeout(ctx, heavyTimeout)
	defer cancel()
	res, err := b.search.Search(ctx, q, search.Options{Offset: offset, Limit: searchPage, Now: b.now(), Timeout: heavyTimeout})
	if err != nil {
		b.log.Error("bot: search", "err", err)
		return tr(lang, "internal_error"), nil
	}
	shown := escapeTG(truncateUTF16(text, 200))
	if len(res.Hits) == 0 && offset == 0 {
		out := tr(lang, "search_none", shown)
		if s := b.search.Suggest(q); s != "" {
			out += "\n" + tr(lang, "search_try", escapeTG(truncateUTF16(s, 300)))
		}
		return out, nil
	}
	loc := u.Location()
	var blocks []string
	total := fmt.Sprint(res.Total)
	if res.Partial {
		total = "≥ " + total
	}
	blocks = append(blocks, tr(lang, "search_header", shown, total))
	for i, h := range res.Hits {
		a, err := b.store.Article(h.ArticleID)
		if err != nil {
			continue
		}
		line := fmt.Sprintf("%d. %s", offset+i+1, articleLine(a, lang, loc)[len("• "):])
		if h.Articles > 1 {
			line += " · " + tr(lang, "outlets_more", h.Articles-1)
		}
		if snip := search.Snippet(cleanFeedText(a.BestText(), true), q, snippetRunes, escapeTG); snip != "" {
			line += "\n" + snip
		}
		blocks = append(blocks, line)
	}
	if res.Partial {
		blocks = append(blocks, tr(lang, "search_partial"))
	}
	out := packBlocks(blocks, "\n\n", tgTextLimit)[0]
	var row []models.InlineKeyboardButton
	if offset > 0 {
		row = append(row, models.InlineKeyboardButton{Text: "◀", CallbackData: fmt.Sprintf("sr:%s:%d", key, max(0, offset-searchPage))})
	}
	if offset+len(res.Hits) < res.Total || (res.Partial && len(res.Hits) == searchPage) {
		row = append(row, models.InlineKeyboardButton{Text: "▶", CallbackData: fmt.Sprintf("sr:%s:%d", key, offset+searchPage)})
	}
	if len(row) == 0 {
		return out, nil
	}
	return out, &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{row}}
}

// badQuery is the caret reply for a query that does not parse, as /watch
// gives.
func badQuery(lang, text string, err error) string {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return tr(lang, "bad_query", escapeTG(se.Caret(truncateUTF16(text, 1200))))
	}
	return tr(lang, "bad_query", escapeTG(err.Error()))
}

// testLatest is how many matches /test lists; testScan bounds what it
// counts.
const (
	testLatest = 10
	testScan   = 100_000
)

// testQuery is /test: what a topic's query would have matched in the last
// seven days, from the search index (no article is analysed again).
func (b *Bot) testQuery(ctx context.Context, parsed *query.Query, text string) (matched, total int, latest []storage.Article, partial bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, heavyTimeout)
	defer cancel()
	week := fmt.Sprintf("since:%dh", int(recentWindow/time.Hour))
	inWeek, err := query.ParseSearch("("+parsed.String()+") "+week, b.now())
	if err != nil {
		return 0, 0, nil, false, err
	}
	all, err := query.ParseSearch(week, b.now())
	if err != nil {
		return 0, 0, nil, false, err
	}
	ids, p1, err := b.search.Matches(ctx, inWeek, testScan)
	if err != nil {
		return 0, 0, nil, false, err
	}
	every, p2, err := b.search.Matches(ctx, all, testScan)
	if err != nil {
		return 0, 0, nil, false, err
	}
	// The newest matches: the highest ids are the last stored.
	slices.Sort(ids)
	for i := len(ids) - 1; i >= 0 && len(latest) < testLatest; i-- {
		if a, err := b.store.ArticleHead(ids[i]); err == nil {
			latest = append(latest, a)
		}
	}
	slices.SortFunc(latest, func(x, y storage.Article) int { return y.Time().Compare(x.Time()) })
	return len(ids), len(every), latest, p1 || p2, nil
}
