package storage

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	_ "time/tzdata" // zones without depending on the machine's zoneinfo
)

func TestCreateUserIsIdempotent(t *testing.T) {
	s, _ := openTemp(t)
	u := User{ID: 42, ChatID: 42, Name: "Анна", Username: "anna", Lang: "ru", Status: StatusPending,
		Mode: ModeInstant, TZ: "Europe/Moscow", Created: t0, Updated: t0}
	got, created, err := s.CreateUser(u)
	if err != nil || !created {
		t.Fatalf("first create: created=%v err=%v", created, err)
	}
	if got.Name != "Анна" || got.Status != StatusPending {
		t.Errorf("first create returned %+v", got)
	}

	// /start again, with a new name and a later time: the stored user wins.
	again := u
	again.Name, again.Status, again.Created = "Anna K", StatusApproved, t0.Add(time.Hour)
	got, created, err = s.CreateUser(again)
	if err != nil || created {
		t.Fatalf("second create: created=%v err=%v", created, err)
	}
	if got.Name != "Анна" || got.Status != StatusPending || !got.Created.Equal(t0) {
		t.Errorf("second create returned %+v, want the stored user", got)
	}
	stored, err := s.User(42)
	if err != nil || stored.Name != "Анна" || stored.Username != "anna" || stored.TZ != "Europe/Moscow" {
		t.Errorf("stored = %+v, %v", stored, err)
	}
	if all, _ := s.Users(); len(all) != 1 {
		t.Errorf("users = %d, want 1", len(all))
	}
	if _, err := s.User(43); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

func TestUpdateUser(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 7, StatusPending, false)
	got, err := s.UpdateUser(7, func(u *User) {
		u.Status = StatusApproved
		u.Topics = []string{"vtb", "sber-ai"}
		u.Mode = ModeDigest
		u.Updated = t0.Add(time.Hour)
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := s.User(7)
	for _, u := range []User{got, stored} {
		if u.Status != StatusApproved || u.Mode != ModeDigest || !u.Subscribed("sber-ai") || u.Subscribed("sber") ||
			!u.Updated.Equal(t0.Add(time.Hour)) || u.ID != 7 {
			t.Errorf("updated user = %+v", u)
		}
	}
	called := false
	if _, err := s.UpdateUser(8, func(*User) { called = true }); !errors.Is(err, ErrNotFound) || called {
		t.Errorf("update of unknown user: err=%v called=%v", err, called)
	}
	if _, err := s.User(8); !errors.Is(err, ErrNotFound) {
		t.Errorf("update created user 8: %v", err)
	}
}

func TestUsersSortedByID(t *testing.T) {
	s, _ := openTemp(t)
	ids := []int64{300, 5, 1 << 40, 17, 1}
	for _, id := range ids {
		addUser(t, s, id, StatusApproved, false)
	}
	users, err := s.Users()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, u := range users {
		got = append(got, u.ID)
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Errorf("Users = %v, want %v", got, want)
	}

	empty, _ := openTemp(t)
	if users, err := empty.Users(); err != nil || len(users) != 0 {
		t.Errorf("empty database: %v, %v", users, err)
	}
}

func TestSubscriberCountsOnlyApprovedActive(t *testing.T) {
	s, _ := openTemp(t)
	addUser(t, s, 1, StatusApproved, false, "vtb", "sber")
	addUser(t, s, 2, StatusApproved, false, "vtb")
	addUser(t, s, 3, StatusPending, false, "vtb", "pending-only")
	addUser(t, s, 4, StatusBanned, false, "vtb", "sber")
	addUser(t, s, 5, StatusApproved, true, "vtb", "inactive-only")
	got, err := s.SubscriberCounts()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"vtb": 2, "sber": 1}
	if !maps.Equal(got, want) {
		t.Errorf("SubscriberCounts = %v, want %v", got, want)
	}
}

func TestDeleteTopicRemovesSubscriptions(t *testing.T) {
	s, _ := openTemp(t)
	for _, name := range []string{"vtb", "sber"} {
		if _, err := s.PutTopic(name, name, t0); err != nil {
			t.Fatal(err)
		}
	}
	addUser(t, s, 1, StatusApproved, false, "vtb", "sber")
	addUser(t, s, 2, StatusPending, false, "vtb")
	addUser(t, s, 3, StatusBanned, true, "sber", "vtb")
	addUser(t, s, 4, StatusApproved, false, "sber")

	if err := s.DeleteTopic("vtb"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Topic("vtb"); !errors.Is(err, ErrNotFound) {
		t.Errorf("topic still there: %v", err)
	}
	if _, err := s.Topic("sber"); err != nil {
		t.Errorf("other topic gone: %v", err)
	}
	want := map[int64][]string{1: {"sber"}, 2: nil, 3: {"sber"}, 4: {"sber"}}

	s = reopen(t, s)
	users, _ := s.Users()
	if len(users) != len(want) {
		t.Fatalf("users = %+v", users)
	}
	for _, u := range users {
		if !slices.Equal(u.Topics, want[u.ID]) {
			t.Errorf("user %d topics = %v, want %v", u.ID, u.Topics, want[u.ID])
		}
		if u.Subscribed("vtb") {
			t.Errorf("user %d still subscribed to the deleted topic", u.ID)
		}
	}

	if err := s.DeleteTopic("vtb"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete again: %v, want ErrNotFound", err)
	}
	if err := s.DeleteTopic("never-existed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v, want ErrNotFound", err)
	}
	if u, _ := s.User(4); !slices.Equal(u.Topics, []string{"sber"}) {
		t.Errorf("failed delete changed user 4: %v", u.Topics)
	}
}

func TestUserLocation(t *testing.T) {
	tests := []struct {
		tz, want string
	}{
		{"", "UTC"},
		{"Europe/Moscow", "Europe/Moscow"},
		{"Asia/Shanghai", "Asia/Shanghai"},
		{"Mars/Olympus_Mons", "UTC"},
		{"../../etc/passwd", "UTC"},
		{"not a zone", "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.tz, func(t *testing.T) {
			u := User{TZ: tt.tz}
			loc := u.Location()
			if loc == nil || loc.String() != tt.want {
				t.Errorf("Location(%q) = %v, want %s", tt.tz, loc, tt.want)
			}
		})
	}
	moscow := User{TZ: "Europe/Moscow"}
	if _, off := t0.In(moscow.Location()).Zone(); off != 3*3600 {
		t.Errorf("Moscow offset = %d, want +3h", off)
	}
}
