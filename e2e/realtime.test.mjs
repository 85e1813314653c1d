// Real time with the client libraries a React app uses: Apollo Client 4 over
// HTTP plus GraphQLWsLink on graphql-ws for subscriptions, split by operation
// type. Two users sign up, share a direct room; B follows messageAdded and
// notifications while A sends (Korean text and emoji must arrive exactly),
// then B's socket drops, A sends more, and B resumes with `after:` (a Relay
// cursor of the last message it saw): the missed messages, then live ones,
// with no gap and no repeat. A plain graphql-ws client with the `authToken`
// form of connectionParams must work, and a bad token must be closed with 4403.
//
// Usage: node realtime.test.mjs <baseURL>   (exit 0 = pass)
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node realtime.test.mjs <baseURL>');
  process.exit(2);
}
// Node 20 has no global WebSocket; graphql-ws gets ws as webSocketImpl, but
// Apollo's GraphQLWsLink also reads the global (WebSocket.CLOSED) when a
// socket errors, and would throw a ReferenceError without it.
globalThis.WebSocket ??= WebSocket;

const httpURL = `${base}/graphql`;
const wsURL = httpURL.replace(/^http/, 'ws');
const started = Date.now();
const TIMEOUT_MS = 30_000;

const step = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${msg}`);
const show = (v) => JSON.stringify(v);

// Everything that must be closed before the process can exit.
const disposers = [];
const track = (fn) => {
  disposers.push(fn);
  return fn;
};
async function cleanup() {
  for (const fn of disposers.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
}

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};

// Errors that arrive asynchronously (subscription sinks) fail the next wait.
const asyncErrors = [];

const overall = setTimeout(async () => {
  console.error(`FAIL: timed out after ${TIMEOUT_MS / 1000} s`);
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(1);
}, TIMEOUT_MS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// until polls cond until it holds; fails with what on timeout or on an
// asynchronous error.
async function until(cond, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (asyncErrors.length) fail(`while waiting for ${what}: ${asyncErrors.join('; ')}`);
    if (cond()) return;
    if (Date.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const describeError = (e) => {
  if (!e) return String(e);
  if (Array.isArray(e.errors)) {
    return `${e.name}: ${e.errors.map((x) => `${x.message} [${x.extensions?.code ?? 'no code'}]`).join('; ')}`;
  }
  if (typeof e.code === 'number' && 'reason' in e) return `socket closed ${e.code} ${e.reason}`;
  return e.message ? `${e.name ?? 'Error'}: ${e.message}` : show(e);
};

// ---------------------------------------------------------------- clients

const cache = () => new InMemoryCache();
const noCache = {
  query: { fetchPolicy: 'no-cache' },
  mutate: { fetchPolicy: 'no-cache' },
  watchQuery: { fetchPolicy: 'no-cache' },
};

function httpLink(token) {
  return new HttpLink({
    uri: httpURL,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

function httpClient(token) {
  const c = new ApolloClient({ link: httpLink(token), cache: cache(), defaultOptions: noCache });
  track(() => c.stop());
  return c;
}

// wsClient is a graphql-ws client; its open/close events are logged and kept.
function wsClient(name, connectionParams, extra = {}) {
  const events = { connected: 0, closed: [], errors: [] };
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    ...extra,
    on: {
      connected: () => {
        events.connected++;
        step(`${name}: socket connected (connection_ack received)`);
      },
      error: (e) => {
        const msg = e?.message ?? e?.error?.message ?? String(e);
        events.errors.push(msg);
        step(`${name}: socket error: ${msg}`);
      },
      closed: (e) => {
        events.closed.push({ code: e?.code, reason: e?.reason });
        step(`${name}: socket closed code=${e?.code} reason=${show(e?.reason ?? '')}`);
      },
    },
  });
  track(() => client.dispose());
  return { client, events };
}

// splitClient is what a React app builds: subscriptions over the WebSocket,
// everything else over HTTP, both carrying the token.
function splitClient(name, token) {
  const ws = wsClient(name, { Authorization: `Bearer ${token}` });
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws.client),
    httpLink(token),
  );
  const apollo = new ApolloClient({ link, cache: cache(), defaultOptions: noCache });
  track(() => apollo.stop());
  return { apollo, ...ws };
}

async function mutate(client, who, mutation, variables) {
  try {
    const { data } = await client.mutate({ mutation, variables });
    return data;
  } catch (e) {
    fail(`${who}: mutation ${getMainDefinition(mutation).name?.value} with variables ${show(variables)} failed: ${describeError(e)}`);
  }
}

async function query(client, who, q, variables) {
  try {
    const { data, error } = await client.query({ query: q, variables });
    if (error) throw error;
    return data;
  } catch (e) {
    fail(`${who}: query ${getMainDefinition(q).name?.value} with variables ${show(variables)} failed: ${describeError(e)}`);
  }
}

// follow subscribes through Apollo and collects the payloads of field.
function follow(apollo, who, doc, variables, field) {
  const got = [];
  const label = `${who} ${field}${variables ? ' ' + show(variables) : ''}`;
  const sub = apollo.subscribe({ query: doc, variables }).subscribe({
    next: (r) => {
      if (r.error) {
        asyncErrors.push(`${label}: error result ${describeError(r.error)}`);
        return;
      }
      got.push(r.data[field]);
    },
    error: (e) => asyncErrors.push(`${label}: subscription errored: ${describeError(e)}`),
    complete: () => step(`${label}: subscription completed`),
  });
  track(() => sub.unsubscribe());
  return { got, sub };
}

// ---------------------------------------------------------------- operations

const MESSAGE_FIELDS = 'id seq kind body clientId sender { id nickname } room { id }';

const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { accessToken user { id nickname email } }
  }
`;
const CREATE_ROOM = gql`
  mutation CreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) { id kind name members { id nickname } }
  }
`;
const SEND = gql`
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) { ${MESSAGE_FIELDS} }
  }
`;
const ROOM_MESSAGES = gql`
  query RoomMessages($id: ID!, $last: Int) {
    room(id: $id) {
      id
      messages(last: $last) { totalCount edges { cursor node { id seq } } }
    }
  }
`;
const MESSAGE_ADDED = gql`
  subscription MessageAdded($roomId: ID!, $after: Cursor) {
    messageAdded(roomId: $roomId, after: $after) { ${MESSAGE_FIELDS} }
  }
`;
const NOTIFICATIONS = gql`
  subscription Notifications {
    notifications { kind totalUnread room { id } message { id seq body } actor { id nickname } }
  }
`;

