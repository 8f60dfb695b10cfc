// Package rfc7009 is the standard OAuth 2.0 token revocation endpoint of
// revocast's front: POST /oauth2/revoke, as RFC 7009 defines it.
//
// It owns what RFC 7009 and RFC 6749 say about the wire: the
// application/x-www-form-urlencoded body (empty parameters count as absent,
// a repeated parameter is refused), client authentication by Basic (with the
// id and secret form-urlencoded before base64, as RFC 6749 section 2.3.1
// asks and openid-client does, or not) or by client_id and client_secret in
// the body (both are accepted when they agree), the token_type_hint values,
// the RFC 6749 section 5.2 error bodies, and the answer every client
// expects: exactly 200 with an empty body, also for an invalid or unknown
// token. Every answer carries Cache-Control: no-store.
//
// It only parses, authenticates and renders: what to revoke (and whether the
// client may) is publisher.Core's job. The raw token is hashed on arrival;
// it is never logged or echoed.
package rfc7009
