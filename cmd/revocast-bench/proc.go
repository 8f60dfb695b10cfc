package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one process of the real binary (a front, a sidecar), its log
// (JSON lines on standard error) kept in a file of the work directory.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time

	mu    sync.Mutex
	addrs map[string]string // component → address, from "listening" lines
	addrC chan struct{}     // closed at every new address (replaced)
	done  chan struct{}
	err   error
}

// startChild runs bin with args; its log goes to dir/name.log.
func startChild(dir, name, bin string, args ...string) (*child, error) {
	return startCmd(dir, name, exec.Command(bin, args...))
}

// startCmd runs cmd (not started yet; its Env kept) as a child named name.
func startCmd(dir, name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, logPath: filepath.Join(dir, name+".log"), addrs: map[string]string{},
		addrC: make(chan struct{}), done: make(chan struct{})}
	f, err := os.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	c.cmd = cmd
	c.cmd.Stdout = f
	// The kernel kills it if the harness dies, so no process outlives a run.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.copyLog(stderr, f)
		c.err = c.cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// copyLog writes the log to f and notes the addresses it announces.
func (c *child) copyLog(r io.Reader, f *os.File) {
	br := bufio.NewReaderSize(r, 64<<10)
	w := bufio.NewWriterSize(f, 64<<10)
	defer w.Flush()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			_, _ = w.Write(line)
			if bytes.Contains(line, []byte(`"listening"`)) {
				_ = w.Flush()
				c.noteAddr(line)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return
		}
	}
}

func (c *child) noteAddr(line []byte) {
	var l struct{ Message, Component, Addr string }
	if json.Unmarshal(line, &l) != nil || l.Message != "listening" || l.Addr == "" {
		return
	}
	c.mu.Lock()
	c.addrs[l.Component] = l.Addr
	close(c.addrC)
	c.addrC = make(chan struct{})
	c.mu.Unlock()
}

// addr waits for the address the component listens on.
func (c *child) addr(ctx context.Context, component string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		a, ch := c.addrs[component], c.addrC
		c.mu.Unlock()
		if a != "" {
			return "http://" + a, nil
		}
		select {
		case <-ch:
		case <-c.done:
			return "", fmt.Errorf("%s exited (%v) before listening; its log: %s", c.name, c.err, c.tail(10))
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no %q address: %w; its log: %s", c.name, component, ctx.Err(), c.tail(10))
		}
	}
}

// tail returns the last n lines of the log.
func (c *child) tail(n int) string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return c.logPath + ":\n  " + strings.Join(lines, "\n  ")
}

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// alive reports whether the process still runs.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc (100 on every
// Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU (user and system) the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. Then state is field 3 and utime, stime are 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of %d: short /proc stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	return time.Duration(u+s) * clockTick, nil
}

// rss returns the resident set size of the process in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss of %d: %w", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rss of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("rss of %d: no VmRSS", pid)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// cpu is cpuTime of the child (0 after an error, which the caller sees as
// a missing figure).
func (c *child) cpu() time.Duration {
	d, _ := cpuTime(c.pid())
	return d
}
