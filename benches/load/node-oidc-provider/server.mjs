// node-oidc-provider for benches/load/compare.sh (issue 23 item 5): one
// confidential client with client_credentials, introspection on, opaque
// access tokens, the provider's own in-memory adapter (an LRU of its
// latest 1,000 records), no interactions. NODE_ENV=production.
//
//   PORT=3940 node server.mjs     prints "listening on http://127.0.0.1:PORT"
//
// The client (client_secret_basic) is LOAD_CLIENT_ID / LOAD_CLIENT_SECRET,
// as below unless set.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3940);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.LOAD_CLIENT_ID || 'load-client';
const clientSecret = process.env.LOAD_CLIENT_SECRET || 'load-secret-0123456789abcdef0123456789abcdef';

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read:devices',
    },
  ],
  scopes: ['read:devices'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // A client introspects its own tokens.
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
  },
  cookies: { keys: ['load-cookie-key-0123456789abcdef0123456789abcdef'] },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
