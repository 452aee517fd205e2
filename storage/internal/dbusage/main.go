// Command dbusage prints where a cowrite data file's pages are (per
// bucket, per kind of document sub-bucket, the largest documents): a
// diagnostic for storage space questions. The file must not be in use (run
// it on a backup, GET /api/admin/backup, of a running server's file).
//
//	go run ./storage/internal/dbusage FILE...
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/cowrite/cowrite/storage"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dbusage FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		r, err := storage.Usage(path, time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dbusage:", err)
			os.Exit(1)
		}
		fmt.Println(path)
		if err := r.WriteText(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "dbusage:", err)
			os.Exit(1)
		}
	}
}
