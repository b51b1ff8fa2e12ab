package bot

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dozor/internal/dedup"
	"dozor/internal/tgfake"
	"dozor/jobs"
	"dozor/storage"
)

// saveArticle stores one article as the watcher and the fold stage would
// and returns it: in a story of its own, or with sign in the story of an
// earlier article with the same text; a topic the story has not alerted on
// yet queues an alert, as the fold stage does.
func (h *harness) saveArticle(key, title, text, source string, published time.Time, sign bool, topics ...string) storage.Article {
	h.t.Helper()
	na := storage.NewArticle{
		Article: storage.Article{Key: key, URL: key, Title: title, Text: text, SourceID: h.source(source, published).ID, Source: source,
			Published: published, Fetched: published, Topics: topics},
		Page: storage.PageNone,
	}
	if len(topics) > 0 {
		na.Matched = published
	}
	if sign {
		na.Sig, na.HasSig = dedup.Sign(strings.Fields(strings.ToLower(title + " " + text)))
	}
	// The story to join is looked up before the write transaction: bbolt
	// must not open a read transaction inside one.
	var join uint64
	if na.HasSig {
		best := 0.0
		err := h.store.StorySigs(time.Time{}, func(id uint64, _ time.Time, sig dedup.Signature) {
			if sim := dedup.Similarity(na.Sig, sig); sim >= dedup.Threshold && sim > best {
				join, best = id, sim
			}
		})
		if err != nil {
			h.t.Fatal(err)
		}
	}
	id := h.queueArticle(na)
	var placed *storage.Article
	_, err := h.store.FoldBatch(100, published, func(tx *storage.FoldTx, j storage.FoldJob) error {
		if j.Article.ID != id {
			return fmt.Errorf("article %d in the fold queue, want only %d", j.Article.ID, id)
		}
		a := j.Article
		var st *storage.Story
		var err error
		if join != 0 {
			if st, err = tx.Story(join); err != nil {
				return err
			}
			if err := tx.Join(st, &a); err != nil {
				return err
			}
		} else {
			if st, err = tx.NewStory(&a); err != nil {
				return err
			}
			if j.HasSig {
				if err := tx.PutSig(st.ID, j.Sig); err != nil {
					return err
				}
			}
		}
		var news []string
		for _, t := range a.Topics {
			if !slices.Contains(st.Topics, t) && !slices.Contains(news, t) {
				news = append(news, t)
			}
		}
		placed = &a
		if len(news) == 0 {
			return nil
		}
		st.Topics = append(st.Topics, news...)
		if err := tx.SaveStory(st); err != nil {
			return err
		}
		_, err = tx.QueueAlert(storage.Alert{StoryID: st.ID, ArticleID: a.ID, Topics: news, Created: published})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if placed == nil {
		h.t.Fatalf("article %s not folded", key)
	}
	h.reindex()
	return *placed
}

// reindex runs the index stage until its queue is empty, so searches see
// every stored article.
func (h *harness) reindex() {
	h.t.Helper()
	x := &jobs.Indexer{Store: h.store, Index: h.index}
	for {
		n, err := x.Step()
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// source is the source named name, created if needed.
func (h *harness) source(name string, now time.Time) storage.Source {
	h.t.Helper()
	src, _, err := h.store.AddSource(storage.NewSource{URL: "https://" + strings.ToLower(strings.ReplaceAll(name, " ", "")) + ".example/rss", Name: name}, now)
	if err != nil {
		h.t.Fatal(err)
	}
	return src
}

// queueArticle stores a new article and queues it, for its page or for
// the fold stage, as the watcher does; it returns the article's id.
func (h *harness) queueArticle(na storage.NewArticle) uint64 {
	h.t.Helper()
	res, err := h.store.SaveFetches([]storage.FetchResult{{SourceID: na.SourceID, Articles: []storage.NewArticle{na}}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(res) != 1 || len(res[0]) != 1 {
		h.t.Fatalf("article %s not saved", na.Key)
	}
	return res[0][0].ID
}

// summarise moves the oldest n alerts waiting for their summary (all of
// them for n < 0) on to the fan-out queue, without a summary, as the
// summarize stage does when it reuses one; it returns how many it moved.
func (h *harness) summarise(n int) int {
	h.t.Helper()
	alerts, err := h.store.PendingAlerts(0, max(n, 0))
	if err != nil {
		h.t.Fatal(err)
	}
	done := make([]storage.Summarized, len(alerts))
	for i, a := range alerts {
		done[i] = storage.Summarized{Alert: a}
	}
	if err := h.store.SaveSummaries(done, time.Now(), storage.Usage{}); err != nil {
		h.t.Fatal(err)
	}
	return len(alerts)
}

// fanOut takes every queued alert through the summarize and the real
// fan-out stage: the outbox gets a message per subscriber, or the
// subscriber's digest the story.
func (h *harness) fanOut() {
	h.t.Helper()
	h.summarise(-1)
	if _, err := (&jobs.Fanout{Store: h.store}).Step(); err != nil {
		h.t.Fatal(err)
	}
}

// counts is the store's census.
func (h *harness) counts() storage.Counts {
	h.t.Helper()
	c, err := h.store.Count()
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func TestApprovalFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.store.PutTopic("fintech", "fintech OR финтех", time.Now())

	// A new user asks; the admin gets the request with buttons.
	m := h.ask(aliceID, aliceID, "/start", tgfake.FirstName("Alice"), tgfake.Username("alice_w"))
	mustContain(t, m.Plain, "sent to the admins")
	if u := h.user(aliceID); u.Status != storage.StatusPending || u.Lang != "en" {
		t.Fatalf("new user %+v", u)
	}
	req := h.next(adminID)
	mustContain(t, req.Plain, "Alice", "@alice_w", fmt.Sprint(aliceID))
	if got := buttonData(req); strings.Join(got, " ") != fmt.Sprintf("appr:%d deny:%d", aliceID, aliceID) {
		t.Fatalf("request buttons %v", got)
	}

	// Waiting users get only the short note, whatever they send.
	m = h.ask(aliceID, aliceID, "/start")
	mustContain(t, m.Plain, "waiting")
	m = h.ask(aliceID, aliceID, "/subscribe fintech")
	mustContain(t, m.Plain, "waiting")
	if h.user(aliceID).Subscribed("fintech") {
		t.Fatal("a pending user subscribed")
	}

	// Approve: the user is told and can subscribe.
	ans := h.press(adminID, adminID, req, fmt.Sprintf("appr:%d", aliceID))
	mustContain(t, ans.Text, "approved")
	m = h.next(aliceID)
	mustContain(t, m.Plain, "approved", "/topics")
	if edited := h.message(adminID, req.ID); edited.Edited.IsZero() || len(edited.InlineKeyboard) != 0 || !strings.Contains(edited.Plain, "Approved by") {
		t.Errorf("the request was not replaced by the verdict: %+v", edited)
	}
	m = h.ask(aliceID, aliceID, "/subscribe fintech")
	mustContain(t, m.Plain, "Subscribed to fintech")
	if !h.user(aliceID).Subscribed("fintech") {
		t.Error("subscription not stored")
	}
}

func TestGroupAsksForApproval(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	group := int64(-7001)
	h.fake.SetMember(group, aliceID, tgfake.StatusCreator)
	m := h.ask(group, aliceID, "/start@"+h.fake.BotUsername(), withName("Alice")...)
	mustContain(t, m.Plain, "sent to the admins")
	req := h.next(adminID)
	mustContain(t, req.Plain, "Waiting for your approval (1)", "group Test group 7001", fmt.Sprint(group), "added by Alice")
	h.press(adminID, adminID, req, fmt.Sprintf("appr:%d", group))
	mustContain(t, h.next(group).Plain, "approved")
	if u := h.user(group); u.Status != storage.StatusApproved {
		t.Errorf("group %+v", u)
	}
	if _, err := h.store.User(aliceID); err == nil {
		t.Error("starting the bot in a group made the sender a subscriber")
	}
}

func TestDenyMeansSilence(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.ask(bobID, bobID, "/start", tgfake.LanguageCode("ru"))
	req := h.next(adminID)
	ans := h.press(adminID, adminID, req, fmt.Sprintf("deny:%d", bobID))
	mustContain(t, ans.Text, "banned")
	if u := h.user(bobID); u.Status != storage.StatusBanned {
		t.Fatalf("denied user %+v", u)
	}
	before := h.user(bobID)
	offset, _ := h.store.GetMeta(offsetKey)
	if string(offset) != "3" {
		t.Fatalf("offset %q after /start and the deny button, want 3", offset)
	}
	for _, text := range []string{"/start", "/help", "/topics", "/watch x y", "hello", "/nonsense"} {
		h.send(bobID, bobID, text)
	}
	h.sync()
	h.noMoreMessages(bobID)
	if after := h.user(bobID); !after.Updated.Equal(before.Updated) || after.Status != storage.StatusBanned {
		t.Errorf("banned user's record changed: %+v", after)
	}
	if now, _ := h.store.GetMeta(offsetKey); string(now) != string(offset) {
		t.Errorf("a banned user's messages cost a write: offset %s → %s", offset, now)
	}
	// Still handled once: after a restart they are not replayed.
	h.stop()
	if v, _ := h.store.GetMeta(offsetKey); string(v) != "9" {
		// updates: /start, the deny callback, then six ignored ones
		t.Errorf("offset at shutdown %s, want 9", v)
	}
}

func TestAccessOpen(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.Access = AccessOpen })
	m := h.ask(aliceID, aliceID, "/start", tgfake.LanguageCode("ru-RU"))
	mustContain(t, m.Plain, "Привет", "/topics")
	u := h.user(aliceID)
	if u.Status != storage.StatusApproved || u.Lang != "ru" || u.TZ != "Europe/Moscow" || u.Mode != storage.ModeInstant {
		t.Errorf("open access user %+v", u)
	}
	h.settle(1)
	h.noMoreMessages(adminID)
}

func TestAdminIsAlwaysApproved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := h.ask(adminID, adminID, "/start")
	mustContain(t, m.Plain, "/topics")
	if u := h.user(adminID); u.Status != storage.StatusApproved {
		t.Errorf("admin %+v", u)
	}
	m = h.ask(adminID, adminID, "/help")
	mustContain(t, m.Plain, "Admin commands", "/watch")
}

func TestUnknownUsersAndText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	m := h.ask(aliceID, aliceID, "/topics")
	mustContain(t, m.Plain, "/start")
	m = h.ask(aliceID, aliceID, "/help")
	mustContain(t, m.Plain, "/subscribe")
	m = h.ask(aliceID, aliceID, "hello there")
	mustContain(t, m.Plain, "/start")
	if _, err := h.store.User(aliceID); err == nil {
		t.Error("a user record was created without /start")
	}
	h.approved(bobID, "en")
	m = h.ask(bobID, bobID, "/frobnicate")
	mustContain(t, m.Plain, "/help")
}

func TestTopicsToggle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en", "banks")
	h.store.PutTopic("banks", "bank OR банк", time.Now())
	h.store.PutTopic("китайискусственныйинтеллектбанки", "Китай ИИ", time.Now()) // 64+ bytes as callback data
	h.store.PutTopic("vtb-china", "(ВТБ OR VTB) (Китай OR China)", time.Now())

	m := h.ask(aliceID, aliceID, "/topics")
	mustContain(t, m.Plain, "banks", "vtb-china", "(ВТБ OR VTB) (Китай OR China)")
	data := buttonData(m)
	if len(data) != 3 {
		t.Fatalf("buttons %v", data)
	}
	for _, d := range data {
		if len(d) > 64 {
			t.Errorf("callback data %q over 64 bytes", d)
		}
	}
	btn, ok := m.Button("✅ banks")
	if !ok {
		t.Fatalf("no ✅ banks button in %+v", m.InlineKeyboard)
	}

	ans := h.press(aliceID, aliceID, m, "sub:vtb-china")
	mustContain(t, ans.Text, "Subscribed to vtb-china")
	if !h.user(aliceID).Subscribed("vtb-china") {
		t.Error("not subscribed")
	}
	m = h.message(aliceID, m.ID)
	if _, ok := m.Button("✅ vtb-china"); !ok || m.Edited.IsZero() {
		t.Errorf("keyboard not redrawn: %+v", m.InlineKeyboard)
	}

	ans = h.press(aliceID, aliceID, m, btn.CallbackData)
	mustContain(t, ans.Text, "Unsubscribed from banks")
	if h.user(aliceID).Subscribed("banks") {
		t.Error("still subscribed")
	}

	// The long Cyrillic name works through its hashed callback data.
	long := "китайискусственныйинтеллектбанки"
	lb, ok := h.message(aliceID, m.ID).Button("▫️ " + long)
	if !ok {
		t.Fatal("no button for the long topic")
	}
	h.press(aliceID, aliceID, h.message(aliceID, m.ID), lb.CallbackData)
	if !h.user(aliceID).Subscribed(long) {
		t.Error("long topic not subscribed")
	}
	h.noMoreMessages(aliceID)
}

func TestSubscribeUnsubscribe(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "ru")
	h.store.PutTopic("vtb-china", "ВТБ Китай", time.Now())
	h.store.PutTopic("banks", "банк", time.Now())
	for _, tc := range []struct {
		text   string
		want   []string
		topics []string
	}{
		{"/subscribe", []string{"На какую тему"}, nil},
		{"/subscribe vtb-china", []string{"подписались", "vtb-china"}, []string{"vtb-china"}},
		{"/subscribe VTB-China", []string{"уже подписаны"}, []string{"vtb-china"}},
		{"/subscribe banks, nope", []string{"подписались на тему banks", "Темы nope нет"}, []string{"vtb-china", "banks"}},
		{"/subscribe <b>x</b>", []string{"Темы <b>x</b> нет"}, []string{"vtb-china", "banks"}},
		{"/unsubscribe vtb-china", []string{"отписались"}, []string{"banks"}},
		{"/unsubscribe vtb-china", []string{"не подписаны"}, []string{"banks"}},
		{"/unsubscribe", []string{"От какой темы"}, []string{"banks"}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			m := h.ask(aliceID, aliceID, tc.text)
			mustContain(t, m.Plain, tc.want...)
			if got := h.user(aliceID).Topics; strings.Join(got, ",") != strings.Join(tc.topics, ",") {
				t.Errorf("topics %v, want %v", got, tc.topics)
			}
		})
	}
}

