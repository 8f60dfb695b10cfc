package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// printInfo renders events info for humans.
func printInfo(w io.Writer, r *infoReport) {
	s := r.Stream
	fmt.Fprintf(w, "stream %s: created %s, sequences %d to %d, %d messages, %s, %d consumers\n",
		s.Name, s.Created.Format(time.RFC3339), s.FirstSeq, s.LastSeq, s.Messages, bytesText(int64(s.Bytes)), s.Consumers)
	if m := s.Mirror; m != nil {
		origin := "unknown"
		if m.OriginCreated != nil {
			origin = m.OriginCreated.Format(time.RFC3339)
		}
		active := "never"
		if m.ActiveSeconds >= 0 {
			active = fmt.Sprintf("%.1fs ago", m.ActiveSeconds)
		}
		fmt.Fprintf(w, "  a mirror of %s in domain %q (origin created %s): lag %d, last heard from its origin %s",
			s.Name, m.OriginDomain, origin, m.Lag, active)
		if m.Error != "" {
			fmt.Fprintf(w, ", error: %s", quoteName(m.Error))
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  kind\tmessages\ttokens\tbytes\t")
	for _, k := range []string{"token", "batch", "jwt_id", "rule", "unreadable"} {
		kr := r.Kinds[k]
		if k == "unreadable" && kr.Messages == 0 {
			continue
		}
		tokens := fmt.Sprint(kr.Tokens)
		if k == "rule" || k == "unreadable" {
			tokens = "-"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t\n", k, kr.Messages, tokens, bytesText(kr.Bytes))
	}
	tw.Flush()
	if s.Oldest != nil {
		fmt.Fprintf(w, "  stored from %s to %s", s.Oldest.Format(time.RFC3339), s.Newest.Format(time.RFC3339))
		if s.TTLMin != nil {
			fmt.Fprintf(w, "; TTL left from %s to %s", secs(*s.TTLMin), secs(*s.TTLMax))
		}
		fmt.Fprintln(w)
	}
	if l := r.Ledger; l != nil {
		fmt.Fprintf(w, "ledger %s: %d messages, %s: %d token marks, %d rule marks, %d realms\n",
			l.Name, l.Messages, bytesText(int64(l.Bytes)), l.TokenMarks, l.RuleMarks, l.Realms)
	}
	fmt.Fprintf(w, "sidecars heard in %.1fs: %d (lag = last sequence %d minus what the sidecar applied)\n",
		r.ListenedSeconds, len(r.Sidecars), s.LastSeq)
	if len(r.Sidecars) == 0 {
		return
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  id\tready\tstale\thealthy\tapplied\tlag\tentries/capacity\theard")
	for _, c := range r.Sidecars {
		applied, lag := "?", "?"
		if c.HeardApplied {
			applied = fmt.Sprint(c.Applied)
		}
		switch {
		case c.OtherStream:
			lag = "another stream"
		case c.Lag != nil:
			lag = fmt.Sprint(*c.Lag)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%.1fs ago\n", c.ID, yesNo(c.Ready), yesNo(c.Stale), yesNo(c.Healthy),
			applied, lag, c.Entries, c.Capacity, c.HeardSecsAgo)
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func secs(s float64) string { return (time.Duration(s) * time.Second).String() }

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
