package storage

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestTopics(t *testing.T) {
	s, _ := openTemp(t)
	if created, err := s.PutTopic("vtb-china", "ВТБ Китай", t0); err != nil || !created {
		t.Fatal(err, created)
	}
	if created, err := s.PutTopic("vtb-china", "(ВТБ OR VTB) Китай", t0.Add(time.Hour)); err != nil || created {
		t.Fatal(err, created)
	}
	// The same query again stores nothing.
	if created, err := s.PutTopic("vtb-china", "(ВТБ OR VTB) Китай", t0.Add(2*time.Hour)); err != nil || created {
		t.Fatal(err, created)
	}
	if _, err := s.PutTopic("alpha", "альфа", t0); err != nil {
		t.Fatal(err)
	}
	tp, err := s.Topic("vtb-china")
	if err != nil || tp.Query != "(ВТБ OR VTB) Китай" || !tp.Created.Equal(t0) || !tp.Updated.Equal(t0.Add(time.Hour)) {
		t.Errorf("topic = %+v, %v", tp, err)
	}
	all, err := s.Topics()
	if err != nil || len(all) != 2 || all[0].Name != "alpha" || all[1].Name != "vtb-china" {
		t.Errorf("topics = %+v, %v; want alpha, vtb-china", all, err)
	}
	if err := s.DeleteTopic("vtb-china"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Topic("vtb-china"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted topic: %v", err)
	}
	if err := s.DeleteTopic("vtb-china"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestTopicsVersion(t *testing.T) {
	s, _ := openTemp(t)
	steps := []struct {
		name    string
		do      func() error
		changes bool
	}{
		{name: "new topic", changes: true, do: func() error { _, err := s.PutTopic("vtb", "ВТБ", t0); return err }},
		{name: "another new topic", changes: true, do: func() error { _, err := s.PutTopic("sber", "Сбер", t0); return err }},
		{name: "query changed", changes: true, do: func() error { _, err := s.PutTopic("vtb", "ВТБ OR VTB", t0); return err }},
		{name: "same query again", changes: false, do: func() error { _, err := s.PutTopic("vtb", "ВТБ OR VTB", t0.Add(time.Hour)); return err }},
		{name: "delete", changes: true, do: func() error { return s.DeleteTopic("sber") }},
		{name: "delete of a missing topic", changes: false, do: func() error {
			if err := s.DeleteTopic("sber"); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("DeleteTopic = %v, want ErrNotFound", err)
			}
			return nil
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.TopicsVersion()
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			if changed := s.TopicsVersion() != before; changed != st.changes {
				t.Errorf("TopicsVersion changed = %v, want %v", changed, st.changes)
			}
		})
	}
}
