package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// DefaultBackupStallTimeout is Options.BackupStallTimeout's default.
const DefaultBackupStallTimeout = time.Minute

// backup sends a consistent copy of the database (GET /api/admin/backup,
// auth.Admin).
//
// The copy is first written by Options.Backup into a temporary file in
// Options.BackupDir (unlinked at once where the system allows it), then
// sent from that file with a Content-Length. So the database's read
// transaction lasts as long as a local copy, not as long as the client
// takes to download: a transaction held open blocks bbolt's remap, and with
// it every commit once the file must grow. A copy that fails (disk full)
// is answered 500 before any byte is sent. While sending, every chunk the
// client takes pushes the connection's write deadline Options.
// BackupStallTimeout ahead: a client that stops reading is cut off then
// (it sees a short body) and the file is closed. Close aborts copies and
// downloads in progress; it waits for copies (they use the database), not
// for downloads.
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
	f, n, leftover, err := a.spoolBackup()
	if err != nil {
		c.Response().Header.Del(fiber.HeaderContentDisposition)
		return a.fail(c, err)
	}
	a.log.Info("backup copied, sending", "bytes", n)
	c.Context().SetBodyStream(&backupStream{a: a, f: f, leftover: leftover, conn: c.Context().Conn(), stall: a.opts.BackupStallTimeout}, int(n))
	return nil
}

// spoolBackup copies the database into an unlinked temporary file and
// returns it positioned at its start, with its size and, where it could
// not be unlinked while open, its name (to remove after closing it).
func (a *API) spoolBackup() (f *os.File, n int64, leftover string, err error) {
	if !a.addWorker() {
		return nil, 0, "", &collab.Error{Code: collab.CodeInternal, Message: "server is shutting down"}
	}
	defer a.wg.Done()
	f, err = os.CreateTemp(a.opts.BackupDir, ".cowrite-backup-*.db")
	if err != nil {
		return nil, 0, "", fmt.Errorf("backup: temporary file: %w", err)
	}
	// Unlinked now, the file goes away with its last descriptor, even if
	// the process is killed. Where an open file cannot be removed, Close
	// removes it.
	removed := os.Remove(f.Name()) == nil
	fail := func(err error) (*os.File, int64, string, error) {
		f.Close()
		if !removed {
			_ = os.Remove(f.Name())
		}
		return nil, 0, "", err
	}
	n, err = a.runBackup(a.ctx, ctxWriter{ctx: a.ctx, w: f})
	if err != nil {
		return fail(fmt.Errorf("backup: copy: %w", err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("backup: %w", err))
	}
	if !removed {
		leftover = f.Name()
	}
	return f, n, leftover, nil
}

// ctxWriter fails writes once ctx is done, so that Close stops a copy.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// backupStream is the response body of a backup: the spooled file, each
// read pushing the connection's write deadline stall ahead (fasthttp reads
// the next chunk once the previous one was written).
type backupStream struct {
	a        *API
	f        *os.File
	leftover string // removed after closing f, if not ""
	conn     net.Conn
	stall    time.Duration
	sent     int64
}

func (s *backupStream) Read(p []byte) (int, error) {
	if err := s.a.ctx.Err(); err != nil {
		return 0, err
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.stall))
	n, err := s.f.Read(p)
	s.sent += int64(n)
	return n, err
}

// Close is called by fasthttp once the body is sent or the write failed.
func (s *backupStream) Close() error {
	_ = s.conn.SetWriteDeadline(time.Time{})
	st, _ := s.f.Stat()
	if st != nil && s.sent < st.Size() {
		s.a.log.Warn("backup download cut short (client stalled or left)", "sent", s.sent, "bytes", st.Size())
	} else {
		s.a.log.Info("backup sent", "bytes", s.sent)
	}
	err := s.f.Close()
	if s.leftover != "" {
		_ = os.Remove(s.leftover)
	}
	return err
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
