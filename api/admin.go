package api

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// DefaultBackupStallTimeout is Options.BackupStallTimeout's default.
const DefaultBackupStallTimeout = time.Minute

// backup streams a consistent copy of the database (GET /api/admin/backup,
// auth.Admin).
//
// The copy is produced by Options.Backup on a goroutine writing into a pipe
// that fasthttp reads as the (chunked) response body once the handler has
// returned. Headers are sent before the first byte, so a failure midway can
// no longer become an error status: the pipe is closed with the error,
// fasthttp then stops without the terminating chunk and drops the
// connection, and the client sees a truncated transfer (curl -f exits
// non-zero) rather than a short file that looks complete. A client that goes
// away closes the pipe, which makes the copy fail and end its read
// transaction. The goroutine is counted in the API's WaitGroup and aborted by
// Close.
func (a *API) backup(c *fiber.Ctx) error {
	if err := a.authorize(auth.IdentityOf(c), auth.Admin, ""); err != nil {
		return a.fail(c, err)
	}
	if a.opts.Backup == nil {
		return a.fail(c, &collab.Error{Code: collab.CodeNotFound, Message: "backups are not available on this server"})
	}
	name := "cowrite-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Method() == fiber.MethodHead {
		return nil
	}
	if !a.addWorker() {
		return a.fail(c, &collab.Error{Code: collab.CodeInternal, Message: "server is shutting down"})
	}
	ctx, cancel := context.WithCancel(a.ctx)
	pr, pw := io.Pipe()
	// Close (a.ctx canceled) unblocks a copy stuck on a client that does
	// not read.
	stop := context.AfterFunc(ctx, func() { _ = pr.CloseWithError(ctx.Err()) })
	go func() {
		defer a.wg.Done()
		defer cancel()
		defer stop()
		n, err := a.runBackup(ctx, pw)
		if err != nil {
			a.log.Warn("backup aborted", "bytes", n, "err", err)
			_ = pw.CloseWithError(err)
			return
		}
		a.log.Info("backup sent", "bytes", n)
		_ = pw.Close()
	}()
	c.Context().SetBodyStream(pr, -1)
	return nil
}

// runBackup calls Options.Backup, turning a panic into an error.
func (a *API) runBackup(ctx context.Context, w io.Writer) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backup panicked: %v", r)
		}
	}()
	return a.opts.Backup(ctx, w)
}