func TestLatest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	m := h.ask(aliceID, aliceID, "/latest")
	mustContain(t, m.Plain, "/topics")

	h.store.UpdateUser(aliceID, func(u *storage.User) { u.Topics = []string{"banks"}; u.TZ = "Europe/London" })
	m = h.ask(aliceID, aliceID, "/latest")
	mustContain(t, m.Plain, "Nothing")

	now := time.Now()
	h.saveArticle("https://a.example/old", "Old bank news from last month", "Text about banks.", "Alpha", now.Add(-10*24*time.Hour), false, "banks")
	var want []string
	var newest storage.Article
	for i := range 12 {
		title := fmt.Sprintf("Bank story number %d <with> & entities", i)
		newest = h.saveArticle(fmt.Sprintf("https://a.example/%d", i), title, "Text.", "Alpha", now.Add(-time.Duration(12-i)*time.Hour), false, "banks", "other")
		want = append([]string{title}, want...)
	}
	if _, err := h.store.PutSummary(storage.Summary{StoryID: newest.StoryID, Lang: "ru", Text: "Краткий пересказ сюжета."}); err != nil {
		t.Fatal(err)
	}
	h.saveArticle("https://a.example/sport", "Football results", "Sports.", "Beta", now, false, "sport")

	// One message lists the ten newest, a button each opens the full card.
	m = h.ask(aliceID, aliceID, "/latest")
	h.settle(0)
	h.noMoreMessages(aliceID)
	pos := -1
	for _, title := range want[:latestStories] {
		i := strings.Index(m.Plain, title)
		if i < pos {
			t.Errorf("%q out of order in:\n%s", title, m.Plain)
		}
		pos = i
	}
	mustContain(t, m.Plain, "Latest on your topics", "Alpha", "banks", "Краткий пересказ сюжета.")
	if strings.Contains(m.Plain, "other") || strings.Contains(m.Plain, want[latestStories]) || strings.Contains(m.Plain, "Old bank") {
		t.Errorf("/latest shows a topic the user does not follow, an 11th story or an old one:\n%s", m.Plain)
	}
	cards := buttonData(m)
	if len(cards) != latestStories || cards[0] != fmt.Sprintf("card:%d", newest.StoryID) {
		t.Fatalf("card buttons %v", cards)
	}
	h.press(aliceID, aliceID, m, cards[0])
	card := h.next(aliceID)
	mustContain(t, card.Plain, want[0], "Alpha", "Topics: banks", "Краткий пересказ сюжета.")
	if strings.Contains(card.Plain, "other") {
		t.Errorf("card shows a topic the user does not follow: %q", card.Plain)
	}
	mustContain(t, strings.Join(buttonData(card), " "), "mute:banks", fmt.Sprintf("sim:%d", newest.StoryID))
	h.sync()
	h.noMoreMessages(aliceID)
}

func TestSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	m := h.ask(aliceID, aliceID, "/settings")
	mustContain(t, m.Plain, "Language: English", "Delivery: instant", "Time zone: UTC")
	data := strings.Join(buttonData(m), " ")
	mustContain(t, data, "set:lang:ru", "set:digest:daily", "set:digest:weekly", "set:tz:Europe/Moscow", "set:tz:Europe/London", "set:tz:UTC", "set:tz:Asia/Shanghai")

	ans := h.press(aliceID, aliceID, m, "set:tz:Asia/Shanghai")
	mustContain(t, ans.Text, "Asia/Shanghai")
	if h.user(aliceID).TZ != "Asia/Shanghai" {
		t.Error("zone not stored")
	}
	ans = h.press(aliceID, aliceID, m, "set:digest:daily")
	mustContain(t, ans.Text, "Delivery: daily digest at 09:00")
	if u := h.user(aliceID); u.Mode != storage.ModeDigest || u.DigestClock() != "09:00" {
		t.Errorf("mode %q at %q not stored", u.Mode, u.DigestAt)
	}
	m = h.message(aliceID, m.ID)
	mustContain(t, m.Plain, "Delivery: daily digest at 09:00", "Time zone: Asia/Shanghai")
	// Choosing a digest offers its times.
	h.press(aliceID, aliceID, m, "set:at:18:00")
	mustContain(t, h.message(aliceID, m.ID).Plain, "Delivery: daily digest at 18:00 (next: ", "CST")
	h.press(aliceID, aliceID, h.message(aliceID, m.ID), "set:digest:off")
	mustContain(t, h.message(aliceID, m.ID).Plain, "Delivery: instant")

	h.press(aliceID, aliceID, m, "set:lang:ru")
	if h.user(aliceID).Lang != "ru" {
		t.Error("language not stored")
	}
	mustContain(t, h.message(aliceID, m.ID).Plain, "Настройки", "Язык: русский")

	for _, tc := range []struct {
		text string
		want []string
		tz   string
	}{
		{"/settings tz Asia/Novosibirsk", []string{"Часовой пояс: Asia/Novosibirsk"}, "Asia/Novosibirsk"},
		{"/settings tz Mars/Olympus", []string{"Неизвестный часовой пояс", "Mars/Olympus"}, "Asia/Novosibirsk"},
		{"/settings tz Local", []string{"Неизвестный"}, "Asia/Novosibirsk"},
		{"/settings tz ../../etc/passwd", []string{"Неизвестный"}, "Asia/Novosibirsk"},
		{"/settings tz utc", []string{"Часовой пояс: UTC"}, "UTC"},
		{"/settings tz", []string{"Использование"}, "UTC"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			m := h.ask(aliceID, aliceID, tc.text)
			mustContain(t, m.Plain, tc.want...)
			if got := h.user(aliceID).TZ; got != tc.tz {
				t.Errorf("tz %q, want %q", got, tc.tz)
			}
			if strings.Contains(tc.want[0], "Часовой пояс:") {
				h.next(aliceID) // the settings message follows the note
			}
		})
	}
	m = h.ask(aliceID, aliceID, "/settings lang en")
	mustContain(t, m.Plain, "Language: English")
	h.next(aliceID)
}

