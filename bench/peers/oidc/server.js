// Benchmark peer for dwb's POST /oauth2/token: oidc-provider (the OpenID
// Certified Node.js authorization server) issuing client-credentials access
// tokens as EdDSA (Ed25519) signed JWTs, run as a node:cluster of 2 workers.
//
// Version: oidc-provider 8.8.1 (package.json), the last release line that
// supports Node.js 20: 9.x has no engines field but warns at start-up
// "Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release." on
// anything older than Node 22 ("Jod"); 8.x's floor is Node 18 ("Hydrogen").
// 8.x signs with jose 5 on node:crypto (synchronous Ed25519 sign).
//
// Environment:
//   PORT                        listen port on 127.0.0.1 (default 18791)
//   BENCH_PEER_CLIENT_ID        the one client's id (default bench-peer)
//   BENCH_PEER_CLIENT_SECRET    its secret (default bench-peer-secret)
//   BENCH_PEER_RESOURCE         the resource indicator (audience) accepted
//   BENCH_PEER_WORKERS          number of workers (default 2: one per core)
//
// Token request (the same shape as dwb's bench/token.lua):
//   POST /token  application/x-www-form-urlencoded
//   grant_type=client_credentials&client_id=…&client_secret=…&resource=…
import cluster from 'node:cluster';
import * as crypto from 'node:crypto';
import process from 'node:process';

const PORT = Number(process.env.PORT || 18791);
const HOST = '127.0.0.1';
const CLIENT_ID = process.env.BENCH_PEER_CLIENT_ID || 'bench-peer';
const CLIENT_SECRET = process.env.BENCH_PEER_CLIENT_SECRET || 'bench-peer-secret';
// The same resource value dwb's bench/token.lua sends, so both servers get
// byte-for-byte the same kind of request body (only the credentials differ).
const RESOURCE = process.env.BENCH_PEER_RESOURCE || 'https://dnvglb2cprod.onmicrosoft.com/bench';
const WORKERS = Number(process.env.BENCH_PEER_WORKERS || 2);
// Access token lifetime, as dwb's (3600 s).
const TOKEN_TTL = 3600;

if (cluster.isPrimary) {
  // The signing key is generated ONCE, in the primary, and handed to every
  // worker: all workers sign with the same key and publish the same JWKS, as
  // a real deployment behind one issuer would (a key per worker would make
  // half the tokens fail verification against the JWKS served by the other).
  // The kid is left for oidc-provider to derive (RFC 7638 thumbprint).
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'EdDSA' };
  const env = { BENCH_PEER_JWK: JSON.stringify(jwk) };

  let stopping = false;
  const stop = (signal) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill(signal);
    // Leave once every worker has gone (or after 5 s at most).
    setTimeout(() => process.exit(), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGTERM'));

  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === WORKERS) {
      console.log(`oidc-provider peer: ${WORKERS} workers on http://${HOST}:${PORT} (primary ${process.pid})`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit();
      return;
    }
    // A worker dying mid-benchmark is a failure to report, not to hide by
    // restarting it: stop the whole peer.
    console.error(`worker ${worker.process.pid} died (${signal || code}); stopping`);
    stop('SIGTERM');
    process.exitCode = 1;
  });
  for (let i = 0; i < WORKERS; i += 1) cluster.fork(env);
} else {
  const { Provider, errors } = await import('oidc-provider');
  const jwk = JSON.parse(process.env.BENCH_PEER_JWK);

  const provider = new Provider(`http://${HOST}:${PORT}`, {
    // One confidential client, client_credentials only, authenticating with
    // client_id/client_secret in the form body (client_secret_post), as dwb's
    // benchmark does. No redirect URIs / response types: it never uses the
    // authorization endpoint.
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
    }],

    // The provider's signing keys: just the one Ed25519 key. Nothing but
    // EdDSA is ever signed (no ID tokens are issued by this grant).
    jwks: { keys: [jwk] },
    // Clients default to RS256 ID tokens, which this keystore cannot sign:
    // oidc-provider then rejects the client as invalid_client_metadata on
    // first use. EdDSA is the only algorithm the key supports (and is also
    // the default alg for JWT access tokens without an explicit one).
    clientDefaults: { id_token_signed_response_alg: 'EdDSA' },

    features: {
      // The grant under test.
      clientCredentials: { enabled: true },
      // Resource Indicators (RFC 8707) are what makes oidc-provider issue JWT
      // access tokens: without a resource server the token is opaque (and
      // stored in the adapter). Here exactly one resource server is known; any other
      // resource value gets invalid_target. Its tokens are JWTs signed with
      // EdDSA (Ed25519), lifetime 3600 s. The scope list is left empty (the
      // benchmark requests no scope, and neither does dwb's).
      resourceIndicators: {
        enabled: true,
        // A request without `resource` gets the same JWT (audience RESOURCE)
        // rather than an opaque token kept in the in-memory adapter, as dwb
        // falls back to its own audience. The benchmark always sends it.
        defaultResource: (ctx, client, oneOf) => oneOf || RESOURCE,
        getResourceServerInfo(ctx, resourceIndicator, client) {
          if (resourceIndicator !== RESOURCE) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: '',
            audience: RESOURCE,
            accessTokenTTL: TOKEN_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'EdDSA' } },
          };
        },
      },
      // The development-only login/consent pages are off, as in production
      // (they only matter for the authorization endpoint, which this
      // benchmark never calls; switching them off also silences the startup
      // warning).
      devInteractions: { enabled: false },
    },

    // Lifetimes set as plain numbers (no per-request TTL function call; the
    // default functions also log a one-off "you SHOULD change" notice).
    ttl: {
      ClientCredentials: TOKEN_TTL,
      AccessToken: TOKEN_TTL,
    },

    // Fixed cookie signing keys (unused by the token endpoint; set so the
    // provider does not warn about ephemeral ones, and so all workers agree).
    cookies: { keys: ['dwb-bench-peer-cookie-key-1'] },

    // No CORS for any origin: the benchmark sends no Origin header, so this
    // is never even called; set explicitly to avoid the default's notice.
    clientBasedCORS: () => false,

    // Everything else is oidc-provider's default: the in-memory adapter
    // (per worker; never touched by this grant, since JWT access tokens are
    // not stored; each worker prints one start-up WARNING about it, which is
    // expected), no extra claims, no DPoP/mTLS binding required, Koa's
    // default (non-proxy) setup, no logging (oidc-provider logs only through
    // the `debug` module, which is silent unless DEBUG is set).
  });

  // Errors answered to the client (e.g. invalid_client) are not logged per
  // request; only unexpected server errors are.
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  provider.listen(PORT, HOST);
}
