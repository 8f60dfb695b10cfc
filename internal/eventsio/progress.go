package eventsio

import "sync/atomic"

// Progress is what a running Export or Import has done so far; another
// goroutine may read it at any time (the command prints it every second).
type Progress struct {
	records atomic.Int64  // records written (export) or lines read (import)
	seq     atomic.Uint64 // the stream sequence reached (export)
	line    atomic.Int64  // the last line stored (import)
}

// Records is how many records were written (export) or read (import).
func (p *Progress) Records() int64 { return p.records.Load() }

// Seq is the last stream sequence read (export).
func (p *Progress) Seq() uint64 { return p.seq.Load() }

// LastStoredLine is the last line whose revocation is stored (import).
func (p *Progress) LastStoredLine() int64 { return p.line.Load() }
