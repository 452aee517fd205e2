package api

// History routes (SPEC §8): diff between two versions, export in four
// formats, import from text or from a JSON Lines history export.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/gofiber/fiber/v2"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Media types of the export formats; an import is sent with the one its
// export came with.
const (
	typeText     = "text/plain; charset=utf-8"
	typeMarkdown = "text/markdown; charset=utf-8"
	typeHTML     = "text/html; charset=utf-8"
	typeNDJSON   = "application/x-ndjson"
	typeUnified  = "text/x-diff"
)

// exportPage is how many ops an export reads from the store at a time.
const exportPage = 1000

// exportChunk is the largest write of an export stream (bytes).
const exportChunk = 64 << 10

// historyFormat is the "format" of a JSON Lines export's first line; an
// import refuses other values.
const historyFormat = 1

// versionJSON is a named version as the versions routes return it.
type versionJSON struct {
	Version uint64     `json:"version"`
	Label   string     `json:"label"`
	Author  authorJSON `json:"author"`
	Created time.Time  `json:"created"`
}

func toVersionJSON(v collab.NamedVersion) versionJSON {
	return versionJSON{Version: v.Version, Label: v.Label, Author: authorJSON{ID: v.Author.ID, Name: v.Author.Name}, Created: v.Created}
}

// maxNameHeader bounds the X-Cowrite-Name header (bytes).
const maxNameHeader = 64

// restAuthor is who makes a REST request: the token's subject and name, or
// in open mode the X-Cowrite-Name header (else "anonymous") with no id.
func restAuthor(c *fiber.Ctx) collab.Author {
	if id := auth.IdentityOf(c); id != nil && id.UserID != "" {
		return collab.Author{ID: id.UserID, Name: id.Name}
	}
	name := strings.TrimSpace(c.Get("X-Cowrite-Name"))
	if name == "" || len(name) > maxNameHeader || !utf8.ValidString(name) {
		name = "anonymous"
	}
	return collab.Author{Name: strings.Clone(name)}
}