func TestMuteAndSimilar(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en", "vtb", "ai")
	now := time.Now()
	text := "ВТБ рассматривает создание центра компетенций в области искусственного интеллекта на территории Китая для совместных исследований."
	orig := h.saveArticle("https://a.example/vtb", "ВТБ откроет ИИ-центр в Китае", text, "РБК", now.Add(-time.Hour), true, "vtb", "ai")
	reprint := h.saveArticle("https://b.example/vtb", "ВТБ откроет ИИ-центр в Китае", text, "Ведомости", now.Add(-30*time.Minute), true, "vtb")
	if reprint.StoryID != orig.StoryID {
		t.Fatalf("reprint in story %d, original in %d", reprint.StoryID, orig.StoryID)
	}
	lonely := h.saveArticle("https://c.example/sber", "Сбербанк запустил кредиты малому бизнесу в Китае", "Сбербанк объявил о новой программе кредитования.", "Интерфакс", now.Add(-20*time.Minute), false, "ai")
	h.saveArticle("https://d.example/sber2", "Кредиты малому бизнесу: Сбербанк расширяет программу", "Подробности программы кредитования малого бизнеса.", "ТАСС", now.Add(-10*time.Minute), false)
	h.saveArticle("https://e.example/weather", "Погода в Москве", "Дожди.", "ТАСС", now.Add(-5*time.Minute), false)

	latest := h.ask(aliceID, aliceID, "/latest")
	mustContain(t, latest.Plain, "ВТБ откроет ИИ-центр", "Сбербанк запустил")
	h.press(aliceID, aliceID, latest, fmt.Sprintf("card:%d", orig.StoryID))
	vtbMsg := h.next(aliceID)
	h.press(aliceID, aliceID, latest, fmt.Sprintf("card:%d", lonely.StoryID))
	sberMsg := h.next(aliceID)
	mustContain(t, vtbMsg.Plain, "ВТБ", "Also in")
	mustContain(t, sberMsg.Plain, "Сбербанк")

	// 🔎 on a story with reprints lists its other articles.
	ans := h.press(aliceID, aliceID, vtbMsg, fmt.Sprintf("sim:%d", orig.StoryID))
	if ans.QueryID == "" {
		t.Fatal("no answer")
	}
	m := h.next(aliceID)
	mustContain(t, m.Plain, "Other coverage", "Ведомости")

	// 🔎 on a single article finds others sharing the title's words.
	h.press(aliceID, aliceID, sberMsg, fmt.Sprintf("sim:%d", lonely.StoryID))
	m = h.next(aliceID)
	mustContain(t, m.Plain, "Similar stories", "Кредиты малому бизнесу")
	if strings.Contains(m.Plain, "Погода") || strings.Contains(m.Plain, "запустил") {
		t.Errorf("similar lists unrelated or the same story: %q", m.Plain)
	}

	// 🔕 offers how long; a choice mutes the topic, keeps the
	// subscription, and puts the 🔕 back.
	ans = h.press(aliceID, aliceID, vtbMsg, "mute:vtb")
	mustContain(t, ans.Text, "Mute vtb for how long?")
	menu := h.message(aliceID, vtbMsg.ID)
	mustContain(t, strings.Join(buttonData(menu), " "), "m1d:vtb", "m1w:vtb", "m0:vtb", "mute:ai")
	ans = h.press(aliceID, aliceID, menu, "m1w:vtb")
	mustContain(t, ans.Text, "Muted vtb until")
	u := h.user(aliceID)
	if !u.Subscribed("vtb") || !u.Muted("vtb", time.Now().Add(6*24*time.Hour)) || u.Muted("vtb", time.Now().Add(8*24*time.Hour)) || u.Muted("ai", time.Now()) {
		t.Errorf("after muting vtb for a week: topics %v, mutes %v", u.Topics, u.Mutes)
	}
	back := h.message(aliceID, vtbMsg.ID)
	mustContain(t, strings.Join(buttonData(back), " "), "mute:vtb", "mute:ai")
	h.noMoreMessages(aliceID)
}

