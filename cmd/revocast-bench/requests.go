package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// esRevoke sends one Elasticsearch single-token revocation and returns the
// status and the answer.
func (h *harness) esRevoke(ctx context.Context, c *http.Client, base, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/_security/oauth2/token", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", h.basic)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("revoke: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("revoke: %w", err)
	}
	return resp.StatusCode, b, nil
}

// revokeToken revokes one token and fails unless it was counted or already
// revoked without error; flag: the answer carries a timeout_exception (a
// sidecar did not confirm within the propagation timeout).
func (h *harness) revokeToken(ctx context.Context, c *http.Client, base, token string) (bool, error) {
	code, b, err := h.esRevoke(ctx, c, base, `{"token":"`+token+`"}`)
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("revoke: %d %.200s", code, b)
	}
	return bytes.Contains(b, []byte("timeout_exception")), nil
}

// check asks a sidecar GET /v1/check about a bearer token: 204 allowed,
// 401 revoked, 503 unavailable.
func check(ctx context.Context, c *http.Client, base, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/check", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("check: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitDenied polls a sidecar until it answers 401 for every token, from
// the last to the first (each poll at most every millisecond, so the poll
// does not take a core the sidecars need), and returns when that was.
func waitDenied(ctx context.Context, c *http.Client, base string, tokens []string) (time.Time, error) {
	for k := len(tokens) - 1; k >= 0; {
		code, err := check(ctx, c, base, tokens[k])
		if err != nil && ctx.Err() != nil {
			return time.Time{}, err
		}
		if code == http.StatusUnauthorized {
			k--
			continue
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s still allows %d of %d tokens: %w", base, k+1, len(tokens), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return time.Now(), nil
}

// opaqueKey is the revocation key of an opaque token (events.TokenKey of a
// token that is not a JWT): its SHA-256, in hex.
func opaqueKey(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}
