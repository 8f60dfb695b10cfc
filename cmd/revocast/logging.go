package main

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

func newLogger(format, level string, out io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level: unknown level %q", level)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	// Durations are milliseconds, and every duration field says so in its
	// name (took_ms, retry_in_ms).
	zerolog.DurationFieldUnit = time.Millisecond
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}
