package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// jsWatch keeps revocast dev's embedded JetStream honest: the server's own
// log goes to revocast's (warnings and errors), a critical write error (a
// full disk) makes the front unready with the reason, and once the data
// directory has room again JetStream is restarted, which recovers what was
// stored from disk: nats-server leaves a stream that failed to write
// failing until then.
type jsWatch struct {
	log      zerolog.Logger
	writeErr atomic.Pointer[string] // the last critical write error; nil: none since JetStream (re)started
}

// err is nil unless JetStream cannot write.
func (w *jsWatch) err() error {
	if p := w.writeErr.Load(); p != nil {
		return fmt.Errorf("JetStream cannot write (%s): free space in the data directory; revocast dev restarts JetStream once there is room", *p)
	}
	return nil
}

// minFreeToRestart is the room the data directory needs before JetStream
// is restarted.
const minFreeToRestart = 8 << 20

// keep restarts JetStream after a write error once the store has room,
// until ctx is done.
func (w *jsWatch) keep(ctx context.Context, ns *server.Server) {
	cfg := ns.JetStreamConfig()
	if cfg == nil {
		return
	}
	storeDir, maxMem, maxStore := ns.StoreDir(), cfg.MaxMemory, cfg.MaxStore
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if w.writeErr.Load() == nil && ns.JetStreamEnabled() {
			continue
		}
		if free, err := freeBytes(storeDir); err != nil || free < minFreeToRestart {
			continue
		}
		w.log.Warn().Str("store_dir", storeDir).Msg("the data directory has room again: restarting JetStream")
		if ns.JetStreamEnabled() {
			_ = ns.ShutdownJetStream()
		}
		// StoreDir is the parent of the jetstream directory, as at start;
		// the limits stay those JetStream chose then.
		if err := ns.EnableJetStream(&server.JetStreamConfig{StoreDir: parentOfJetStream(storeDir), MaxMemory: maxMem,
			MaxStore: maxStore}); err != nil {
			w.log.Error().Err(err).Msg("JetStream did not start again; retrying")
			continue
		}
		w.writeErr.Store(nil)
		w.log.Info().Msg("JetStream restarted: the streams are recovered from disk")
	}
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// parentOfJetStream returns the directory JetStream's "jetstream" store
// directory was made in.
func parentOfJetStream(dir string) string {
	if filepath.Base(dir) == server.JetStreamStoreDir {
		return filepath.Dir(dir)
	}
	return dir
}

// Logger implementation for the embedded server (server.Logger).

func (w *jsWatch) Noticef(string, ...any) {}
func (w *jsWatch) Debugf(string, ...any)  {}
func (w *jsWatch) Tracef(string, ...any)  {}
func (w *jsWatch) Warnf(format string, v ...any) {
	w.log.Warn().Msg(fmt.Sprintf(format, v...))
}
func (w *jsWatch) Fatalf(format string, v ...any) {
	w.log.Error().Msg(fmt.Sprintf(format, v...))
}
func (w *jsWatch) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "critical write error") || strings.Contains(msg, "no space left") {
		if w.writeErr.Swap(&msg) == nil {
			w.log.Error().Msg(msg)
		}
		return
	}
	w.log.Error().Msg(msg)
}

var _ server.Logger = (*jsWatch)(nil)
