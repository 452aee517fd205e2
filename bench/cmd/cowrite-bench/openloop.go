package main

import (
	"context"
	"math/rand/v2"
	"time"
)

// offer drives an open-loop run: rate arrivals per second in total, each to
// an editor picked at random (so each editor's arrivals form a Poisson
// process of rate/len(editors) when the total one is Poisson), or with
// uniform gaps (every gap 1/rate, editors in a shuffled round robin). It
// sleeps until the next arrival and hands out every arrival due by then;
// arrivals keep their scheduled time, so a late wake-up shows in the
// editors' send lag, not as a lower offered rate. Runs until ctx ends.
func offer(ctx context.Context, editors []*editor, rate float64, uniform bool) {
	if len(editors) == 0 || rate <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(len(editors)), uint64(rate)))
	order := rng.Perm(len(editors))
	mean := float64(time.Second) / rate
	gap := func() time.Duration {
		if uniform {
			return time.Duration(mean)
		}
		return time.Duration(rng.ExpFloat64() * mean)
	}
	due := time.Now().Add(gap())
	for i := 0; ; i++ {
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		var e *editor
		if uniform {
			e = editors[order[i%len(order)]]
		} else {
			e = editors[rng.IntN(len(editors))]
		}
		e.arrive(due)
		due = due.Add(gap())
	}
}
