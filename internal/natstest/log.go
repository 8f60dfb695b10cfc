package natstest

import (
	"fmt"
	"strings"
	"sync"
)

// serverLog keeps a server's last warnings and errors, so a test can say
// why a node did not start.
type serverLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *serverLog) add(level, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 50 {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, v...))
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *serverLog) Noticef(string, ...any)         {}
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
func (l *serverLog) Warnf(format string, v ...any)  { l.add("[WRN]", format, v...) }
func (l *serverLog) Errorf(format string, v ...any) { l.add("[ERR]", format, v...) }
func (l *serverLog) Fatalf(format string, v ...any) { l.add("[FTL]", format, v...) }
