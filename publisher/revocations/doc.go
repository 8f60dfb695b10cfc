// Package revocations serves revocast's own admin route, POST /v1/revocations:
// revoke one JWT by its issuer and JWT ID (without having the token, as
// identity providers and the Shared Signals jwt_id subject name it), or one
// token by its revocation key (token_sha256, computed as `revocast
// hash-token` prints it), or one raw token. Like every request source it
// only parses, authenticates (an OAuth client, Basic) and renders; the core
// decides and counts.
package revocations
