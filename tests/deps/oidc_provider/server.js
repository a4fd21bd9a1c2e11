// A real OpenID Connect provider for workspace's readiness tests (tests/deps/oidc_fixture.py).
//
//   node server.js <port>
//
// Environment:
//   ISSUER         issuer to announce (default http://127.0.0.1:<port>)
//   MODE           ready (default): oidc-provider, plus Zitadel's /debug/ready
//                  never: a server that answers 503 to every request, forever
//                  empty-jwks: discovery is served, but the JWKS has no keys
//   DELAY_MS       wait this long before listening (a provider that is slow to start)
//   EXIT_AFTER_MS  exit with status 3 this long after start, before listening
//
// Prints "listening <port> <epoch ms>" once it accepts connections.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.js <port>');
  process.exit(2);
}
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const mode = process.env.MODE || 'ready';
const delayMs = Number(process.env.DELAY_MS || 0);
const exitAfterMs = process.env.EXIT_AFTER_MS ? Number(process.env.EXIT_AFTER_MS) : null;

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function providerHandler() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'workspace-test',
      client_secret: 'workspace-test-secret',
      redirect_uris: ['http://127.0.0.1/callback'],
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: false } },
  });
  // Zitadel answers its readiness endpoint next to the OIDC ones; so does this provider.
  provider.use(async (ctx, next) => {
    if (ctx.path === '/debug/ready') {
      ctx.body = { status: 'ok' };
      return;
    }
    await next();
  });
  return provider.callback();
}

function handler() {
  if (mode === 'ready') return providerHandler();
  if (mode === 'never') return (req, res) => json(res, 503, { error: 'starting' });
  if (mode === 'empty-jwks') {
    return (req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        json(res, 200, { issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/auth` });
      } else if (req.url === '/jwks') {
        json(res, 200, { keys: [] });
      } else {
        json(res, 200, { status: 'ok' });
      }
    };
  }
  console.error(`unknown MODE ${mode}`);
  process.exit(2);
}

if (exitAfterMs !== null) {
  setTimeout(() => {
    console.error(`exiting after ${exitAfterMs} ms, as asked (EXIT_AFTER_MS)`);
    process.exit(3);
  }, exitAfterMs);
}

const server = http.createServer(handler());
setTimeout(() => {
  server.listen(port, '127.0.0.1', () => {
    console.log(`listening ${port} ${Date.now()}`);
  });
}, delayMs);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
