// Command revocast runs revocast: "revocast dev" runs everything on one
// machine (an embedded NATS server with JetStream, the HTTP front and one
// sidecar); "revocast publisher" runs the HTTP front and "revocast
// subscriber" the sidecar against a NATS cluster. Every flag has an
// environment twin: --nats-url is REVOCAST_NATS_URL.
package main
