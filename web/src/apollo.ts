// The Apollo setup, in one place: the session (tokens), the links (HTTP with
// uploads for queries and mutations, graphql-ws for subscriptions), and the
// cache's type policies.
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, InMemoryCache } from "@apollo/client";
import { ErrorLink } from "@apollo/client/link/error";
import { SetContextLink } from "@apollo/client/link/context";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition, relayStylePagination } from "@apollo/client/utilities";
import UploadHttpLink from "apollo-upload-client/UploadHttpLink.mjs";
import { createClient } from "graphql-ws";
import { from, switchMap, tap } from "rxjs";

// ---------------------------------------------------------------- session

export type Session = {
  accessToken: string;
  /** ISO time the access token stops working. */
  accessTokenExpiresAt: string;
  /** When the access token was received (ms since the epoch): its lifetime is the difference. */
  obtainedAt: number;
  refreshToken: string;
  userId: string;
};

const storageKey = "chatty.session";
const listeners = new Set<() => void>();
let current: Session | null = load();

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(storageKey) ?? "null");
    return s && typeof s.refreshToken === "string" ? (s as Session) : null;
  } catch {
    return null;
  }
}

const notify = () => listeners.forEach((fn) => fn());

export const session = {
  get: () => current,
  subscribe(fn: () => void) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
  /** Stores what signUp, signIn, completeOAuth and refreshSession return. */
  set(p: { accessToken: string; accessTokenExpiresAt: string; refreshToken: string; user: { id: string } } | null) {
    const prevUser = current?.userId;
    current = p && {
      accessToken: p.accessToken,
      accessTokenExpiresAt: p.accessTokenExpiresAt,
      obtainedAt: Date.now(),
      refreshToken: p.refreshToken,
      userId: p.user.id,
    };
    if (current) localStorage.setItem(storageKey, JSON.stringify(current));
    else localStorage.removeItem(storageKey);
    if (prevUser !== current?.userId) {
      // Another person (or nobody): the socket speaks for the old one, the cache holds their data.
      wsClient.terminate();
      void client.clearStore();
    }
    notify();
  },
};

// Another tab signed in or out, or refreshed the session: follow it.
window.addEventListener("storage", (e) => {
  if (e.key !== storageKey) return;
  const next = load();
  const otherUser = next?.userId !== current?.userId;
  current = next;
  if (otherUser) {
    wsClient.terminate();
    void client.clearStore();
  }
  notify();
});

const refreshMutation = `mutation Refresh($t: String!) { refreshSession(refreshToken: $t) {
  accessToken accessTokenExpiresAt refreshToken user { id } } }`;

let refreshing: Promise<string | null> | null = null;

/**
 * Trades the refresh token for a new pair. A refresh token is good once
 * (presenting it again ends the session), so one refresh runs at a time:
 * in this tab (however many requests ask) and across the tabs of this
 * browser (a Web Lock), and a tab that finds another already did it takes
 * the new pair from localStorage. A refused refresh (UNAUTHENTICATED: the
 * session ended) signs out. Anything else (the network, a proxy's error
 * page, the server busy or rate limiting) keeps the session and answers
 * the token held: the request goes with it, and the next one tries again.
 */
function refresh(): Promise<string | null> {
  const stale = current;
  if (!stale) return Promise.resolve(null);
  const run = async (): Promise<string | null> => {
    const latest = load();
    if (!latest || latest.userId !== stale.userId) {
      current = latest;
      notify();
      return latest?.accessToken ?? null;
    }
    if (latest.refreshToken !== stale.refreshToken) {
      current = latest; // another tab refreshed meanwhile
      notify();
      return latest.accessToken;
    }
    let body: { data?: { refreshSession?: Parameters<typeof session.set>[0] }; errors?: { extensions?: { code?: unknown } }[] };
    try {
      const res = await fetch(graphqlURL, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ query: refreshMutation, variables: { t: latest.refreshToken }, operationName: "Refresh" }),
      });
      body = await res.json();
    } catch {
      return latest.accessToken; // no answer, or not GraphQL's: try again later
    }
    if (body.data?.refreshSession) {
      session.set(body.data.refreshSession);
      return current?.accessToken ?? null;
    }
    if (body.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
      session.set(null); // the refresh token is no good: the session ended
      return null;
    }
    return latest.accessToken; // the server could not refresh now (UNAVAILABLE, RATE_LIMITED, …)
  };
  refreshing ??= (navigator.locks ? navigator.locks.request("chatty.refresh", run) : run()).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * An access token with some life left, refreshed if need be: ahead of its
 * expiry by a quarter of its lifetime, at most 15 seconds.
 */
