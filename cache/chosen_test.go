package cache

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/revocast/revocast/events"
)

// Found in review: token_sha256 is taken as given (POST /v1/revocations,
// the registry feed), so a caller allowed to revoke chooses a key's bits.
// With the shard picked by the first byte and ristretto's slot by bytes 8
// to 15, keys sharing those bytes filled one shard past its share (its
// policy evicted live revocations: the sidecar failed closed for everyone)
// or landed in one slot (all but one refused). A full capacity of such
// keys must all be admitted and held.
func TestChosenHashesAreAllAdmitted(t *testing.T) {
	for name, same := range map[string]func(*events.Sum){
		"first byte":  func(s *events.Sum) { s[0] = 0x42 },
		"bytes 8-23":  func(s *events.Sum) { copy(s[8:24], "same-slot-bytes!") },
		"all but two": func(s *events.Sum) { copy(s[:30], "0123456789abcdef0123456789abcd") },
	} {
		t.Run(name, func(t *testing.T) {
			const n = 1000
			c, err := New(Config{Capacity: n})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			entries := make([]Entry, 0, n)
			seen := map[events.Sum]bool{}
			for len(entries) < n {
				var s events.Sum
				rand.Read(s[:])
				same(&s)
				if seen[s] {
					continue
				}
				seen[s] = true
				entries = append(entries, Entry{Sum: s, ExpiresAt: time.Now().Add(time.Hour)})
			}
			if failed := c.Add(context.Background(), entries); len(failed) != 0 {
				t.Fatalf("%d of %d refused: %v", len(failed), n, failed[0].Err)
			}
			if err := c.Health(); err != nil {
				t.Fatalf("health: %v", err)
			}
			for _, e := range entries {
				if !c.Contains(e.Sum) {
					t.Fatalf("%x is not held", e.Sum)
				}
			}
		})
	}
}
