// Package onelogin is the OneLogin dialect of revocast's front:
// POST /auth/oauth2/revoke, as OneLogin's API (version 1) answers it.
//
// It owns the OneLogin request format and nothing else: the Authorization
// header in the documented "client_id:<id>, client_secret:<secret>" form and
// in the Basic form OneLogin's own Go and Python SDKs send, the JSON body
// {"access_token":"..."}, and OneLogin's answers, every one of them a
// {"status":{"error":...,"code":...,"type":...,"message":...}} object with
// the documented types and messages (a method other than POST is answered
// 404 "No Route Exists", as OneLogin does).
//
// It only parses, authenticates and renders. What a revocation reaches is
// publisher.Core's decision: OneLogin documents that revoking an access
// token also revokes its refresh token, and the core does that once the
// token registry knows the pair; this package only asks for the access token
// to be revoked. The token is hashed on arrival and never logged or echoed.
package onelogin