func TestTopicsSplitWithTheirButtons(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	now := time.Now()
	for i := range 60 {
		q := fmt.Sprintf("(банк%d OR bank%d) %s", i, i, strings.Repeat("длинноеслово ", 30))
		h.store.PutTopic(fmt.Sprintf("тема-%02d", i), q, now)
	}
	// One message of 25 topics with their buttons; ◀ n/m ▶ page it.
	m := h.ask(aliceID, aliceID, "/topics")
	h.settle(0)
	h.noMoreMessages(aliceID)
	seen := map[string]bool{}
	for page := range 3 {
		toggles := 0
		for _, d := range buttonData(m) {
			name, ok := strings.CutPrefix(d, "sub:")
			if !ok {
				continue
			}
			toggles++
			seen[name] = true
			if !strings.Contains(m.Plain, name+" — ") {
				t.Errorf("page %d: button %q under a message that does not list it", page+1, d)
			}
		}
		if want := min(25, 60-25*page); toggles != want {
			t.Errorf("page %d has %d toggles, want %d", page+1, toggles, want)
		}
		mustContain(t, strings.Join(buttonData(m), " "), fmt.Sprintf("tp:%d", page))
		if page == 1 {
			// Toggling on page 2 keeps page 2.
			h.press(aliceID, aliceID, m, "sub:тема-30")
			m = h.message(aliceID, m.ID)
			mustContain(t, m.Plain, "✅ тема-30", "тема-49")
			mustContain(t, strings.Join(buttonData(m), " "), "tp:1")
		}
		h.press(aliceID, aliceID, m, fmt.Sprintf("tp:%d", (page+1)%3))
		m = h.message(aliceID, m.ID)
	}
	if len(seen) != 60 {
		t.Errorf("%d topics over the pages, want 60", len(seen))
	}
	if !h.user(aliceID).Subscribed("тема-30") {
		t.Error("the toggle on page 2 did not subscribe")
	}
	h.noMoreMessages(aliceID)
}

