// Revokes a token at revocast's RFC 7009 endpoint with the real openid-client
// library, as a relying party would. Driven by ../../openidclient_test.go.
//
// Usage: node revoke.mjs BASE_URL CLIENT_ID CLIENT_SECRET TOKEN HINT basic|post
// An empty HINT sends no token_type_hint. Exits 0 on success; on failure
// prints the error (with the OAuth error code and the answer's body when
// there is one) to stderr and exits 1.
import * as client from 'openid-client';

const [base, clientId, clientSecret, token, hint, method] = process.argv.slice(2);
if (process.argv.length !== 8 || !['basic', 'post'].includes(method)) {
  console.error('usage: node revoke.mjs BASE_URL CLIENT_ID CLIENT_SECRET TOKEN HINT basic|post');
  process.exit(2);
}

const clientAuth = method === 'basic'
  ? client.ClientSecretBasic(clientSecret)
  : client.ClientSecretPost(clientSecret);
const config = new client.Configuration(
  { issuer: base, revocation_endpoint: new URL('/oauth2/revoke', base).href },
  clientId,
  clientSecret,
  clientAuth,
);
client.allowInsecureRequests(config); // the test server is plain http

try {
  await client.tokenRevocation(config, token, hint ? { token_type_hint: hint } : undefined);
} catch (err) {
  const parts = [`${err.name}: ${err.message}`];
  for (const k of ['code', 'status', 'error', 'error_description']) {
    if (err[k] !== undefined) parts.push(`${k}=${err[k]}`);
  }
  if (err.cause !== undefined) parts.push(`cause=${JSON.stringify(err.cause)}`);
  // A 401 with a WWW-Authenticate challenge is thrown before the body is
  // read: show the body, which carries the OAuth error code.
  if (err.response && !err.response.bodyUsed) {
    try {
      parts.push(`body=${await err.response.text()}`);
    } catch {}
  }
  console.error(`revocation failed: ${parts.join(' ')}`);
  process.exit(1);
}
