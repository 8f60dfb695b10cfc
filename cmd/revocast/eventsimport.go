package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/revocast/revocast/internal/eventsio"
	"github.com/revocast/revocast/publisher"
)

// importSummary is what events import prints on standard output.
type importSummary struct {
	Records        int64   `json:"records"`
	Skipped        int64   `json:"skipped_before_resume"`
	Expired        int64   `json:"expired"`
	Clamped        int64   `json:"clamped"`
	Present        int64   `json:"already_present"`
	Stored         int64   `json:"stored"`
	StoredEvents   int64   `json:"stored_events"`
	LedgerStored   int64   `json:"ledger_marks_stored"`
	LedgerPresent  int64   `json:"ledger_marks_present"`
	Unreadable     int64   `json:"unreadable_in_stream"`
	LastStoredLine int64   `json:"last_stored_line"`
	Seconds        float64 `json:"seconds"`
}

func runEventsImport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var o eventsOpts
	fs := newFlagSet("events import", "Store the revocations of an export (revocast events export) into the stream, with their ledger marks, so\n"+
		"budgets and exact counts see them. Expired lines are skipped; a token key or rule whose subject already holds an\n"+
		"equal or later revocation is left as it is; running it again stores nothing new. On a failure it names the line\n"+
		"and the last line stored: run it again with --resume-from-line. Progress goes to standard error, a JSON summary\n"+
		"to standard output. Needs the operator's NATS identity (it reads REVOCAST to never replace a later revocation).\n"+
		"The streams must exist: run revocast init first.", stderr)
	o.register(fs)
	in := fs.String("in", "-", "the export to read, or - for standard input")
	resume := fs.Int64("resume-from-line", 0, "store only from this line on (the one after the last line stored, as a failed import says)")
	timeout := fs.Duration("publish-timeout", DefaultPublishTimeout, "how long each chunk of revocations is retried before the import stops")
	lifetime := fs.Duration("max-token-lifetime", publisher.DefaultMaxTokenLifetime,
		"the fronts' --max-token-lifetime: no revocation is stored for longer than this from now")
	every := fs.Duration("progress-interval", time.Second, "how often progress is printed on standard error")
	check := func() error {
		var errs []error
		if *resume < 0 {
			errs = append(errs, fmt.Errorf("--resume-from-line must not be negative, got %d", *resume))
		}
		if *lifetime < time.Second {
			errs = append(errs, fmt.Errorf("--max-token-lifetime must be at least 1s, got %s", *lifetime))
		}
		return errors.Join(append(errs, positiveDuration("publish-timeout", *timeout, false),
			positiveDuration("progress-interval", *every, false))...)
	}
	if err := o.parse(fs, args, getenv, check); err != nil {
		return err
	}
	r := stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		defer f.Close()
		r = f
	}
	nc, js, err := o.connect("revocast-events-import", stderr)
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := publisher.NewJetStreamStore(nc, *timeout, publisher.StoreMetrics{})
	if err != nil {
		return err
	}
	defer store.Close()

	p := &eventsio.Progress{}
	start := time.Now()
	stop := progress(stderr, *every, p.Records, func(n int64, rate float64) string {
		return fmt.Sprintf("import: %d lines read, %.0f/s, stored up to line %d", n, rate, p.LastStoredLine())
	})
	res, err := eventsio.Import(ctx, js, eventsio.ImportOptions{Stream: o.streamOptions(), Store: store,
		MaxTokenLifetime: *lifetime, ResumeFromLine: *resume, Progress: p}, r)
	stop()
	took := time.Since(start)
	sum := importSummary{Records: res.Records, Skipped: res.Skipped, Expired: res.Expired, Clamped: res.Clamped,
		Present: res.Present, Stored: res.Stored, StoredEvents: res.StoredEvents, LedgerStored: res.LedgerStored,
		LedgerPresent: res.LedgerPresent, Unreadable: res.Unreadable, LastStoredLine: res.LastStoredLine,
		Seconds: took.Seconds()}
	b, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", b)
	if err != nil {
		var ie *eventsio.ImportError
		if errors.As(err, &ie) && ie.LastStoredLine > 1 {
			return fmt.Errorf("%w: run the import again with --resume-from-line %d", o.operatorHint(err), ie.LastStoredLine+1)
		}
		return o.operatorHint(err)
	}
	fmt.Fprintf(stderr, "import: %d records in %s (%.0f/s): %d stored in %d events, %d already present, %d expired, %d clamped; "+
		"ledger marks: %d stored, %d already there\n", res.Records, took.Round(time.Millisecond), perSecond(res.Records, took),
		res.Stored, res.StoredEvents, res.Present, res.Expired, res.Clamped, res.LedgerStored, res.LedgerPresent)
	if res.Unreadable > 0 {
		fmt.Fprintf(stderr, "import: %d subjects of the stream hold events this revocast cannot read; they were left as they are\n", res.Unreadable)
	}
	return nil
}
