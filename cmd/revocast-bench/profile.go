package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile saves a CPU profile of a process started with --pprof-addr,
// taken over d, as dir/name.pprof (go tool pprof -top reads it).
func (h *harness) profile(ctx context.Context, c *child, name string, d time.Duration) {
	path := filepath.Join(h.opt.pprofDir, name+".pprof")
	if err := saveProfile(ctx, c, path, d); err != nil {
		h.note("profile of %s: %v", name, err)
		return
	}
	h.progress("profile of %s saved in %s (go tool pprof -top %s %s)", name, path, h.opt.bin, path)
}

func saveProfile(ctx context.Context, c *child, path string, d time.Duration) error {
	addr, err := c.addr(ctx, "pprof")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}
