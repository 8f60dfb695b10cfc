package publisher

import (
	"os"
	"path/filepath"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/revocast/revocast/internal/natsauth"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/revocast/revocast/events"
	"github.com/revocast/revocast/internal/natstest"
)

// On the shipped 3-node cluster configuration (operator-mode identities,
// TLS on clients and routes) with a replicated (R3) stream, where
// concurrent conflicts come back as a different error code, fifty racing
// requests on three front connections (one per node) still store the token
// exactly once.
func TestClusterR3ConcurrentRequestsStoreOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	deploy, err := filepath.Abs("../deployments/nats")
	if err != nil {
		t.Fatal(err)
	}
	trustDir := filepath.Join(t.TempDir(), "trust")
	if _, _, err := natsauth.Init(trustDir); err != nil {
		t.Fatal(err)
	}
	authConf, err := os.ReadFile(filepath.Join(trustDir, natsauth.AuthConfFile))
	if err != nil {
		t.Fatal(err)
	}
	operator := natsauth.ClientOptions(filepath.Join(trustDir, natsauth.CredsFile(natsauth.Operator)), natsauth.Operator, "")
	front := natsauth.ClientOptions(filepath.Join(trustDir, natsauth.CredsFile(natsauth.Front)), natsauth.Front, "")
	cl := natstest.StartShipped(t, natstest.ShippedOptions{DeployDir: deploy, AuthConf: authConf, Connect: operator})
	ctx := context.Background()
	js0, err := jetstream.New(cl.Connect(t, 0, operator...))
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 30*time.Second, "R3 stream created", func() bool {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := events.EnsureStream(c, js0, events.StreamOptions{Replicas: 3})
		return err == nil
	})
	var stores []*JetStreamStore
	for i := range cl.Servers {
		st, err := NewJetStreamStore(cl.Connect(t, i, front...), 10*time.Second, StoreMetrics{})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[Status]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := stores[i%3].Append(ctx, []Entry{tokenEntry("replicated", fmt.Sprintf("req%d.r", i))})
			mu.Lock()
			counts[o[0].Status]++
			if o[0].Err != nil {
				t.Errorf("request %d: %v", i, o[0].Err)
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if counts[Stored] != 1 || counts[AlreadyPresent] != 49 {
		t.Fatalf("counts = %v, want 1 stored and 49 already present", counts)
	}
}
