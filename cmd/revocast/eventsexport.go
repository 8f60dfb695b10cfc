package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/revocast/revocast/internal/eventsio"
)

func runEventsExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o eventsOpts
	fs := newFlagSet("events export", "Write every live revocation and rule of the stream as NDJSON: a header line, then one line per token key\n"+
		"(a batch event expanded to one line per token) or rule, with its expiry. Progress goes to standard error.\n"+
		"Needs the operator's NATS identity (it reads REVOCAST and REVOCAST_LEDGER).", stderr)
	o.register(fs)
	out := fs.String("out", "-", "file to write (mode 0600; written as FILE.partial-* and moved into place when complete, never over a file that appeared meanwhile unless --force), or - for standard output")
	force := fs.Bool("force", false, "replace --out if it exists")
	every := fs.Duration("progress-interval", time.Second, "how often progress is printed on standard error")
	if err := o.parse(fs, args, getenv, func() error { return positiveDuration("progress-interval", *every, false) }); err != nil {
		return err
	}
	w, finish, err := openOut(*out, *force, stdout)
	if err != nil {
		return err
	}
	nc, js, err := o.connect("revocast-events-export", stderr)
	if err != nil {
		_ = finish(false)
		return err
	}
	defer nc.Close()
	p := &eventsio.Progress{}
	start := time.Now()
	stop := progress(stderr, *every, p.Records, func(n int64, rate float64) string {
		return fmt.Sprintf("export: %d records, %.0f/s, stream sequence %d", n, rate, p.Seq())
	})
	res, err := eventsio.Export(ctx, js, eventsio.ExportOptions{Stream: o.streamOptions(), Progress: p}, w)
	stop()
	took := time.Since(start)
	if err != nil && !errors.Is(err, eventsio.ErrUnreadable) {
		_ = finish(false)
		return o.operatorHint(err)
	}
	if ferr := finish(true); ferr != nil {
		return ferr
	}
	fmt.Fprintf(stderr, "export: %d records from %d events of %s (last sequence %d, created %s) in %s, %.0f records/s\n",
		res.Records, res.Events, res.Header.Stream, res.Header.LastSeq, res.Header.StreamCreated.Format(time.RFC3339),
		took.Round(time.Millisecond), perSecond(res.Records, took))
	for _, u := range res.Unreadable {
		fmt.Fprintf(stderr, "export: not exported: sequence %d on %s: %s\n", u.Seq, u.Subject, u.Err)
	}
	return err
}

// openOut opens where an export goes; finish(ok) completes it (moves the
// file into place) or removes what was written. Each export writes its own
// FILE.partial-* (two exports to one path once shared FILE.partial and
// overwrote each other's bytes), and without force a file that appeared at
// path meanwhile is never replaced: the move is a hard link, which fails
// if path exists.
func openOut(path string, force bool, stdout io.Writer) (io.Writer, func(ok bool) error, error) {
	if path == "-" {
		return stdout, func(bool) error { return nil }, nil
	}
	if _, err := os.Stat(path); err == nil && !force {
		return nil, nil, usageErr(fmt.Errorf("--out %s exists (--force replaces it)", path))
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".partial-*") // mode 0600
	if err != nil {
		return nil, nil, fmt.Errorf("--out: %w", err)
	}
	tmp := f.Name()
	return f, func(ok bool) error {
		defer os.Remove(tmp) // gone after a rename; what is left otherwise
		if !ok {
			f.Close()
			return nil
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("--out: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		if force {
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			return nil
		}
		err := os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("--out %s appeared while this export ran (another export?): not replaced, "+
				"this export is not kept (--force replaces it)", path)
		}
		if err != nil { // a file system without hard links: as close as it gets
			if _, serr := os.Stat(path); serr == nil {
				return fmt.Errorf("--out %s appeared while this export ran: not replaced (--force replaces it)", path)
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
		}
		return nil
	}, nil
}
