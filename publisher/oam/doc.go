// Package oam is the Oracle Access Manager dialect of revocast's front:
// POST /oauth2/rest/token/revoke, as OAM's OAuth REST API documents it.
//
// It owns what is specific to that format: client authentication with
// Basic credentials, the identity domain (the x-oauth-identity-domain-name
// header, or the identityDomain query parameter, the header winning), the
// form-encoded token, token_type (and RFC 7009's token_type_hint, which real
// clients send) and chaining_level, and the answers: {"status":"success"},
// or an RFC 6749 style {"error":...,"error_description":...} body, since
// Oracle does not document the fields of its error object.
//
// It also owns the token's spelling. Oracle's own curl sample passes an
// already percent-encoded token, with line breaks, to --data-urlencode, so
// the server receives "%3D"-style escapes and newlines inside the value. The
// handler revokes the token the client meant (line breaks removed,
// percent-decoded) and, as aliases, what it literally sent.
//
// It only parses, authenticates and renders: what to revoke, whether the
// client may, and how to store it is publisher.Core's job. Tokens are never
// logged or echoed.
package oam