func (a *API) nameVersion(c *fiber.Ctx) error {
	id, obj, err := a.docBody(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	label, ok, err := obj.str("label", collab.DefaultMaxLabelBytes)
	if err != nil {
		return a.fail(c, err)
	}
	if !ok || label == "" {
		return a.fail(c, badRequest(`"label" (a non-empty string) is required`))
	}
	var version *uint64
	if v, ok, err := obj.uint("version"); err != nil {
		return a.fail(c, err)
	} else if ok {
		version = &v
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	nv, err := a.hub.NameVersion(ctx, id, version, label, restAuthor(c))
	if err != nil {
		return a.fail(c, err)
	}
	return c.Status(http.StatusCreated).JSON(toVersionJSON(nv))
}

func (a *API) listVersions(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	vs, err := a.hub.Versions(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	out := make([]versionJSON, len(vs))
	for i, v := range vs {
		out[i] = toVersionJSON(v)
	}
	return c.JSON(fiber.Map{"versions": out})
}

func (a *API) deleteVersion(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	v, err := strconv.ParseUint(c.Params("version"), 10, 64)
	if err != nil {
		return a.fail(c, badRequest(fmt.Sprintf("version must be a non-negative integer, got %q", c.Params("version"))))
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	if err := a.hub.DeleteVersion(ctx, id, v); err != nil {
		return a.fail(c, err)
	}
	return c.SendStatus(http.StatusNoContent)
}

// historyVersion checks that version exists (<= head): history routes answer
// 404 not_found for a version the document never had.
func historyVersion(name string, v, head uint64) error {
	if v > head {
		return &collab.Error{Code: collab.CodeNotFound,
			Message: fmt.Sprintf("%s version %d does not exist (the document is at version %d)", name, v, head)}
	}
	return nil
}

// contentAt returns the content at version v given the head's content.
func (a *API) contentAt(ctx context.Context, id string, v, head uint64, headContent string) (string, error) {
	if v == head {
		return headContent, nil
	}
	return a.hub.ContentAt(ctx, id, v)
}

// queryRange parses the optional "from" (default 0) and "to" query
// parameters of the ops and diff routes.
func queryRange(c *fiber.Ctx) (from, to uint64, hasTo bool, err error) {
	if from, _, err = queryUint(c, "from"); err != nil {
		return 0, 0, false, err
	}
	to, hasTo, err = queryUint(c, "to")
	return from, to, hasTo, err
}

func (a *API) diff(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	from, to, hasTo, err := queryRange(c)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, head, err := a.hub.Get(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	if !hasTo {
		to = info.Version
	}
	if from > to {
		return a.fail(c, badRequest(fmt.Sprintf("\"from\" (%d) is above \"to\" (%d)", from, to)))
	}
	if err := historyVersion("\"to\"", to, info.Version); err != nil {
		return a.fail(c, err)
	}
	release, ok, err := a.reserveDiffWork(c, info.Size, 2)
	if !ok {
		return err
	}
	defer release()
	before, err := a.contentAt(ctx, id, from, info.Version, head)
	if err != nil {
		return a.fail(c, err)
	}
	after, err := a.contentAt(ctx, id, to, info.Version, head)
	if err != nil {
		return a.fail(c, err)
	}
	op, err := a.rangeOp(ctx, id, from, to, before, after)
	if err != nil {
		return a.fail(c, err)
	}
	if acceptsUnified(c.Get(fiber.HeaderAccept)) {
		c.Set(fiber.HeaderContentType, typeUnified+"; charset=utf-8")
		return c.Send(appendUnified(nil, id+"@"+strconv.FormatUint(from, 10), id+"@"+strconv.FormatUint(to, 10), before, lineEdits(before, opEdits(before, op)), 3))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(appendDiff(make([]byte, 0, 64+len(after)), from, to, op))
}

// appendDiff appends the body of GET …/diff, {"from","to","op"},
// without reflection (encoding/json would validate and copy the op's own
// JSON again: a megabyte for a long range).
func appendDiff(b []byte, from, to uint64, op ot.Op) []byte {
	b = append(b, `{"from":`...)
	b = strconv.AppendUint(b, from, 10)
	b = append(b, `,"to":`...)
	b = strconv.AppendUint(b, to, 10)
	b = append(b, `,"op":`...)
	b = op.AppendJSON(b)
	return append(b, '}')
}

// rangeOp returns one normalized op that turns before (the content at from)
// into after (at to): the composition of the ops in between when there are
// at most composeOps of them or from is the start of the kept history, and
// they are all kept (its cost is that of replaying them, and it is exact:
// text inserted and deleted in between leaves no trace), else a diff of the
// two contents (a long range, or a named version whose ops retention
// pruned).
func (a *API) rangeOp(ctx context.Context, id string, from, to uint64, before, after string) (ot.Op, error) {
	if from == to {
		return ot.Op{}, nil
	}
	base, err := a.hub.HistoryStart(ctx, id)
	if err != nil {
		return nil, err
	}
	if cr, ok := a.hub.(rangeComposer); ok && (to-from <= composeOps || from == base) {
		op, err := cr.ComposeRange(ctx, id, from, to, utf8.RuneCountInString(before), after)
		if collab.CodeOf(err) != collab.CodeVersionTooOld {
			return op, err
		}
	}
	return collab.Diff(before, after, contentDiff), nil
}

// composeOps is the longest range rangeOp composes, but from the start of
// the kept history (which the engine caches with the blame): past it,
// diffing the two contents (bounded by contentDiff's timeout) is cheaper
// than reading and replaying the ops (a few µs each).
const composeOps = 20_000

// rangeComposer is the engine method rangeOp prefers (*collab.Hub has it; an
// engine without it gets content diffs).
type rangeComposer interface {
	ComposeRange(ctx context.Context, id string, from, to uint64, fromLen int, after string) (ot.Op, error)
}

// contentDiff is how the diff route diffs two contents: lines first, then
// the characters of each changed block, bounded by the time only (the
// sizes are bounded by the document limit and the diff work budget).
var contentDiff = collab.DiffOptions{Lines: true, MaxBytes: math.MaxInt, Timeout: collab.DefaultDiffTimeout}

// runeBytes returns the bytes of the first n code points of s.
func runeBytes(s string, n int) int {
	b := 0
	for ; n > 0 && b < len(s); n-- {
		_, k := utf8.DecodeRuneInString(s[b:])
		b += k
	}
	return b
}

// acceptsUnified reports whether an Accept header asks for text/x-diff.
func acceptsUnified(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == typeUnified {
			return true
		}
	}
	return false
}

// historyHeader is the first line of a JSON Lines export.
type historyHeader struct {
	Type    string    `json:"type"` // "document"
	Format  int       `json:"format"`
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Head is the version of the last op line; Base the version of Content
	// (0 unless retention pruned the older ops).
	Head    uint64 `json:"head"`
	Base    uint64 `json:"base"`
	Content string `json:"content"`
}

// historyOp is every later line of a JSON Lines export.
type historyOp struct {
	Type    string          `json:"type"` // "op"
	Version uint64          `json:"version"`
	Op      json.RawMessage `json:"op"`
	Client  string          `json:"client,omitempty"`
	Seq     uint64          `json:"seq,omitempty"`
	Author  *authorJSON     `json:"author,omitempty"`
	Time    time.Time       `json:"time"`
}

var (
	markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))
	// sanitizer runs after goldmark (which already omits raw HTML): defence
	// in depth, so that no script or event handler survives an export.
	sanitizer = bluemonday.UGCPolicy()
)

// renderHTML renders Markdown as a sanitized, standalone HTML page.
func renderHTML(title, content string) ([]byte, error) {
	var body bytes.Buffer
	if err := markdown.Convert([]byte(content), &body); err != nil {
		return nil, err
	}
	var page bytes.Buffer
	page.WriteString("<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>")
	page.WriteString(html.EscapeString(title))
	page.WriteString("</title>\n</head>\n<body>\n")
	page.Write(sanitizer.SanitizeBytes(body.Bytes()))
	page.WriteString("</body>\n</html>\n")
	return page.Bytes(), nil
}

// attachment sets Content-Disposition for a download named id.ext.
func attachment(c *fiber.Ctx, id, ext string) {
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": id + "." + ext}))
}

func (a *API) export(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	format := c.Query("format", "txt")
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, content, err := a.hub.Get(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	switch format {
	case "txt", "md":
		attachment(c, id, format)
		if format == "md" {
			c.Set(fiber.HeaderContentType, typeMarkdown)
		} else {
			c.Set(fiber.HeaderContentType, typeText)
		}
		return c.SendString(content)
	case "html":
		release, ok, err := a.reserveDiffWork(c, info.Size, 1)
		if !ok {
			return err
		}
		defer release()
		title := info.Title
		if title == "" {
			title = id
		}
		page, err := renderHTML(title, content)
		if err != nil {
			return a.fail(c, err)
		}
		attachment(c, id, "html")
		c.Set(fiber.HeaderContentType, typeHTML)
		return c.Send(page)
	case "jsonl":
		release, ok, err := a.reserveDiffWork(c, info.Size, 1)
		if !ok {
			return err
		}
		return a.exportHistory(c, info, release)
	}
	return a.fail(c, badRequest(fmt.Sprintf("query parameter \"format\" must be txt, md, html or jsonl, got %q", format)))
}

// exportHistory streams the JSON Lines history of info's document up to its
// current version: the oldest content that can be rebuilt, then every op
// after it. The ops are read a page at a time while the response is written,
// so a long history is never held in memory whole. A failure midway ends the
// stream early; the header's head tells an importer that lines are missing.
// release is called once the stream is done (or failed to start).
func (a *API) exportHistory(c *fiber.Ctx, info collab.DocInfo, release func()) error {
	streaming := false
	defer func() {
		if !streaming {
			release()
		}
	}()
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	base := uint64(0)
	content, err := a.hub.ContentAt(ctx, info.ID, 0)
	if code := collab.CodeOf(err); code == collab.CodeVersionTooOld {
		// Retention pruned the start: begin at the oldest version kept.
		if base, err = a.hub.HistoryStart(ctx, info.ID); err == nil {
			content, err = a.hub.ContentAt(ctx, info.ID, base)
		}
	}
	if err != nil {
		return a.fail(c, err)
	}
	header, err := json.Marshal(historyHeader{Type: "document", Format: historyFormat, ID: info.ID, Title: info.Title,
		Created: info.Created, Updated: info.Updated, Head: info.Version, Base: base, Content: content})
	if err != nil {
		return a.fail(c, err)
	}
	attachment(c, info.ID, "jsonl")
	c.Set(fiber.HeaderContentType, typeNDJSON)
	hub, timeout, log := a.hub, a.opts.RequestTimeout, a.log
	streaming = true
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		// In pieces: the stream's pipe holds a few writes, so a slow client
		// holds the writer (and the work budget) back instead of the whole
		// content being copied into the pipe at once.
		for rest := header; len(rest) > 0; {
			k := min(len(rest), exportChunk)
			if _, err := w.Write(rest[:k]); err != nil {
				return
			}
			rest = rest[k:]
		}
		w.WriteByte('\n')
		for from := base; from < info.Version; {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			recs, err := hub.Ops(ctx, info.ID, from, info.Version, exportPage)
			cancel()
			if err == nil && len(recs) == 0 {
				err = fmt.Errorf("no ops after version %d", from)
			}
			if err != nil {
				log.Warn("export ended early", "doc", info.ID, "at", from, "err", err)
				return
			}
			for _, r := range recs {
				opJSON, _ := json.Marshal(r.Op)
				line, _ := json.Marshal(historyOp{Type: "op", Version: r.Version, Op: opJSON, Client: r.Client, Seq: r.Seq, Author: authorWire(r.Author), Time: r.Time})
				w.Write(line)
				w.WriteByte('\n')
				from = r.Version
			}
			if err := w.Flush(); err != nil {
				return // the client went away
			}
		}
	})
	return nil
}

func (a *API) importDoc(c *fiber.Ctx) error {
	id := strings.Clone(c.Query("id"))
	if id != "" {
		if err := collab.ValidateDocID(id); err != nil {
			return a.fail(c, err)
		}
	}
	title := strings.Clone(c.Query("title"))
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil {
		mt = ""
	}
	var (
		info    collab.DocInfo
		content string
		ops     []collab.OpRecord
	)
	switch mt {
	case "text/plain", "text/markdown":
		if !utf8.Valid(c.Body()) {
			return a.fail(c, badRequest("request body is not valid UTF-8 text"))
		}
		content = string(c.Body())
		info = collab.DocInfo{ID: id, Title: title}
	case typeNDJSON:
		h, recs, err := parseHistory(c.Body())
		if err != nil {
			return a.fail(c, err)
		}
		info = collab.DocInfo{ID: h.ID, Title: h.Title, Created: h.Created}
		if id != "" {
			info.ID = id
		}
		if c.Query("title") != "" {
			info.Title = title
		}
		content, ops = h.Content, recs
	default:
		return a.fail(c, &collab.Error{Code: collab.CodeBadRequest,
			Message: fmt.Sprintf("Content-Type must be text/plain, text/markdown or %s (a history export), got %q", typeNDJSON, c.Get(fiber.HeaderContentType))})
	}
	if err := a.authorize(auth.IdentityOf(c), auth.Create, info.ID); err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	got, err := a.hub.Import(ctx, info, content, ops)
	if err != nil {
		return a.fail(c, err)
	}
	c.Location("/api/docs/" + got.ID)
	return c.Status(http.StatusCreated).JSON(docWire(got, nil))
}

// parseHistory decodes a JSON Lines history export. Errors name the line.
// Versions are renumbered from the header's base: an export of a document
// whose early ops were pruned imports as a document whose version 0 is the
// content at that base.
func parseHistory(data []byte) (historyHeader, []collab.OpRecord, error) {
	var h historyHeader
	var ops []collab.OpRecord
	line, seenHeader := 0, false
	for len(data) > 0 {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte{'\n'})
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		lineErr := func(format string, args ...any) error {
			return badRequest(fmt.Sprintf("history line %d: ", line) + fmt.Sprintf(format, args...))
		}
		if !seenHeader {
			seenHeader = true
			if err := json.Unmarshal(raw, &h); err != nil {
				return h, nil, lineErr("not a JSON object: %v", err)
			}
			if h.Type != "document" || h.Format != historyFormat {
				return h, nil, lineErr("want the document header {\"type\":\"document\",\"format\":%d,…}", historyFormat)
			}
			if h.Head < h.Base {
				return h, nil, lineErr("head %d is below base %d", h.Head, h.Base)
			}
			continue
		}
		var o historyOp
		if err := json.Unmarshal(raw, &o); err != nil {
			return h, nil, lineErr("not a JSON object: %v", err)
		}
		want := h.Base + uint64(len(ops)) + 1
		if o.Type != "op" || o.Version != want {
			return h, nil, lineErr("want the op of version %d", want)
		}
		op, err := ot.Parse(o.Op)
		if err != nil {
			return h, nil, &collab.Error{Code: collab.CodeInvalidOp, Message: fmt.Sprintf("history line %d: %v", line, err)}
		}
		rec := collab.OpRecord{Version: o.Version - h.Base, Op: op, Client: o.Client, Seq: o.Seq, Time: o.Time}
		if o.Author != nil {
			rec.Author = collab.Author{ID: o.Author.ID, Name: o.Author.Name}
		}
		ops = append(ops, rec)
	}
	if !seenHeader {
		return h, nil, badRequest("the history is empty")
	}
	if got := h.Base + uint64(len(ops)); got != h.Head {
		return h, nil, badRequest(fmt.Sprintf("the history ends at version %d but its header says %d: the export is incomplete", got, h.Head))
	}
	return h, ops, nil
}

// unknownAuthor names the author of text whose op carries none (text present
// at creation, ops stored before authors were).
var unknownAuthor = authorJSON{Name: "unknown"}

func (a *API) blame(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	version, hasVersion, err := queryUint(c, "version")
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, _, err := a.hub.Get(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	if !hasVersion {
		version = info.Version
	}
	if err := historyVersion("\"version\"", version, info.Version); err != nil {
		return a.fail(c, err)
	}
	release, ok, err := a.reserveDiffWork(c, info.Size, 1)
	if !ok {
		return err
	}
	defer release()
	spans, err := a.hub.Blame(ctx, id, version)
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(appendBlame(make([]byte, 0, 32+160*len(spans)), version, spans))
}

// appendBlame appends the body of GET …/blame, {"version":…,"spans":[{"start",
// "end","author":{"id","name"},"version","time"}…]} (code points [start,
// end)), as encoding/json writes it but without reflection: a 1 MB document
// can have 100,000 spans.
func appendBlame(b []byte, version uint64, spans []collab.BlameSpan) []byte {
	b = append(b, `{"version":`...)
	b = strconv.AppendUint(b, version, 10)
	b = append(b, `,"spans":[`...)
	pos := 0
	for i, sp := range spans {
		if i > 0 {
			b = append(b, ',')
		}
		au := unknownAuthor
		if w := authorWire(sp.Author); w != nil {
			au = *w
		}
		b = append(b, `{"start":`...)
		b = strconv.AppendInt(b, int64(pos), 10)
		pos += sp.Len
		b = append(b, `,"end":`...)
		b = strconv.AppendInt(b, int64(pos), 10)
		b = append(b, `,"author":{"id":`...)
		b = appendJSONString(b, au.ID)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, au.Name)
		b = append(b, `},"version":`...)
		b = strconv.AppendUint(b, sp.Version, 10)
		b = append(b, `,"time":"`...)
		b = sp.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
