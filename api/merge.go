package api

import (
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/gofiber/fiber/v2"
)

// patchContent serves PATCH /api/docs/{id}/content with {version, content,
// client?, seq?}: content is the whole text the caller wants, edited from
// the document as it was at version. The caller's change is the diff of
// the content at version and content; it is submitted based on version, so
// the sequencer transforms it over every op committed since (it merges with
// them instead of overwriting them). The answer is {version, op}: the op as
// committed. A content equal to the one at version commits nothing and
// answers the head with op [].
func (a *API) patchContent(c *fiber.Ctx) error {
	id, obj, err := a.docBody(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	version, ok, err := obj.uint("version")
	if err != nil {
		return a.fail(c, err)
	}
	if !ok {
		return a.fail(c, badRequest(`"version" (the version the content was edited from) is required`))
	}
	content, ok, err := obj.str("content", 0)
	if err != nil {
		return a.fail(c, err)
	}
	if !ok {
		return a.fail(c, badRequest(`"content" (a string, the whole text) is required`))
	}
	client, _, err := obj.str("client", 0) // its length is checked by collab (one owner)
	if err != nil {
		return a.fail(c, err)
	}
	seq, hasSeq, err := obj.uint("seq")
	if err != nil {
		return a.fail(c, err)
	}
	if (client != "") != hasSeq || (hasSeq && seq == 0) {
		return a.fail(c, badRequest(`"client" and "seq" (from 1) go together`))
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	base, err := a.hub.ContentAt(ctx, id, version)
	if err != nil {
		return a.fail(c, err)
	}
	op := collab.DiffOp(base, content)
	if len(op) == 0 && client == "" {
		info, _, err := a.hub.Get(ctx, id)
		if err != nil {
			return a.fail(c, err)
		}
		c.Set(fiber.HeaderETag, etag(info.Version))
		return c.JSON(committedJSON{Version: info.Version, Op: ot.Op{}})
	}
	com, err := a.hub.Submit(ctx, id, "", collab.Submission{Version: version, Op: op, Client: client, Seq: seq, Author: restAuthor(c)})
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(fiber.HeaderETag, etag(com.Version))
	return c.JSON(committedJSON{Version: com.Version, Op: com.Op})
}
