// The notification widget (/widget.js) in headless Chromium, on pages of
// other origins. Driven by internal/server's TestWidgetInBrowser, which
// starts chatty (allowing <allowedHost>'s origin) and the two host sites.
//
// Usage: node widget.browser.mjs <chattyURL> <allowedHost> <foreignHost> <screenshotDir>
// (not *.test.mjs: TestNodeClients would run it with the wrong arguments)
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [chatty, host, foreign, shots] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node widget.browser.mjs <chattyURL> <allowedHost> <foreignHost> <screenshotDir>');
  process.exit(2);
}
const overall = setTimeout(() => {
  console.error('FAIL: timed out after 120 s');
  process.exit(1);
}, 120_000);
const step = (msg) => console.log(`- ${msg}`);

const gql = async (token, query, variables) => {
  const r = await fetch(`${chatty}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(`${query.slice(0, 50)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
};
const signUp = async (nickname) => {
  const email = `w${Date.now()}${Math.random().toString(36).slice(2)}@example.com`;
  const d = await gql(null, 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id nickname } } }', {
    i: { email, password: 'correct horse battery', nickname },
  });
  return { token: d.signUp.accessToken, id: d.signUp.user.id, nickname };
};
const send = (who, room, body) =>
  gql(who.token, 'mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { id } }', { r: room, b: body });