// A burst of newcomers reaches the admins as few messages, one per
// NoticeEvery at most, each listing everyone with buttons; deciding on one
// takes only their buttons away. Announced users are not announced again
// after a restart, unannounced ones are.
func TestNewcomersBatchedForAdmins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.NoticeEvery = time.Second })
	first := int64(3000)
	for i := range 6 {
		h.send(first+int64(i), first+int64(i), "/start", tgfake.FirstName(fmt.Sprint("Newcomer", i)))
	}
	// The first notice goes at once with whoever had started by then; the
	// rest wait for the interval.
	notices := []tgfake.Message{h.next(adminID)}
	for n := len(notices[0].InlineKeyboard); n < 6; n += len(notices[len(notices)-1].InlineKeyboard) {
		notices = append(notices, h.next(adminID))
	}
	if len(notices) > 2 {
		t.Errorf("%d notices for one burst, want at most 2", len(notices))
	}
	if len(notices) == 2 {
		if d := notices[1].Sent.Sub(notices[0].Sent); d < 900*time.Millisecond {
			t.Errorf("second notice %v after the first, want about NoticeEvery", d)
		}
	}
	batch := notices[len(notices)-1]
	rows := len(batch.InlineKeyboard)
	mustContain(t, batch.Plain, fmt.Sprintf("Waiting for your approval (%d)", rows))
	var target, other int64
	fmt.Sscanf(batch.InlineKeyboard[0][0].CallbackData, "appr:%d", &target)
	fmt.Sscanf(notices[0].InlineKeyboard[len(notices[0].InlineKeyboard)-1][0].CallbackData, "appr:%d", &other)
	h.press(adminID, adminID, batch, fmt.Sprintf("appr:%d", target))
	edited := h.message(adminID, batch.ID)
	if len(edited.InlineKeyboard) != rows-1 || strings.Contains(strings.Join(buttonData(edited), " "), fmt.Sprint(target)) {
		t.Errorf("after one decision the notice has buttons %v", buttonData(edited))
	}
	mustContain(t, edited.Plain, "Approved by")
	if u := h.user(target); u.Status != storage.StatusApproved {
		t.Errorf("approved newcomer %+v", u)
	}
	if u := h.user(other); u.Status != storage.StatusPending || u.Asked.IsZero() {
		t.Errorf("a newcomer still waiting: %+v", u)
	}

	// One more arrives just before a restart: announced after it, alone.
	h.stop()
	late := int64(3100)
	h.store.CreateUser(storage.User{ID: late, ChatID: late, Name: "Late", Lang: "en", Status: storage.StatusPending,
		Mode: storage.ModeInstant, TZ: "UTC", Created: time.Now()})
	h.start()
	m := h.next(adminID)
	mustContain(t, m.Plain, "Waiting for your approval (1)", "Late")
	h.settle(0)
	h.noMoreMessages(adminID)
}

// One /subscribe naming thousands of topics reads a capped number of them
// and answers once.
func TestSubscribeManyNamesAnswersOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.approved(aliceID, "en")
	h.store.PutTopic("fintech", "fintech", time.Now())
	h.store.PutTopic("banks", "банк", time.Now())
	var names []string
	for i := range 2040 {
		names = append(names, fmt.Sprintf("nosuch%04d", i))
	}
	names = append([]string{"fintech", "Banks"}, names...)
	text := "/subscribe " + strings.Join(names, " ")
	if len([]rune(text)) > 4096 {
		text = string([]rune(text)[:4096])
	}
	m := h.ask(aliceID, aliceID, text)
	h.settle(0)
	h.noMoreMessages(aliceID)
	mustContain(t, m.Plain, "Subscribed to fintech, banks", "There is no topic nosuch0000", "and 28 more", "Only the first 50 names were read")
	if u := h.user(aliceID); !u.Subscribed("fintech") || !u.Subscribed("banks") {
		t.Errorf("subscriptions %v", u.Topics)
	}
}
