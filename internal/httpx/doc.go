// Package httpx holds the HTTP helpers the front and the sidecar share.
package httpx
