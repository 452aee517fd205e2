package collab

import "time"

// bucket is a token bucket: rate tokens per second, burst of 2×rate.
type bucket struct {
	tokens float64
	last   time.Time
}

func newBucket(rate float64) *bucket {
	return &bucket{tokens: 2 * rate}
}

// take removes one token if there is one.
func (b *bucket) take(now time.Time, rate float64) bool {
	if !b.last.IsZero() {
		b.tokens = min(2*rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
