// Package elasticsearch is the Elasticsearch dialect of revocast's front:
// DELETE /_security/oauth2/token, as Elasticsearch 8 answers it.
//
// It parses the body exactly as Elasticsearch's InvalidateTokenRequest parser
// does (the same validation messages, in the same order, with the same
// [line:column] positions), renders results with the keys in Elasticsearch's
// order and errors in its {"error":{...},"status":N} shape, sets
// X-Elastic-Product on every answer but 401 and 403 (the official clients
// refuse a 2xx without it), and accepts the vendor media type
// application/vnd.elasticsearch+json;compatible-with=8 that the official
// clients send. It only parses, authenticates and renders: what to revoke and
// how to count is publisher.Core's job.
package elasticsearch
