// The live link to chatty: one graphql-ws connection carrying the
// notifications subscription and, once per connection, the totalUnread
// query. Whatever ends a connection (the network, a server restart, a
// close code, an expired token) leads to the same path: wait (exponential
// backoff with jitter, capped), ask getToken for a token again, reconnect,
// and read the total again (events missed while away are not replayed).

import { createClient, type Client } from 'graphql-ws/client';

export interface Notification {
  kind: string;
  totalUnread: number;
  createdAt: string;
  actor: { id: string; nickname: string } | null;
  room: { id: string; name: string; kind: string } | null;
  message: { id: string; kind: string; body: string; attachment: { filename: string } | null } | null;
}

/** Passed to getToken: retry is true after the server refused the last token (close code 4403). */
export interface TokenRequest {
  retry: boolean;
}

export interface LinkOptions {
  url: string;
  getToken: (req: TokenRequest) => string | null | undefined | Promise<string | null | undefined>;
  onTotal: (n: number) => void;
  onNotification: (n: Notification) => void;
  /** live: acknowledged; down: lost or refused, retrying after `retryIn` ms. */
  onState: (s: 'live' | 'down', detail?: { code?: number; retryIn?: number }) => void;
}

const NOTIFICATIONS = `subscription ChattyWidgetNotifications { notifications {
  kind totalUnread createdAt
  actor { id nickname }
  room { id name kind }
  message { id kind body attachment { filename } }
} }`;
const TOTAL = 'query ChattyWidgetTotal { totalUnread }';

const FORBIDDEN = 4403;
const MAX_DELAY = 30_000;

/** Delay before reconnect attempt n (0-based): ~0.5 s, 1 s, 2 s, … 30 s, each between half and all of it. */
export function backoff(n: number): number {
  const cap = Math.min(MAX_DELAY, 500 * 2 ** Math.min(n, 16));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

/** Turns https://host/graphql into wss://host/graphql. */
export function wsURL(url: string): string {
  const u = new URL(url, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
  return u.href;
}

export function startLink(o: LinkOptions): () => void {
  let stopped = false;
  let client: Client | null = null;
  let wake: (() => void) | null = null;
  const online = () => wake?.();
  addEventListener('online', online);

  const run = async () => {
    let attempt = 0;
    let refused = false;
    while (!stopped) {
      let code: number | undefined;
      let acked = false;
      await new Promise<void>((done) => {
        const c = createClient({
          url: wsURL(o.url),
          lazy: true,
          retryAttempts: 0, // the loop here retries, for every kind of end
          keepAlive: 20_000, // a ping every 20 s finds a dead link
          connectionParams: async () => {
            const token = await o.getToken({ retry: refused });
            return token ? { Authorization: `Bearer ${token}` } : {};
          },
          on: {
            connected: () => {
              acked = true;
              attempt = 0;
              refused = false;
              o.onState('live');
            },
            closed: (e) => {
              code = (e as CloseEvent | undefined)?.code;
            },
          },
        });
        client = c;
        let seen = 0; // notifications since the total was asked for
        c.subscribe<{ notifications: Notification }>(
          { query: NOTIFICATIONS },
          {
            next: (r) => {
              const n = r.data?.notifications;
              if (!n) return;
              seen++;
              o.onTotal(n.totalUnread);
              o.onNotification(n);
            },
            error: (e) => {
              if (code === undefined) code = (e as CloseEvent | undefined)?.code;
              done();
            },
            complete: () => done(),
          },
        );
        const asked = seen;
        c.subscribe<{ totalUnread: number }>(
          { query: TOTAL },
          {
            next: (r) => {
              // A notification that came after the question carries a
              // total at least as new: it wins.
              if (typeof r.data?.totalUnread === 'number' && seen === asked) o.onTotal(r.data.totalUnread);
            },
            error: () => {},
            complete: () => {},
          },
        );
      });
      client?.dispose();
      client = null;
      if (stopped) break;
      refused = code === FORBIDDEN;
      if (!acked) attempt++;
      const delay = refused && attempt <= 1 ? 0 : backoff(attempt);
      o.onState('down', { code, retryIn: delay });
      await new Promise<void>((r) => {
        const t = setTimeout(r, delay);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
    }
  };
  void run();
  return () => {
    stopped = true;
    removeEventListener('online', online);
    client?.dispose();
    wake?.();
  };
}
