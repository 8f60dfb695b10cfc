// Package natstest starts real in-process NATS servers with JetStream for
// tests: a single node on a random loopback port, optionally at a fixed port
// and data directory so a test can stop and restart it; a 3-node cluster
// from nats-server configuration files; the shipped, secured cluster
// (deployments/nats: TLS, certificates from make-certs.sh, the auth.conf a
// test supplies); and two regions, a hub and a leaf node in JetStream
// domains of their own joined by a TCP link a test can cut (StartRegions).
// Errors records the permission violations a server reports to a client.
// The publisher, the subscriber, natsauth and the command's tests all use it.
package natstest
