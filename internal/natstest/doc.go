// Package natstest starts real in-process NATS servers with JetStream for
// tests: a single node on a random loopback port, optionally at a fixed port
// and data directory so a test can stop and restart it. The publisher, the
// subscriber and the command's tests all use it.
package natstest
