package api

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// DefaultMaxDiffWork is the default of Options.MaxDiffWork: the bytes of
// document content that the diff, blame and export (html, jsonl) routes
// may be working on at once, over all requests.
const DefaultMaxDiffWork = 64 << 20

// diffWorkRetry is the Retry-After (seconds) of a request refused for the
// diff work budget.
const diffWorkRetry = 1

// reserveBytes adds n to *used unless that would take it over limit while
// other work is in progress (so any one request is served when nothing
// else runs, however large).
func reserveBytes(used *atomic.Int64, limit, n int64) bool {
	for {
		cur := used.Load()
		if cur > 0 && cur+n > limit {
			return false
		}
		if used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// reserveDiffWork reserves the work of a history request on a document of
// size bytes (weight times its size, plus one) within Options.MaxDiffWork.
// Over it, the request is answered 429 rate_limited with Retry-After, and
// ok is false. Otherwise the caller calls release when the work is done.
func (a *API) reserveDiffWork(c *fiber.Ctx, size int64, weight int64) (release func(), ok bool, err error) {
	n := weight*size + 1
	if !reserveBytes(&a.diffWork, int64(a.opts.MaxDiffWork), n) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(diffWorkRetry))
		return nil, false, a.fail(c, &collab.Error{Code: collab.CodeRateLimited,
			Message: fmt.Sprintf("the server is busy with %d MiB of diff, blame and export work, its limit; retry shortly", a.opts.MaxDiffWork>>20)})
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			a.diffWork.Add(-n)
		}
	}, true, nil
}
