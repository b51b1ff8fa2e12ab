package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"dozor/internal/tgfake"
	"dozor/storage"
)

// approvedGroup stores an approved group chat subscribed to topics.
func (h *harness) approvedGroup(id int64, topics ...string) {
	h.t.Helper()
	now := time.Now()
	if _, _, err := h.store.CreateUser(storage.User{ID: id, ChatID: id, Name: "Analysts", Lang: "en", Status: storage.StatusApproved,
		Mode: storage.ModeInstant, TZ: "UTC", Topics: topics, Created: now, Updated: now}); err != nil {
		h.t.Fatal(err)
	}
}

// In a group, admin commands do nothing but say where they work: /users
// would post every user's id and name to the whole group.
func TestAdminCommandsRefusedInGroups(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	group := int64(-8001)
	h.approvedGroup(group)
	h.approved(aliceID, "en")
	h.fake.SetMember(group, adminID, tgfake.StatusCreator)
	for _, cmd := range []string{"/users", "/stats", "/sources", "/watchlist", "/watch x ВТБ", "/unwatch x", "/addsource https://example.com/rss", "/ban 2001", "/approve 2001", "/test ВТБ"} {
		name, args, _ := strings.Cut(cmd, " ")
		m := h.ask(group, adminID, name+"@"+h.fake.BotUsername()+" "+args)
		if m.Plain != "Admin commands work only in a private chat with the bot." {
			t.Errorf("%s in a group answered %q", cmd, m.Plain)
		}
		if strings.Contains(m.Plain, fmt.Sprint(aliceID)) {
			t.Errorf("%s in a group showed a user id: %q", cmd, m.Plain)
		}
	}
	h.noMoreMessages(group)
	if topics, _ := h.store.Topics(); len(topics) != 0 {
		t.Errorf("/watch in a group stored %+v", topics)
	}
	if u := h.user(aliceID); u.Status != storage.StatusApproved {
		t.Errorf("/ban in a group banned: %+v", u)
	}
	// The same admin in private still gets the answer.
	mustContain(t, h.ask(adminID, adminID, "/users").Plain, fmt.Sprint(aliceID))
}

// In a group only its administrators change its subscriptions, mutes and
// settings; any member may read them.
func TestGroupMembersCannotChangeTheGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	group := int64(-8002)
	h.store.PutTopic("fintech", "fintech", time.Now())
	h.approvedGroup(group)
	h.fake.SetMember(group, aliceID, tgfake.StatusAdministrator)
	h.fake.SetMember(group, bobID, tgfake.StatusMember)
	at := "@" + h.fake.BotUsername()

	for _, cmd := range []string{"/subscribe" + at + " fintech", "/unsubscribe" + at + " fintech", "/settings" + at + " lang ru"} {
		m := h.ask(group, bobID, cmd)
		mustContain(t, m.Plain, "Only the group's administrators")
	}
	if u := h.user(group); len(u.Topics) != 0 || u.Lang != "en" {
		t.Fatalf("a member changed the group: %+v", u)
	}
	// Reading is for everyone.
	mustContain(t, h.ask(group, bobID, "/settings"+at).Plain, "English")
	topics := h.ask(group, bobID, "/topics"+at)
	mustContain(t, topics.Plain, "fintech")
	ans := h.press(group, bobID, topics, "sub:fintech")
	mustContain(t, ans.Text, "Only the group's administrators")
	if u := h.user(group); len(u.Topics) != 0 {
		t.Fatalf("a member's button press subscribed the group: %+v", u)
	}

	// The group's admin may, and the answer is remembered for a while.
	mustContain(t, h.ask(group, aliceID, "/subscribe"+at+" fintech").Plain, "Subscribed to fintech")
	calls := h.fake.Calls("getChatMember")
	mustContain(t, h.ask(group, aliceID, "/settings"+at+" lang ru").Plain, "русский")
	if u := h.user(group); !u.Subscribed("fintech") || u.Lang != "ru" {
		t.Errorf("the admin's changes: %+v", u)
	}
	if n := h.fake.Calls("getChatMember"); n != calls {
		t.Errorf("getChatMember asked again (%d → %d): rights are cached", calls, n)
	}
}

// A group is signed up like a user, by one of its administrators.
func TestGroupStartNeedsItsAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	group := int64(-8003)
	h.fake.SetMember(group, bobID, tgfake.StatusMember)
	m := h.ask(group, bobID, "/start@"+h.fake.BotUsername())
	mustContain(t, m.Plain, "Only the group's administrators")
	if _, err := h.store.User(group); err == nil {
		t.Error("a plain member signed the group up")
	}
	h.noMoreMessages(adminID)
}
