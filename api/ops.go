package api

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cowrite/cowrite/auth"
	"github.com/gofiber/fiber/v2"
)

// DefaultOpsPageBytes is the default of Options.OpsPageBytes.
const DefaultOpsPageBytes = 4 << 20

// opsChunk is how many ops GET /ops reads from the hub at a time: the
// records in memory at once, whatever the page's limit.
const opsChunk = 64

// getOps serves GET /api/docs/{id}/ops. A page holds at most "limit" ops
// and about Options.OpsPageBytes bytes of JSON (always at least one op, so
// that one op larger than the budget still gets through). It is read from
// the hub in chunks of opsChunk and each op is encoded as it is read, so
// neither the records nor a second copy of the page are built whole. When
// the page ends before "to" (or the head) because of either bound, the body
// carries "next_from": the version to pass as "from" for the next page;
// without it the page is complete.
func (a *API) getOps(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	from, to, hasTo, err := queryRange(c)
	if err != nil {
		return a.fail(c, err)
	}
	if hasTo && to < from {
		return a.fail(c, badRequest(fmt.Sprintf("\"to\" (%d) is below \"from\" (%d)", to, from)))
	}
	limit, err := queryLimit(c, defaultOpsLimit, maxOpsLimit)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	if hasTo && to == from {
		// Nothing to return, but the document must exist.
		if _, _, err := a.hub.Get(ctx, id); err != nil {
			return a.fail(c, err)
		}
		return c.JSON(opsJSON{Ops: []opRecordJSON{}})
	}
	// The first chunk answers the errors (not_found, version_ahead,
	// version_too_old) with their status; later ones only end the page.
	recs, err := a.hub.Ops(ctx, id, from, to, min(limit, opsChunk))
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	w := c.Response().BodyWriter()
	buf := append(make([]byte, 0, 4096), `{"ops":[`...)
	written, n, last, cut := 0, 0, from, false
page:
	for {
		for _, r := range recs {
			rec, err := json.Marshal(opRecordWire(r))
			if err != nil {
				return a.fail(c, err)
			}
			if n > 0 && written+len(buf)+len(rec)+1 > a.opts.OpsPageBytes {
				cut = true
				break page
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, rec...)
			n++
			last = r.Version
			if len(buf) >= 32<<10 {
				_, _ = w.Write(buf)
				written += len(buf)
				buf = buf[:0]
			}
		}
		if n >= limit || (hasTo && last >= to) || len(recs) < opsChunk {
			break
		}
		if recs, err = a.hub.Ops(ctx, id, last, to, min(limit-n, opsChunk)); err != nil || len(recs) == 0 {
			cut = err != nil // pruned or unloaded meanwhile: the client goes on from last
			break
		}
	}
	if !cut && n >= limit && (!hasTo || last < to) {
		more, err := a.hub.Ops(ctx, id, last, to, 1)
		cut = err != nil || len(more) > 0
	}
	buf = append(buf, ']')
	if cut {
		buf = append(buf, `,"next_from":`...)
		buf = strconv.AppendUint(buf, last, 10)
	}
	buf = append(buf, '}')
	_, _ = w.Write(buf)
	return nil
}
