// Package jsonkeys finds what encoding/json decodes silently: an object
// naming a field twice (the last value wins, and names match without
// regard to case), so that a body a proxy, a log or a reviewer reads one
// way is not revoked or registered another way.
package jsonkeys