// ---------------------------------------------------------------- checks

function checkMessages(got, want, what) {
  const brief = (m) => m && { id: m.id, seq: m.seq, body: m.body, sender: m.sender };
  if (got.length !== want.length) {
    fail(`${what}: want ${want.length} messages ${show(want.map(brief))}, got ${got.length}: ${show(got.map(brief))}`);
  }
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.id !== w.id || g.seq !== w.seq) {
      fail(`${what}: message #${i + 1}: want id=${w.id} seq=${w.seq}, got id=${g.id} seq=${g.seq} (all: ${show(got.map(brief))})`);
    }
    if (g.body !== w.body) {
      fail(`${what}: message seq=${g.seq}: body differs: sent ${show(w.body)}, got ${show(g.body)}`);
    }
    if (g.sender?.id !== w.sender.id || g.sender?.nickname !== w.sender.nickname) {
      fail(`${what}: message seq=${g.seq}: want sender ${show(w.sender)}, got ${show(g.sender)}`);
    }
    if (g.kind !== 'TEXT' || g.room?.id !== w.room.id || g.clientId !== w.clientId) {
      fail(`${what}: message seq=${g.seq}: want kind TEXT room ${w.room.id} clientId ${w.clientId}, got ${show(g)}`);
    }
    if (i > 0 && !(g.seq > got[i - 1].seq)) fail(`${what}: seq not increasing: ${show(got.map((m) => m.seq))}`);
  }
}

// ---------------------------------------------------------------- the run

