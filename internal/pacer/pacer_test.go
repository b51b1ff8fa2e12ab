package pacer

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// run starts the pacer's scheduler for the test's bubble.
func run(t *testing.T, p *Pacer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// fill takes the second's 30 sends, so further ones queue.
func fill(t *testing.T, p *Pacer) {
	t.Helper()
	for i := range 30 {
		done, err := p.Wait(context.Background(), int64(i+1), Bulk)
		if err != nil {
			t.Fatal(err)
		}
		done()
	}
}

// send waits for a grant, "sends" for latency and ends the send; it
// returns when it was granted.
func send(t *testing.T, p *Pacer, chat int64, prio Priority, latency time.Duration) time.Time {
	t.Helper()
	done, err := p.Wait(context.Background(), chat, prio)
	if err != nil {
		t.Errorf("wait: %v", err)
		return time.Time{}
	}
	at := time.Now()
	time.Sleep(latency)
	done()
	return at
}

func TestGlobalRateAndArrivalsPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		start := time.Now()
		var mu sync.Mutex
		var starts, ends []time.Time
		var wg sync.WaitGroup
		for i := range 120 {
			wg.Go(func() {
				done, err := p.Wait(context.Background(), int64(1000+i), Bulk)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				// Slow and uneven answers must not let arrivals bunch up.
				time.Sleep(time.Duration(50+i%7*40) * time.Millisecond)
				mu.Lock()
				ends = append(ends, time.Now())
				mu.Unlock()
				done()
			})
		}
		wg.Wait()
		if took := time.Since(start); took < 3900*time.Millisecond {
			t.Errorf("120 sends took %v, want ≥ 3.9 s at 30/s", took)
		}
		// No second of starts (which arrive at Telegram within their
		// latency) holds more than 30.
		for _, s := range starts {
			n := 0
			for _, x := range starts {
				if !x.Before(s) && x.Before(s.Add(time.Second)) {
					n++
				}
			}
			if n > 30 {
				t.Fatalf("%d sends started within one second from %v", n, s.Sub(start))
			}
		}
	})
}

func TestChatLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		start := time.Now()
		var at []time.Time
		for range TelegramLimits().PrivateBurst + 2 {
			at = append(at, send(t, p, 42, Reply, 50*time.Millisecond))
		}
		// A burst, then one a second from each answer.
		if d := at[TelegramLimits().PrivateBurst-1].Sub(start); d > 500*time.Millisecond {
			t.Errorf("the first %d sends to a chat took %v", TelegramLimits().PrivateBurst, d)
		}
		for i := TelegramLimits().PrivateBurst; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 1050*time.Millisecond {
				t.Errorf("send %d to a private chat %v after the one before; want the answer's 50 ms and a second", i+1, gap)
			}
		}
		g1 := send(t, p, -100, Reply, 0)
		g2 := send(t, p, -100, Reply, 0)
		if gap := g2.Sub(g1); gap < TelegramLimits().GroupGap {
			t.Errorf("group sends %v apart, want %v", gap, TelegramLimits().GroupGap)
		}
		// Another chat is not held by either.
		o1 := time.Now()
		if at := send(t, p, 7, Reply, 0); at.Sub(o1) > 100*time.Millisecond {
			t.Errorf("an idle chat waited %v", at.Sub(o1))
		}
	})
}

// One chat has one send in flight at a time, so its messages keep their
// order however long Telegram takes to answer.
func TestOneSendPerChatInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		done, err := p.Wait(context.Background(), 42, Reply)
		if err != nil {
			t.Fatal(err)
		}
		granted := make(chan struct{})
		go func() {
			d, err := p.Wait(context.Background(), 42, Reply)
			if err == nil {
				d()
			}
			close(granted)
		}()
		time.Sleep(10 * time.Second)
		select {
		case <-granted:
			t.Fatal("a second send to the chat started while the first was in flight")
		default:
		}
		done()
		<-granted
	})
}

func TestRepliesGoBeforeBulk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		fill(t, p)
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				send(t, p, int64(100+i), Bulk, 0)
				mu.Lock()
				order = append(order, "bulk")
				mu.Unlock()
			})
		}
		synctest.Wait() // the bulk sends wait
		wg.Go(func() {
			send(t, p, 500, Reply, 0)
			mu.Lock()
			order = append(order, "reply")
			mu.Unlock()
		})
		wg.Wait()
		if order[0] != "reply" {
			t.Errorf("order %v: the reply waited behind bulk sends queued before it", order)
		}
	})
}

func TestPauseHoldsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		p.Pause(5 * time.Second)
		start := time.Now()
		at := send(t, p, 1, Reply, 0)
		if d := at.Sub(start); d < 5*time.Second {
			t.Errorf("send granted %v into a 5 s pause", d)
		}
		if p.Paused() > 0 {
			t.Errorf("still paused after the pause")
		}
	})
}

func TestCancelledWaitHoldsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(1)
		run(t, p)
		done, err := p.Wait(context.Background(), 1, Bulk) // takes the one slot
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := p.Wait(ctx, 2, Reply)
			errc <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; err == nil {
			t.Fatal("a cancelled wait was granted")
		}
		done()
		// The cancelled waiter left nothing behind: the next send is granted
		// as soon as the rate allows.
		start := time.Now()
		if at := send(t, p, 3, Bulk, 0); at.Sub(start) > time.Second {
			t.Errorf("next send waited %v", at.Sub(start))
		}
		if free, ok := p.Free(2); !ok || free != 0 {
			t.Errorf("chat 2 of the cancelled wait: free in %v, %v", free, ok)
		}
	})
}

func TestRepliesAreFairAmongOwners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		// 32 chats flood callback answers (no chat limit, the global one
		// only), 10 each; then another chat asks once.
		var mu sync.Mutex
		var floodDone int
		var wg sync.WaitGroup
		for c := range 32 {
			for range 10 {
				wg.Go(func() {
					done, err := p.WaitFor(context.Background(), 0, int64(100+c), Reply)
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(20 * time.Millisecond)
					done()
					mu.Lock()
					floodDone++
					mu.Unlock()
				})
			}
		}
		time.Sleep(time.Second) // the flood is well under way
		start := time.Now()
		send(t, p, 7, Reply, 20*time.Millisecond)
		waited := time.Since(start)
		mu.Lock()
		left := 320 - floodDone
		mu.Unlock()
		wg.Wait()
		// FIFO would make it wait behind the ~290 answers still queued,
		// about ten seconds at 30/s.
		if waited > 200*time.Millisecond {
			t.Errorf("a reply waited %v behind another 32 chats' %d queued answers", waited, left)
		}
	})
}

func TestSpareGoesLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(30)
		run(t, p)
		fill(t, p)
		var mu sync.Mutex
		var order []Priority
		var wg sync.WaitGroup
		record := func(prio Priority) {
			done, err := p.WaitFor(context.Background(), 0, 9, prio)
			if err != nil {
				t.Error(err)
				return
			}
			done()
			mu.Lock()
			order = append(order, prio)
			mu.Unlock()
		}
		wg.Go(func() { record(Spare) }) // queued first
		synctest.Wait()
		wg.Go(func() { record(Bulk) })
		wg.Go(func() { record(Reply) })
		wg.Wait()
		if len(order) != 3 || order[0] != Reply || order[1] != Bulk || order[2] != Spare {
			t.Errorf("order %v, want Reply, Bulk, Spare", order)
		}
	})
}
