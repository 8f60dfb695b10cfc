// Package natsconn opens the NATS connections of the publisher and the
// subscriber the same way: retry forever, start before the server is up,
// and log every disconnect and reconnect. Both components need it, which is
// why it lives under internal/.
package natsconn
