// A room as an Apollo Client app keeps it: B reads a page of messages and
// Room.eventsCursor into a normalized InMemoryCache, follows roomEvents
// through GraphQLWsLink, and applies each MessageEvent to the cache (the
// message by id; one the page lacks joins the room's connection at its
// seq, as a message added and changed before B subscribed comes once, as
// EDITED or DELETED). A sends, replies, edits, deletes, reacts (and B
// reacts too), types and marks the room read; B's cache must equal the
// server's state as B reads it (reactions with B's viewerReacted), and A's
// app (following roomEvents too) sees B's reactions, typing and read mark
// and equals the server as A reads it. Then
// B's socket drops, A changes more (edits of messages B has, a deletion, a
// new message edited twice, reactions taken back and added), and B resumes with `after:` the cursor of the
// last MessageEvent it applied: the cache ends equal to the server again.
//
// Usage: node conversations.test.mjs <baseURL>   (exit 0 = pass)
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node conversations.test.mjs <baseURL>');
  process.exit(2);
}
globalThis.WebSocket ??= WebSocket;
const httpURL = `${base}/graphql`;
const wsURL = httpURL.replace(/^http/, 'ws');
const started = Date.now();
const step = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${msg}`);
const show = (v) => JSON.stringify(v);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};
const disposers = [];
const track = (fn) => disposers.push(fn);
async function cleanup() {
  for (const fn of disposers.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
}
const overall = setTimeout(async () => {
  console.error('FAIL: timed out after 30 s');
  await Promise.race([cleanup(), sleep(1000)]);
  process.exit(1);
}, 30_000);

const asyncErrors = [];
async function until(cond, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (asyncErrors.length) fail(`while waiting for ${what}: ${asyncErrors.join('; ')}`);
    if (cond()) return;
    if (Date.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const httpLink = (token) => new HttpLink({ uri: httpURL, headers: token ? { Authorization: `Bearer ${token}` } : {} });
const noCache = { query: { fetchPolicy: 'no-cache' }, mutate: { fetchPolicy: 'no-cache' } };

function plainClient(token) {
  const c = new ApolloClient({ link: httpLink(token), cache: new InMemoryCache(), defaultOptions: noCache });
  track(() => c.stop());
  return c;
}

// appClient is B's app: a split link and a normalized cache that knows the
// RoomEvent union.
function appClient(token) {
  const ws = createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${token}` }, retryAttempts: 0 });
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    httpLink(token),
  );
  const cache = new InMemoryCache({
    possibleTypes: { RoomEvent: ['MessageEvent', 'TypingEvent', 'ReadEvent', 'RoomChangedEvent'] },
  });
  const apollo = new ApolloClient({ link, cache });
  track(() => apollo.stop());
  track(() => ws.dispose());
  return { apollo, ws };
}

async function mutate(client, mutation, variables) {
  try {
    return (await client.mutate({ mutation, variables })).data;
  } catch (e) {
    fail(`mutation ${getMainDefinition(mutation).name?.value} ${show(variables)}: ${e.message}`);
  }
}

const MESSAGE = 'id seq body kind editedAt deletedAt sender { id } attachment { id } replyTo { id body deletedAt } reactions { emoji count viewerReacted users { id } }';
const SIGN_UP = gql`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }`;
const CREATE_ROOM = gql`mutation CreateRoom($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const SEND = gql`mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { ${MESSAGE} } }`;
const EDIT = gql`mutation Edit($id: ID!, $body: String!) { editMessage(messageId: $id, body: $body) { ${MESSAGE} } }`;
const DELETE = gql`mutation Delete($id: ID!) { deleteMessage(messageId: $id) { ${MESSAGE} } }`;
const REACT = gql`mutation React($id: ID!, $e: String!) { addReaction(messageId: $id, emoji: $e) { id } }`;
const UNREACT = gql`mutation Unreact($id: ID!, $e: String!) { removeReaction(messageId: $id, emoji: $e) { id } }`;
const MARK_READ = gql`mutation MarkRead($r: ID!) { markRoomRead(roomId: $r) { id } }`;
const TYPING = gql`mutation Typing($r: ID!, $t: Boolean!) { setTyping(roomId: $r, typing: $t) }`;
const ROOM = gql`query Room($id: ID!) { room(id: $id) { id eventsCursor messages(last: 100) { edges { cursor node { ${MESSAGE} } } } } }`;
const ROOM_EVENTS = gql`
  subscription RoomEvents($roomId: ID!, $after: Cursor) {
    roomEvents(roomId: $roomId, after: $after) {
      __typename
      ... on MessageEvent { kind cursor message { ${MESSAGE} } }
      ... on TypingEvent { typing user { id } }
      ... on ReadEvent { receipt { user { id } lastRead { id } } }
    }
  }