const control = async (base, path, body) => {
  const r = await fetch(`${base}/control/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`control ${path}: ${r.status}`);
  return body === undefined ? r.json() : null;
};

let browser;
const profile = await mkdtemp(join(tmpdir(), 'chatty-widget-'));
try {
  const a = await signUp('Alice');
  const b = await signUp('Bora');
  const c = await signUp('민수');
  step('signed up A, B and C through the API');

  // The site's back end hands out B's token; the first answer is a token
  // chatty refuses, so the widget must hear 4403 and ask getToken again.
  await control(host, 'token', { token: b.token, bad: 1 });
  await control(foreign, 'token', { token: b.token, bad: 0 });

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
  });
  const ctx = await browser.newContext({ viewport: { width: 760, height: 420 }, deviceScaleFactor: 1, locale: 'en-US' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || /content security policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
  });

  const res = await page.goto(`${host}/?lang=en`);
  if (res?.status() !== 200) throw new Error(`host page: ${res?.status()}`);
  const badge = page.getByRole('img', { name: /unread message/ });
  const count = page.locator('[data-chatty-widget] .count');
  const expectBadge = async (label, text) => {
    await page.getByRole('img', { name: label, exact: true }).waitFor();
    if (text === null) {
      if (await count.isVisible()) throw new Error(`badge "${label}" shows a count: ${await count.innerText()}`);
    } else if ((await count.innerText()) !== text) {
      throw new Error(`badge "${label}" shows ${JSON.stringify(await count.innerText())}, want ${text}`);
    }
  };
  await expectBadge('No unread messages', null);
  const calls = await control(host, 'calls');
  if (calls.length < 2 || calls[0] !== 'false' || calls[1] !== 'true') {
    throw new Error(`getToken calls (retry flags) ${JSON.stringify(calls)}: want false (refused with 4403), then true`);
  }
  step(`widget live on ${host} (another origin) after a refused token: getToken retry flags ${JSON.stringify(calls)}`);

  // A writes to B: the badge rises and toasts appear.
  const room = (await gql(a.token, 'mutation($m: [ID!]!) { createRoom(input: {memberIds: $m}) { id } }', { m: [b.id] })).createRoom.id;
  const toasts = page.getByRole('log', { name: 'Chat notifications' });
  await toasts.getByText('Alice started a chat with you').waitFor(); // ROOM_ADDED of a direct room
  await send(a, room, 'Hi Bora, lunch at noon?');
  await expectBadge('1 unread message', '1');
  await toasts.getByText('New message from Alice').first().waitFor();
  await toasts.getByText('Hi Bora, lunch at noon?').waitFor();
  await send(a, room, '안녕하세요 👋 점심 어때요?');
  await expectBadge('2 unread messages', '2');
  await toasts.getByText('안녕하세요 👋 점심 어때요?').waitFor();
  step('A sent two messages: badge 1, then 2, with a toast for each');

  await gql(c.token, 'mutation($u: ID!) { addFriend(userId: $u) { id } }', { u: b.id });
  await toasts.getByText('민수 sent you a friend request').waitFor();
  step('C asked B to be friends: a toast');

  // The host's CSS stays out, and ours stays in.
  const styles = await page.evaluate(() => {
    const shadow = document.querySelector('[data-chatty-widget]').shadowRoot;
    const cs = (e) => getComputedStyle(e);
    const toast = shadow.querySelector('.toast');
    return {
      count: cs(shadow.querySelector('.count')).backgroundColor,
      toastDisplay: cs(toast).display,
      toastFont: cs(toast).fontFamily,
      toastSpacing: cs(toast).letterSpacing,
      svg: cs(shadow.querySelector('svg')).display,
      hostCount: cs(document.getElementById('host-count')).backgroundColor,
      hostCountRadius: cs(document.getElementById('host-count')).borderRadius,
    };
  });
  if (styles.count === 'rgb(0, 255, 0)' || styles.toastDisplay === 'none' || styles.svg === 'none' || /Georgia/.test(styles.toastFont) || styles.toastSpacing === '3px') {
    throw new Error(`the host's CSS reached into the widget: ${JSON.stringify(styles)}`);
  }
  if (styles.hostCount !== 'rgb(0, 255, 0)' || styles.hostCountRadius !== '0px') {
    throw new Error(`the widget's CSS leaked onto the host's .count: ${JSON.stringify(styles)}`);
  }
  step(`styles scoped both ways: ${JSON.stringify(styles)}`);

  // B reads the room elsewhere (through the API): the badge clears.
  await gql(b.token, 'mutation($r: ID!) { markRoomRead(roomId: $r) { id } }', { r: room });
  await expectBadge('No unread messages', null);
  step('B marked the room read through the API: the badge cleared');

  // The server drops every socket (a deploy). The site's token endpoint
  // is held, so the widget is stuck reconnecting while a message arrives
  // that no subscription hears; once released, the widget connects with
  // the fresh token and reads the total again.
  await send(a, room, 'one before the restart');
  await expectBadge('1 unread message', '1');
  const before = (await control(host, 'calls')).length;
  await control(host, 'hold', {});
  await control(host, 'close', {});
  await expectBadge('1 unread message (Reconnecting)', '1');
  for (let i = 0; (await control(host, 'waiting')) === 0; i++) {
    if (i > 100) throw new Error('the widget did not try to reconnect (getToken not called again)');
    await page.waitForTimeout(100);
  }
  await send(a, room, 'one while away');
  await page.waitForTimeout(300);
  await expectBadge('1 unread message (Reconnecting)', '1');
  await control(host, 'release', {});
  await expectBadge('2 unread messages', '2');
  await send(a, room, 'one after the restart');
  await expectBadge('3 unread messages', '3');
  await toasts.getByText('one after the restart').waitFor();
  step(`server closed the sockets: "Reconnecting" while away, then reconnected by itself (getToken called ${(await control(host, 'calls')).length - before} more time(s)); counts 2 (read again), then 3`);

  // unmount(): the widget and its socket are gone.
  await page.evaluate(() => window.widget.unmount());
  if (await page.locator('[data-chatty-widget]').count()) throw new Error('unmount left the widget in the page');
  for (let i = 0; ; i++) {
    const m = await (await fetch(`${chatty}/metrics`)).text();
    if (/\nchatty_websocket_connections 0\n/.test(m)) break;
    if (i > 100) throw new Error(`after unmount chatty still counts sockets: ${m.match(/\nchatty_websocket_connections \d+/)}`);
    await page.waitForTimeout(100);
  }
  step('unmount() removed the widget and closed its socket');
  if (problems.length) throw new Error(`${problems.length} problem(s) on the host page:\n  ${problems.join('\n  ')}`);

  // Korean, for the README's screenshot.
  const ko = await ctx.newPage();
  await ko.goto(`${host}/?lang=ko`);
  await ko.getByRole('img', { name: '읽지 않은 메시지 3개', exact: true }).waitFor();
  await send(a, room, '오늘 회의는 3시에 시작해요');
  await ko.getByRole('img', { name: '읽지 않은 메시지 4개', exact: true }).waitFor();
  await gql(c.token, 'mutation($u: ID!) { removeFriend(userId: $u) { id } }', { u: b.id });
  await gql(c.token, 'mutation($u: ID!) { addFriend(userId: $u) { id } }', { u: b.id });
  const koLog = ko.getByRole('log', { name: '채팅 알림' });
  await koLog.getByText('Alice님의 새 메시지').waitFor();
  await koLog.getByText('민수님이 친구 요청을 보냈어요').waitFor();
  await ko.waitForTimeout(400); // the toasts' entrance animation ends
  await mkdir(shots, { recursive: true });
  await ko.screenshot({ path: join(shots, 'widget.png') });
  step(`Korean: badge and toasts; screenshot ${join(shots, 'widget.png')}`);
  await ko.close();

  // A site chatty does not allow: the socket is refused at the upgrade,
  // the token never leaves the page, the widget says it is unavailable.
  const bad = await ctx.newPage();
  await bad.goto(`${foreign}/?lang=en`);
  await bad.getByRole('img', { name: 'Notifications unavailable', exact: true }).waitFor();
  await send(a, room, 'not for foreign eyes');
  await bad.waitForTimeout(1500);
  const label = await bad.locator('[data-chatty-widget] .bell').getAttribute('aria-label');
  const shown = await bad.getByRole('log').innerText();
  const fcalls = await control(foreign, 'calls');
  if (label !== 'Notifications unavailable' || shown.trim() !== '' || fcalls.length !== 0) {
    throw new Error(`foreign origin: label ${JSON.stringify(label)}, toasts ${JSON.stringify(shown)}, getToken calls ${fcalls.length}: want unavailable, none, 0`);
  }
  step(`${foreign} (not allowed): "Notifications unavailable", no toasts, getToken never called`);
  console.log('PASS: the widget on foreign pages');
} catch (err) {
  console.error(`FAIL: ${err.stack || err.message}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true }).catch(() => {});
  clearTimeout(overall);
}