async function accessToken(): Promise<string | null> {
  const s = current;
  if (!s) return null;
  const exp = Date.parse(s.accessTokenExpiresAt);
  const margin = Math.max(1_000, Math.min(15_000, (exp - (s.obtainedAt || Date.now())) / 4));
  if (exp - Date.now() > margin) return s.accessToken;
  return refresh();
}

// ---------------------------------------------------------------- links

const graphqlURL = new URL("/graphql", location.href).href;

const authLink = new SetContextLink(async (prev) => {
  const token = await accessToken();
  return { headers: { ...prev.headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) } };
});

// An access token the server no longer takes (expired early, clock skew):
// refresh once and retry.
const retryUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
  if (!CombinedGraphQLErrors.is(error) || operation.getContext().retried || !current) return;
  if (!error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return;
  return from(refresh()).pipe(
    switchMap((token) => {
      operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
        retried: true,
        headers: { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      }));
      return forward(operation);
    }),
  );
});

const httpLink = new UploadHttpLink({
  uri: graphqlURL,
  // The server asks multipart requests to carry this (CSRF protection).
  headers: { "Apollo-Require-Preflight": "true" },
});

// After close 4403 (token expired or session ended) the next connection_init
// must carry a refreshed token.
let tokenRefused = false;

export const wsClient = createClient({
  url: graphqlURL.replace(/^http/, "ws"),
  lazy: true,
  lazyCloseTimeout: 3_000,
  retryAttempts: Infinity,
  shouldRetry: () => current !== null,
  retryWait: async (retries) => {
    await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** retries, 15_000) * (0.5 + Math.random() / 2)));
  },
  connectionParams: async () => {
    const token = tokenRefused ? await refresh() : await accessToken();
    tokenRefused = false;
    if (!token) throw new Error("signed out");
    return { Authorization: `Bearer ${token}` };
  },
  on: {
    closed: (e) => {
      if ((e as CloseEvent | undefined)?.code === 4403) tokenRefused = true;
    },
  },
});

// graphql-ws sends a subscription's payload again on every reconnect, and
// the payload's variables are the operation's. For a subscription with an
// `after` variable, keep that variable at the newest cursor delivered
// (MessageEvent.cursor), so a reconnect resumes where the stream stood:
// no gap, no repeat.
const resumeLink = new ApolloLink((operation, forward) => {
  if (operation.operationType !== "subscription" || !("after" in operation.variables)) return forward(operation);
  const variables = { ...operation.variables };
  operation.variables = variables;
  return forward(operation).pipe(
    tap((result) => {
      for (const value of Object.values(result.data ?? {})) {
        const cursor = (value as { cursor?: unknown } | null)?.cursor;
        if (typeof cursor === "string") variables.after = cursor;
      }
    }),
  );
});

const isSubscription = ({ query }: ApolloLink.Operation) => {
  const def = getMainDefinition(query);
  return def.kind === "OperationDefinition" && def.operation === "subscription";
};

const link = ApolloLink.split(
  isSubscription,
  ApolloLink.from([resumeLink, new GraphQLWsLink(wsClient)]),
  ApolloLink.from([retryUnauthenticated, authLink, httpLink]),
);

// ---------------------------------------------------------------- cache

export const cache = new InMemoryCache({
  typePolicies: {
    Query: {
      fields: {
        rooms: relayStylePagination(),
        friends: relayStylePagination(),
        friendRequests: relayStylePagination(),
        searchUsers: relayStylePagination(["query"]),
        room: { read: (_, { args, toReference }) => toReference({ __typename: "Room", id: args?.id }) },
      },
    },
    Room: {
      fields: {
        // `last: N` then `before` pages back; new messages are appended by
        // the chat screen (cache.modify).
        messages: relayStylePagination(),
        members: { merge: false },
        readReceipts: { merge: false },
      },
    },
    Message: { fields: { reactions: { merge: false } } },
    Reaction: { keyFields: false },
    ReadReceipt: { keyFields: false },
  },
});

export const client = new ApolloClient({ link, cache });
