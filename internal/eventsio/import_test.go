package eventsio

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

// A --resume-from-line past the file's last line stored nothing and said
// "last_stored_line":99 for a file of 7 lines, with status 0 (seen: a
// mistyped line number, or the wrong file, looked like a finished import).
// It is an error naming the file's last line; resuming right after the
// last line (everything was stored) is not.
func TestImportResumeBeyondTheEnd(t *testing.T) {
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var b strings.Builder
	b.WriteString(`{"format":"revocast-events","version":1,"stream":"REVOCAST"}` + "\n")
	for i := range 6 {
		fmt.Fprintf(&b, `{"kind":"token","v":2,"token_sha256":"%s","expires_at":"%s"}`+"\n", events.TokenKey(fmt.Sprint(i)), exp)
	}
	n := newNode(t, 2*time.Second)
	for _, resume := range []int64{9, 99, 1 << 62} {
		res, err := importFile(t, n, []byte(b.String()), ImportOptions{ResumeFromLine: resume})
		var ie *ImportError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "beyond the end") || !strings.Contains(err.Error(), "line 7") {
			t.Fatalf("--resume-from-line %d of a 7-line file: %v", resume, err)
		}
		if res.Stored != 0 || res.LastStoredLine > 7 || ie.LastStoredLine > 7 {
			t.Fatalf("--resume-from-line %d: %+v, %+v", resume, res, ie)
		}
	}
	res, err := importFile(t, n, []byte(b.String()), ImportOptions{ResumeFromLine: 8})
	if err != nil || res.Stored != 0 || res.Skipped != 6 || res.LastStoredLine != 7 {
		t.Fatalf("--resume-from-line 8 of a 7-line file: %+v %v", res, err)
	}
}
