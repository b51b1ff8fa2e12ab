package bot

import (
	"context"
	"testing"
	"time"

	"dozor/storage"
)

// BenchmarkBroadcast1000 sends one alert to 1,000 subscribers through the
// fake Telegram enforcing 30 messages a second overall and one a second
// per chat, and reports the sustained rate and how many 429s Telegram
// would have answered. About 35 s per iteration: run with -benchtime 1x.
func BenchmarkBroadcast1000(b *testing.B) {
	const subscribers = 1000
	var elapsed time.Duration
	total429, sent := 0, 0
	for b.Loop() {
		b.StopTimer()
		e := newDlvEnv(b)
		// Creating 1,000 users one transaction at a time is set-up, not
		// what is measured: skip the fsyncs for it, then reopen normally.
		if err := e.store.Close(); err != nil {
			b.Fatal(err)
		}
		e.open(storage.Options{NoSync: true})
		e.users(subscribers)
		if err := e.store.Close(); err != nil {
			b.Fatal(err)
		}
		e.open(storage.Options{})
		e.story("Сюжет для тысячи подписчиков")
		if n := e.store.OutboxLen(); n != subscribers {
			b.Fatalf("%d queued", n)
		}
		before := len(e.fake.AllMessages())
		d := e.deliverer(e.api)
		b.StartTimer()

		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		e.waitEmpty()
		elapsed += time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		total429 += e.fake.Count429()
		got := len(e.fake.AllMessages()) - before
		if got != subscribers {
			b.Fatalf("%d messages for %d subscribers", got, subscribers)
		}
		sent += got
		b.StartTimer()
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(total429), "429s")
}