async function run() {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const anon = httpClient();

  // 1. Two users.
  const users = {};
  for (const who of ['A', 'B']) {
    const input = {
      email: `realtime-${who.toLowerCase()}-${tag}@example.com`,
      password: 'correct horse battery',
      nickname: who === 'A' ? `앨리스 ${who}🐰` : `Bob ${who}`,
    };
    const { signUp } = await mutate(anon, `sign up ${who}`, SIGN_UP, { input });
    if (!signUp?.accessToken || !signUp.user?.id) fail(`signUp ${who}: no token or user: ${show(signUp)}`);
    users[who] = { ...signUp.user, token: signUp.accessToken };
    step(`1. signed up ${who}: id=${signUp.user.id} nickname=${show(signUp.user.nickname)} email=${signUp.user.email}`);
  }
  const A = users.A;
  const B = users.B;
  const aHTTP = httpClient(A.token);

  // 2. A direct room.
  const { createRoom: room } = await mutate(aHTTP, 'A', CREATE_ROOM, { input: { memberIds: [B.id] } });
  if (room.kind !== 'DIRECT') fail(`createRoom: want a DIRECT room, got ${show(room)}`);
  const memberIds = room.members.map((m) => m.id).sort();
  if (show(memberIds) !== show([A.id, B.id].sort())) fail(`createRoom: want members A and B, got ${show(room.members)}`);
  step(`2. A created room ${room.id} kind=${room.kind} name=${show(room.name)} members=${show(room.members.map((m) => m.nickname))}`);

  // 3. B's split client: subscriptions on the WebSocket.
  const b1 = splitClient('B client 1', B.token);
  const msgs1 = follow(b1.apollo, 'B', MESSAGE_ADDED, { roomId: room.id }, 'messageAdded');
  const notes = follow(b1.apollo, 'B', NOTIFICATIONS, undefined, 'notifications');
  await until(() => b1.events.connected > 0, 'B client 1 to connect');
  // graphql-transport-ws has no acknowledgement of a subscribe: give the
  // server a moment to register both subscriptions before A sends.
  await sleep(500);
  step('3. B subscribed to messageAdded and notifications through GraphQLWsLink');

  // 4. A sends three; B receives them live.
  const bodies = [
    '안녕하세요! 첫 번째 메시지입니다 👋',
    'Emoji mix: 👨‍👩‍👧‍👦 🏳️‍🌈 🇰🇷 — 한글 + 😀',
    '세 번째: "quotes", \\ backslash, <tag> & 日本語 🎉',
  ];
  const sent = [];
  const send = async (body, i) => {
    const input = { roomId: room.id, body, clientId: `${tag}-${i}` };
    const { sendMessage: m } = await mutate(aHTTP, 'A', SEND, { input });
    if (m.body !== body) fail(`sendMessage: body echoed differently: sent ${show(body)}, got ${show(m.body)}`);
    sent.push(m);
    step(`A sent seq=${m.seq} id=${m.id} body=${show(m.body)}`);
    return m;
  };
  for (const [i, body] of bodies.entries()) await send(body, i + 1);
  await until(() => msgs1.got.length >= 3 && notes.got.length >= 3, 'B to receive 3 messages and 3 notifications');
  await sleep(300); // anything extra would show up now
  checkMessages(msgs1.got, sent.slice(0, 3), "B's messageAdded");
  step(`4. B received messageAdded seq=${show(msgs1.got.map((m) => m.seq))} with bodies and sender ${show(msgs1.got[0].sender)} as sent`);
  if (notes.got.length !== 3) fail(`B's notifications: want 3, got ${notes.got.length}: ${show(notes.got)}`);
  notes.got.forEach((n, i) => {
    const m = sent[i];
    if (n.kind !== 'NEW_MESSAGE' || n.totalUnread !== i + 1 || n.room?.id !== room.id || n.message?.id !== m.id || n.actor?.id !== A.id) {
      fail(
        `B's notification #${i + 1}: want NEW_MESSAGE totalUnread=${i + 1} room=${room.id} message=${m.id} actor=${A.id}, got ${show(n)}`,
      );
    }
  });
  step(`4. B received notifications ${show(notes.got.map((n) => `${n.kind}:${n.totalUnread}`))}`);

  // 5. B's socket drops; A sends two; B resumes after its last message.
  const lastSeen = msgs1.got[msgs1.got.length - 1];
  msgs1.sub.unsubscribe();
  notes.sub.unsubscribe();
  await b1.client.dispose();
  await until(() => b1.events.closed.length > 0, 'B client 1 to close');
  b1.apollo.stop();
  step(`5. B client 1 disposed; last message B saw: seq=${lastSeen.seq} id=${lastSeen.id}`);
  for (const [i, body] of ['놓친 메시지 하나 📭', '놓친 메시지 둘 📬'].entries()) await send(body, 4 + i);

  const b2 = splitClient('B client 2', B.token);
  const { room: page } = await query(b2.apollo, 'B', ROOM_MESSAGES, { id: room.id, last: 10 });
  const edges = page?.messages?.edges ?? [];
  step(`5. B's room(id).messages(last: 10) over HTTP: totalCount=${page?.messages?.totalCount} seqs=${show(edges.map((e) => e.node?.seq))}`);
  const edgeOf = (id) => edges.find((e) => e.node?.id === id);
  const lastEdge = edgeOf(lastSeen.id);
  if (!lastEdge?.cursor) fail(`no edge for message ${lastSeen.id} in ${show(page)}`);
  for (const m of sent) if (!edgeOf(m.id)) fail(`room.messages(last: 10) lacks message seq=${m.seq} id=${m.id}: ${show(page)}`);
  step(`5. B resumes messageAdded after cursor ${show(lastEdge.cursor)} (seq=${lastSeen.seq})`);
  const msgs2 = follow(b2.apollo, 'B', MESSAGE_ADDED, { roomId: room.id, after: lastEdge.cursor }, 'messageAdded');
  await until(() => msgs2.got.length >= 2, 'B to receive the 2 missed messages');
  await sleep(300);
  checkMessages(msgs2.got, sent.slice(3, 5), "B's resumed messageAdded (replay)");
  step(`5. B got the missed messages seq=${show(msgs2.got.map((m) => m.seq))}`);
  await send('다시 연결됨, 실시간 ✅', 6);
  await until(() => msgs2.got.length >= 3, 'B to receive the live message after the replay');
  await sleep(300);
  checkMessages(msgs2.got, sent.slice(3, 6), "B's resumed messageAdded (replay then live)");
  step(`5. B got the live one too: seq=${show(msgs2.got.map((m) => m.seq))}, no gap, no repeat`);
  msgs2.sub.unsubscribe();
  await b2.client.dispose();
  b2.apollo.stop();

  // 6a. A plain graphql-ws client with {authToken}.
  const plain = wsClient('B plain graphql-ws', { authToken: B.token });
  const { data: vd, errors: ve } = await firstResult(plain.client, { query: '{ viewer { id nickname } }' }, 'viewer over WS');
  if (ve?.length || vd?.viewer?.id !== B.id) fail(`plain graphql-ws {authToken}: viewer query: want B ${B.id}, got ${show({ data: vd, errors: ve })}`);
  step(`6. plain graphql-ws with {authToken}: viewer over WS = ${show(vd.viewer)}`);
  const cursor5 = edgeOf(sent[4].id).cursor;
  const { data: md, errors: me } = await firstResult(
    plain.client,
    { query: `subscription ($r: ID!, $a: Cursor) { messageAdded(roomId: $r, after: $a) { id seq body sender { id nickname } } }`, variables: { r: room.id, a: cursor5 } },
    'messageAdded after seq 5 over plain graphql-ws',
  );
  const m6 = sent[5];
  if (me?.length || md?.messageAdded?.id !== m6.id || md.messageAdded.body !== m6.body) {
    fail(`plain graphql-ws messageAdded(after: cursor of seq 5): want seq=${m6.seq} id=${m6.id}, got ${show({ data: md, errors: me })}`);
  }
  step(`6. plain graphql-ws: messageAdded(after: seq 5) replayed seq=${md.messageAdded.seq} body=${show(md.messageAdded.body)}`);
  await plain.client.dispose();

  // 6b. A bad token is refused with 4403.
  const bad = wsClient('bad token', { Authorization: 'Bearer not-a-valid-token' });
  const outcome = await new Promise((resolve) => {
    const t = setTimeout(() => resolve({ timeout: true }), 5000);
    bad.client.subscribe(
      { query: 'subscription { notifications { kind } }' },
      {
        next: (v) => {
          clearTimeout(t);
          resolve({ next: v });
        },
        error: (e) => {
          clearTimeout(t);
          resolve({ error: e });
        },
        complete: () => {
          clearTimeout(t);
          resolve({ complete: true });
        },
      },
    );
  });
  const code = outcome.error?.code;
  if (code !== 4403) {
    fail(
      `bad token: want the socket closed with 4403, got ${outcome.error ? describeError(outcome.error) : show(outcome)} (closed events: ${show(bad.events.closed)})`,
    );
  }
  if (bad.events.connected) fail('bad token: the server acknowledged connection_init');
  step(`6. bad token refused: close ${code} ${show(outcome.error.reason)}`);
  await bad.client.dispose();
}

// firstResult runs one operation on a graphql-ws client and returns its first result.
function firstResult(client, payload, what) {
  return new Promise((resolve, reject) => {
    let done = false;
    const t = setTimeout(() => {
      dispose();
      reject(new Failure(`timed out after 5000 ms waiting for ${what}`));
    }, 5000);
    const dispose = client.subscribe(payload, {
      next: (r) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        dispose();
        resolve(r);
      },
      error: (e) => {
        clearTimeout(t);
        reject(new Failure(`${what}: ${describeError(e)}`));
      },
      complete: () => {
        clearTimeout(t);
        if (!done) reject(new Failure(`${what}: completed without a result`));
      },
    });
  });
}

let exitCode = 0;
try {
  await run();
  step('PASS');
} catch (e) {
  exitCode = 1;
  console.error(`FAIL: ${e instanceof Failure ? e.message : e?.stack ?? describeError(e)}`);
} finally {
  await cleanup();
  clearTimeout(overall);
}
process.exit(exitCode);
