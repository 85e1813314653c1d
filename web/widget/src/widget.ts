// One mounted widget: a bell with the unread count, toasts for new
// messages and friend requests, all inside a shadow root.

import { startLink, type Notification, type TokenRequest } from './connection';
import { css } from './styles';
import { pickLang, strings, type Strings } from './i18n';

export interface MountOptions {
  /** The GraphQL endpoint, e.g. https://chat.example.com/graphql (default: /graphql next to widget.js). */
  url?: string;
  /** Returns an access token for the signed-in user; called before every connection. */
  getToken: (req: TokenRequest) => string | null | undefined | Promise<string | null | undefined>;
  /** 'ko' or 'en' (default: the page's lang, else the browser's). */
  lang?: string;
  /** Makes the bell a link, e.g. to the chat app. */
  href?: string;
  /** How long a toast stays, in ms (6000); 0 keeps them until dismissed. */
  toastMs?: number;
  /** Called with every notification, after the widget has shown it. */
  onNotification?: (n: Notification) => void;
}

export interface Widget {
  unmount(): void;
  /** The unread total shown, null before the first one arrived. */
  readonly total: number | null;
}

type State = 'connecting' | 'live' | 'reconnecting' | 'error';

const BELL =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>';
const MAX_TOASTS = 3;

let sheet: CSSStyleSheet | null | undefined;

function styleInto(root: ShadowRoot) {
  // A constructed sheet needs no 'unsafe-inline' in the host's CSP.
  if (sheet === undefined) {
    try {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
    } catch {
      sheet = null;
    }
  }
  if (sheet && 'adoptedStyleSheets' in root) {
    root.adoptedStyleSheets = [sheet];
  } else {
    const s = document.createElement('style');
    s.textContent = css;
    root.appendChild(s);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function mount(target: Element, opts: MountOptions, defaultURL: string): Widget {
  if (!target || typeof (target as Element).appendChild !== 'function') throw new TypeError('ChattyWidget.mount: the first argument must be an element');
  if (!opts || typeof opts.getToken !== 'function') throw new TypeError('ChattyWidget.mount: options.getToken must be a function');
  const url = opts.url || defaultURL;
  const t: Strings = strings(pickLang(opts.lang));
  const toastMs = opts.toastMs ?? 6000;

  // A tag of our own (a valid custom element name, never defined): the
  // page's rules for div or span do not match it.
  const host = document.createElement('chatty-widget');
  host.setAttribute('data-chatty-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  styleInto(root);

  const box = el('div', 'widget');
  const bell = opts.href ? el('a', 'bell') : el('span', 'bell');
  if (bell instanceof HTMLAnchorElement) {
    bell.href = opts.href!;
  } else {
    bell.setAttribute('role', 'img');
  }
  bell.innerHTML = BELL;
  const count = el('span', 'count');
  count.setAttribute('aria-hidden', 'true');
  bell.appendChild(count);
  const toasts = el('div', 'toasts');
  toasts.setAttribute('role', 'log');
  toasts.setAttribute('aria-live', 'polite');
  toasts.setAttribute('aria-label', t.notifications);
  box.append(bell, toasts);
  root.appendChild(box);
  target.appendChild(host);

  let total: number | null = null;
  let state: State = 'connecting';
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const render = () => {
    box.setAttribute('data-state', state);
    let label: string;
    if (total === null) {
      label = state === 'error' ? t.unavailable : t.connecting;
      count.hidden = state !== 'error';
      count.textContent = '!';
    } else {
      label = t.unread(total) + (state === 'reconnecting' ? ` (${t.reconnecting})` : '');
      count.hidden = total === 0;
      count.textContent = total > 99 ? '99+' : String(total);
    }
    bell.setAttribute('aria-label', label);
    bell.title = label;
  };
  render();

  const toast = (title: string, body?: string) => {
    const item = el('div', 'toast');
    const p = el('p');
    p.append(el('span', 'title', title));
    if (body) {
      p.append(el('span', 'sr', ' — '), el('span', 'body', body));
    }
    const close = el('button', '', '×');
    close.type = 'button';
    close.setAttribute('aria-label', t.dismiss);
    const remove = () => item.remove();
    close.addEventListener('click', remove);
    item.append(p, close);
    toasts.appendChild(item);
    while (toasts.children.length > MAX_TOASTS) toasts.firstElementChild!.remove();
    if (toastMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        remove();
      }, toastMs);
      timers.add(timer);
    }
  };

  const show = (n: Notification) => {
    const who = n.actor?.nickname || t.someone;
    const room = n.room?.name || '';
    switch (n.kind) {
      case 'NEW_MESSAGE': {
        const m = n.message;
        const body = !m ? '' : m.kind === 'IMAGE' ? t.image : m.kind === 'FILE' ? t.file(m.attachment?.filename || '') : m.body;
        const caption = m && m.kind !== 'TEXT' && m.body ? `${body} · ${m.body}` : body;
        toast(t.newMessage(who, n.room?.kind === 'GROUP' ? room : null), caption);
        break;
      }
      case 'FRIEND_REQUEST':
        toast(t.friendRequest(who));
        break;
      case 'FRIEND_ACCEPTED':
        toast(t.friendAccepted(who));
        break;
      case 'ROOM_ADDED':
        toast(n.room?.kind === 'DIRECT' ? t.directStarted(who) : t.roomAdded(who, room));
        break;
      case 'ROOM_REMOVED':
        toast(t.roomRemoved(room));
        break;
      // ROOM_READ and kinds added later change only the count.
    }
  };

  const stop = startLink({
    url,
    getToken: opts.getToken,
    onTotal: (n) => {
      total = n;
      render();
    },
    onNotification: (n) => {
      show(n);
      try {
        opts.onNotification?.(n);
      } catch (e) {
        setTimeout(() => {
          throw e; // the host's bug, reported as theirs, not ours
        });
      }
    },
    onState: (s) => {
      state = s === 'live' ? 'live' : total === null ? 'error' : 'reconnecting';
      render();
    },
  });

  let mounted = true;
  return {
    unmount() {
      if (!mounted) return;
      mounted = false;
      stop();
      timers.forEach(clearTimeout);
      host.remove();
    },
    get total() {
      return total;
    },
  };
}