`;

// follow subscribes B's app to roomEvents and applies each MessageEvent to
// the cache; it returns what it saw.
function follow(app, roomId, after) {
  const seen = { messages: 0, typing: [], reads: [], cursor: after };
  const sub = app.apollo.subscribe({ query: ROOM_EVENTS, variables: { roomId, after } }).subscribe({
    next: (result) => {
      try {
        apply(result);
      } catch (e) {
        asyncErrors.push(`applying ${show(result)}: ${e?.stack ?? e}`);
      }
    },
    error: (e) => asyncErrors.push(`roomEvents errored: ${e.message}`),
  });
  function apply({ data, error }) {
      if (process.env.E2E_DEBUG) step(`event ${show(data)} ${error ?? ''}`);
      if (error) return asyncErrors.push(`roomEvents: ${error.message}`);
      const ev = data.roomEvents;
      if (ev.__typename === 'TypingEvent') return seen.typing.push(ev.typing);
      if (ev.__typename === 'ReadEvent') return seen.reads.push({ user: ev.receipt.user.id, lastRead: ev.receipt.lastRead?.id ?? null });
      if (ev.__typename !== 'MessageEvent') return;
      seen.messages++;
      seen.cursor = ev.cursor;
      const cache = app.apollo.cache;
      // The result is normalized into the cache already (Message:<id>). A
      // message the page lacks joins it at its seq: an ADDED one, and also
      // one added and changed again while the stream was away (it comes
      // once, as EDITED or DELETED).
      const ref = cache.identify(ev.message);
      cache.modify({
        id: cache.identify({ __typename: 'Room', id: roomId }),
        fields: {
          messages(existing, { toReference, readField }) {
            if (existing.edges.some((e) => e.node.__ref === ref)) return existing;
            const edge = { __typename: 'MessageEdge', cursor: ev.cursor, node: toReference(ref) };
            const edges = [...existing.edges, edge].sort((x, y) => readField('seq', x.node) - readField('seq', y.node));
            return { ...existing, edges };
          },
        },
      });
  }
  track(() => sub.unsubscribe());
  return { seen, sub };
}

// cachedRoom is what B's screen shows: the room's messages from the cache only.
function cachedRoom(app, roomId) {
  const r = app.apollo.cache.readQuery({ query: ROOM, variables: { id: roomId } });
  return r.room.messages.edges.map((e) => e.node);
}

async function serverRoom(client, roomId) {
  const { data } = await client.query({ query: ROOM, variables: { id: roomId } });
  return data.room.messages.edges.map((e) => e.node);
}

const strip = (ms) =>
  ms.map(({ __typename, ...m }) => ({
    ...m,
    sender: m.sender?.id ?? null,
    attachment: m.attachment?.id ?? null,
    replyTo: m.replyTo ? { id: m.replyTo.id, body: m.replyTo.body, deletedAt: m.replyTo.deletedAt } : null,
    reactions: (m.reactions ?? []).map((r) => ({ emoji: r.emoji, count: r.count, viewerReacted: r.viewerReacted, users: r.users.map((u) => u.id) })),
  }));

async function sameAsServer(app, server, roomId, what) {
  const want = show(strip(await serverRoom(server, roomId)));
  await until(() => show(strip(cachedRoom(app, roomId))) === want, `${what}: B's cache to equal the server's room`).catch((e) => {
    fail(`${e.message}\n  cache:  ${show(strip(cachedRoom(app, roomId)))}\n  server: ${want}`);
  });
}

async function run() {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const anon = plainClient();
  const users = {};
  for (const who of ['A', 'B']) {
    const input = { email: `conv-${who.toLowerCase()}-${tag}@example.com`, password: 'correct horse battery', nickname: `conv ${who}` };
    const { signUp } = await mutate(anon, SIGN_UP, { input });
    users[who] = { id: signUp.user.id, token: signUp.accessToken };
  }
  const A = users.A;
  const B = users.B;
  const a = plainClient(A.token);
  const { createRoom: room } = await mutate(a, CREATE_ROOM, { input: { memberIds: [B.id], name: `edits ${tag}` } });
  const send = async (body, replyToId) => (await mutate(a, SEND, { input: { roomId: room.id, body, replyToId } })).sendMessage;
  const bPlain = plainClient(B.token); // the server's state as B reads it
  const react = (client, id, e) => mutate(client, REACT, { id, e });
  const edit = async (id, body) => (await mutate(a, EDIT, { id, body })).editMessage;
  const del = async (id) => (await mutate(a, DELETE, { id })).deleteMessage;
  const m1 = await send('첫 메시지');
  step(`1. A and B share room ${room.id}; A sent ${m1.id}`);

  // 2. B's app: the page and the cursor, then roomEvents after it.
  const b = appClient(B.token);
  const { data } = await b.apollo.query({ query: ROOM, variables: { id: room.id } });
  const live = follow(b, room.id, data.room.eventsCursor);
  // A's app too: each sees the other's changes live.
  const aApp = appClient(A.token);
  const aData = (await aApp.apollo.query({ query: ROOM, variables: { id: room.id } })).data;
  const aLive = follow(aApp, room.id, aData.room.eventsCursor);
  step(`2. B read ${data.room.messages.edges.length} message(s) and eventsCursor, follows roomEvents`);

  // 3. Live: send, reply, edit, delete, react, type, mark read.
  const m2 = await send('두 번째 — 오타 있음');
  await edit(m2.id, '두 번째 — 고침 ✅');
  const m3 = await send('지울 메시지');
  await del(m3.id);
  const reply = await send('첫 메시지에 답장', m1.id);
  await react(a, m1.id, '👍');
  await react(bPlain, m1.id, '❤️');
  await react(bPlain, m1.id, '👍');
  await react(a, m2.id, '🇰🇷');
  await sameAsServer(b, bPlain, room.id, '3. live');
  // Typing is live only: once a change has arrived, the stream is live.
  await mutate(a, TYPING, { r: room.id, t: true });
  await until(() => live.seen.typing.length >= 1, 'B to see A typing');
  await mutate(a, TYPING, { r: room.id, t: false });
  await until(() => live.seen.typing.length >= 2, 'B to see typing stop');
  if (show(live.seen.typing) !== show([true, false])) fail(`typing: ${show(live.seen.typing)}`);
  await mutate(bPlain, TYPING, { r: room.id, t: true });
  await until(() => aLive.seen.typing.length >= 1, 'A to see B typing');
  await mutate(bPlain, MARK_READ, { r: room.id });
  await until(() => aLive.seen.reads.some((r) => r.user === B.id && r.lastRead === reply.id), `A to see B's read mark on ${reply.id}: ${show(aLive.seen.reads)}`);
  await sameAsServer(aApp, a, room.id, "3. live, A's app");
  await mutate(a, MARK_READ, { r: room.id });
  await until(() => live.seen.reads.some((r) => r.user === A.id && r.lastRead === reply.id), `B to see A's read mark on ${reply.id}: ${show(live.seen.reads)}`);
  await sameAsServer(b, bPlain, room.id, '3. live');
  const cached = cachedRoom(b, room.id);
  const tomb = cached.find((m) => m.id === m3.id);
  if (!tomb?.deletedAt || tomb.body !== '') fail(`the deleted message in B's cache: ${show(tomb)}`);
  if (!cached.find((m) => m.id === m2.id)?.editedAt) fail(`the edited message in B's cache: ${show(cached)}`);
  if (cached.find((m) => m.id === reply.id)?.replyTo?.id !== m1.id) fail(`the reply in B's cache: ${show(cached)}`);
  const thumbs = cached.find((m) => m.id === m1.id)?.reactions ?? [];
  if (show(strip([{ reactions: thumbs }])[0].reactions) !== show([
    { emoji: '👍', count: 2, viewerReacted: true, users: [A.id, B.id] },
    { emoji: '❤️', count: 1, viewerReacted: true, users: [B.id] },
  ])) fail(`the reactions in B's cache: ${show(thumbs)}`);
  step(`3. live: B's cache equals the server (${cached.length} messages, one edited, one tombstone, a reply, reactions), typing ${show(live.seen.typing)}, A's read mark seen; A's app equals the server as A reads it, with B's reactions, typing and read mark`);

  // 4. B drops; A changes things; B resumes after its last cursor.
  live.sub.unsubscribe();
  await b.ws.dispose();
  const resumeFrom = live.seen.cursor;
  await edit(m1.id, '첫 메시지 (수정)');
  const m4 = await send('자리 비운 사이 1');
  await edit(m4.id, '자리 비운 사이 1 (수정)');
  await edit(m4.id, '자리 비운 사이 1 (두 번 수정)');
  await del(m2.id);
  const m5 = await send('자리 비운 사이 2');
  await mutate(a, UNREACT, { id: m1.id, e: '👍' });
  await react(a, m5.id, '🎉');
  step(`4. B away; A edited ${m1.id} and took back its 👍, sent and edited twice ${m4.id}, deleted ${m2.id}, sent ${m5.id} and reacted to it`);
  const b2 = appClient(B.token);
  // The same cache contents as before the drop (an app keeps its cache).
  b2.apollo.cache.restore(b.apollo.cache.extract());
  const again = follow(b2, room.id, resumeFrom);
  await sameAsServer(b2, bPlain, room.id, '4. resumed');
  await sleep(300); // anything more would show now
  if (again.seen.messages !== 4) fail(`resumed: ${again.seen.messages} MessageEvents, want 4 (m4 once, at its latest change)`);
  const m6 = await send('다시 실시간');
  await until(() => again.seen.messages === 5, 'the live message after the replay');
  await sameAsServer(b2, bPlain, room.id, '4. live after the replay');
  step(`4. resumed with after: B's cache equals the server; ${again.seen.messages} events, ${m6.id} live`);
}

let exitCode = 0;
try {
  await run();
  step('PASS');
} catch (e) {
  exitCode = 1;
  console.error(`FAIL: ${e instanceof Failure ? e.message : e?.stack ?? e}`);
} finally {
  await cleanup();
  clearTimeout(overall);
}
process.exit(exitCode);
