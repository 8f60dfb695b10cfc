// Package faultproxy is a TCP proxy for tests that puts infrastructure
// faults between a NATS client and its server: it relays a client
// connection byte for byte and can, for a window, drop the server→client
// MSG and HMSG frames whose subject starts with a prefix (lost
// acknowledgements, lost replies, on a connection that stays up); cut every
// relayed connection (the client reconnects); black-hole the address
// (connections are accepted and nothing is relayed, so a client notices
// only by its own timeouts); and restore normal relaying.
//
// It reads the NATS text protocol the server sends: a control line ending
// in CRLF, and after `MSG <subject> <sid> [reply] <#bytes>` or
// `HMSG <subject> <sid> [reply] <#hdr> <#total>` the frame's payload and a
// CRLF. Client→server bytes are relayed unparsed. TLS between client and
// server is not supported (the frames could not be read); test servers
// listen in plain text on loopback.
package faultproxy
