// Automatic persisted queries with Apollo Client 4's PersistedQueryLink, as
// an app configures it (SHA-256 from Node's crypto, hashed queries by GET so
// a CDN could cache them). The first time a query is asked, the link sends
// only its hash and chatty answers PersistedQueryNotFound; the link then
// sends the query with its hash (POST), which registers it. A second client
// (a fresh page) asking the same query is answered from the hash alone, by
// GET. Mutations go by POST. Every request the link makes is recorded.
//
// Usage: node persisted-queries.test.mjs <baseURL>   (exit 0 = pass)
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node persisted-queries.test.mjs <baseURL>');
  process.exit(2);
}
const httpURL = `${base}/graphql`;
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const overall = setTimeout(() => {
  console.error('FAIL: timed out after 30 s');
  process.exit(1);
}, 30_000);

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};

// client is an Apollo Client with the persisted-query link in front of
// HttpLink; requests lists what went over the wire.
function client(token, requests) {
  const recordingFetch = async (uri, init) => {
    const u = new URL(uri);
    const body = init.body ? JSON.parse(init.body) : null;
    requests.push({
      method: init.method ?? 'GET',
      hasQuery: Boolean(body ? body.query : u.searchParams.get('query')),
      hash: body ? body.extensions?.persistedQuery?.sha256Hash : JSON.parse(u.searchParams.get('extensions') ?? '{}').persistedQuery?.sha256Hash,
    });
    return fetch(uri, init);
  };
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: httpURL, fetch: recordingFetch, headers: token ? { Authorization: `Bearer ${token}` } : {} }),
  );
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const SIGN_UP = gql`
  mutation SignUp($in: SignUpInput!) {
    signUp(input: $in) { accessToken user { id } }
  }
`;
const ME = gql`
  query Me {
    viewer { id nickname }
  }
`;

async function run() {
  const signUpRequests = [];
  const anon = client('', signUpRequests);
  const { data: up } = await anon.mutate({
    mutation: SIGN_UP,
    variables: { in: { email: `apq-${Date.now()}@example.com`, password: 'correct horse battery', nickname: '퍼시스트' } },
  });
  const token = up.signUp.accessToken;
  if (!token) fail(`signUp answered ${JSON.stringify(up)}`);
  if (signUpRequests.some((r) => r.method !== 'POST')) fail(`a mutation went by GET: ${JSON.stringify(signUpRequests)}`);

  // First page: hash only by GET (not found), then the query by POST.
  const first = [];
  const { data: d1 } = await client(token, first).query({ query: ME });
  if (d1.viewer.nickname !== '퍼시스트') fail(`first Me answered ${JSON.stringify(d1)}`);
  const want1 = [
    { method: 'GET', hasQuery: false },
    { method: 'POST', hasQuery: true },
  ];
  const seen1 = first.map(({ method, hasQuery }) => ({ method, hasQuery }));
  if (JSON.stringify(seen1) !== JSON.stringify(want1)) fail(`first Me: requests ${JSON.stringify(seen1)}, want ${JSON.stringify(want1)}`);
  console.log('first Me: hash missed, query registered');

  // Second page: the hash alone, by GET, is enough.
  const second = [];
  const { data: d2 } = await client(token, second).query({ query: ME });
  if (d2.viewer.id !== d1.viewer.id) fail(`second Me answered ${JSON.stringify(d2)}`);
  const seen2 = second.map(({ method, hasQuery }) => ({ method, hasQuery }));
  if (JSON.stringify(seen2) !== JSON.stringify([{ method: 'GET', hasQuery: false }])) fail(`second Me: requests ${JSON.stringify(seen2)}, want one GET with the hash only`);
  if (second[0].hash !== first[0].hash) fail('the two pages sent different hashes');
  console.log('second Me: answered from the hash alone, by GET');
}

let exitCode = 0;
try {
  await run();
  console.log('PASS');
} catch (e) {
  exitCode = 1;
  console.error(`FAIL: ${e instanceof Failure ? e.message : (e?.stack ?? e)}`);
} finally {
  clearTimeout(overall);
}
process.exit(exitCode);
