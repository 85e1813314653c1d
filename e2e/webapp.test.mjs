// The web app (/app/) in a real browser, as two people use it: headless
// Chromium with two contexts, one in Korean on a phone-sized screen, one in
// English on a laptop-sized one. They sign up, become friends, open a direct
// chat, exchange messages that appear live in the other window (typing and
// the read mark too), send an image (thumbnail shown, full image opens) and a
// PDF with a Korean name (downloaded with that name); 200 messages seeded
// through the API are paged back to the first; a group is created and left
// (the other sees the system message). Elements are found by role and label.
//
// Any page error, CSP violation, console error or request to another origin
// than the page's (the API is the same origin) fails the run. The app's
// initial JavaScript must be at most 250 KB gzipped. The time to the first
// render of the rooms list is printed, not asserted.
//
// Usage: node webapp.test.mjs <baseURL>   (exit 0 = pass, 77 = no Chromium)
// CHATTY_SCREENSHOTS=dir saves a screenshot of each screen there
// (`make screenshots` writes web/screenshots/, which the README shows).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node webapp.test.mjs <baseURL>');
  process.exit(2);
}
const origin = new URL(base).origin;
const host = new URL(base).host;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`SKIP: no Chromium at ${executablePath} (apt-get install chromium fonts-noto-cjk, or set CHROMIUM)`);
  process.exit(77);
}
const shots = process.env.CHATTY_SCREENSHOTS || '';
const TIMEOUT = 15_000;
const overall = setTimeout(() => {
  console.error('FAIL: timed out after 170 s');
  process.exit(1);
}, 170_000);

const problems = [];
const sockets = {}; // WebSockets opened, by person
const reconnects = {}; // of those, opened by the app while the page stayed
const problem = (msg) => {
  problems.push(msg);
  console.error(`  problem: ${msg}`);
};
const step = (msg) => console.log(`- ${msg}`);
const check = (ok, msg) => {
  if (!ok) throw new Error(msg);
};
// gone waits until no element matches locator (the other side may see a
// change before the one who made it has the server's answer), failing
// with msg if one is still there after 15 s.
const gone = (locator, msg) =>
  locator.first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => check(false, msg));

// ---------------------------------------------------------------- helpers

/** A small PNG (a gradient), made here so the test needs no fixture file. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * (width * 3 + 1) + 1 + x * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj ' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);

/** The bytes a GET sends over the wire, asking for gzip (node's fetch would decode). */
function wireSize(url) {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes: n, encoding: res.headers['content-encoding'] }));
    })
      .on('error', reject)
      .end();
  });
}

async function gql(token, query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function shot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: join(shots, `${name}.png`) });
  step(`screenshot ${name}.png`);
}

// A refresh token is good once: a page reloaded while its refresh is on the
// way loses the new pair and, presenting the old token again, its session.
// People rarely reload in that millisecond; the test, with 30-second
// tokens, waits for the refresh to land before it reloads.
const refreshing = {};
const isRefresh = (r) => r.method() === 'POST' && (r.postData() ?? '').includes('"operationName":"Refresh"');
async function reload(page, who) {
  for (let i = 0; i < 100 && refreshing[who] > 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  await page.reload();
}

/** Answers the next operation named op from page with a GraphQL error
 * (code FORBIDDEN), as the server refuses it, once; returns a function
 * that says whether it did. */
async function refuseOnce(page, op, message) {
  let refused = false;
  const handler = async (route) => {
    if (!refused && route.request().method() === 'POST' && route.request().postDataJSON?.()?.operationName === op) {
      refused = true;
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ errors: [{ message, extensions: { code: 'FORBIDDEN' } }], data: null }),
      });
      await page.unroute('**/graphql', handler);
      return;
    }
    await route.continue();
  };
  await page.route('**/graphql', handler);
  return () => refused;
}

/** Watches a page for what must not happen. */
function watch(page, who) {
  page.on('pageerror', (e) => problem(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed response is judged below, by what it was.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problem(`${who}: console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const op = r.request().postDataJSON?.()?.operationName;
    // Query.authProviders is in the contract (contract-next.graphql) before
    // this server serves it: the sign-in screen then shows no provider.
    if (op === 'AuthProviders' && !servesAuthProviders) return;
    problem(`${who}: ${r.status()} for ${r.request().method()} ${r.url()}${op ? ` (${op})` : ''}`);
  });
  const refreshDone = (r) => {
    if (isRefresh(r)) refreshing[who]--;
  };
  page.on('requestfinished', refreshDone);
  page.on('requestfailed', refreshDone);
  page.on('request', (r) => {
    if (isRefresh(r)) refreshing[who] = (refreshing[who] ?? 0) + 1;
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.origin !== origin) problem(`${who}: request to another origin: ${r.url()}`);
  });
  let sinceLoad = 0;
  page.on('load', () => (sinceLoad = 0));
  page.on('websocket', (ws) => {
    sockets[who] = (sockets[who] ?? 0) + 1;
    if (sinceLoad++ > 0) reconnects[who] = (reconnects[who] ?? 0) + 1; // the app opened another: a reconnect
    ws.on('close', () => step(`${who}: WebSocket closed`));
    const u = new URL(ws.url());
    if (u.host !== host) problem(`${who}: WebSocket to another host: ${ws.url()}`);
  });
}

// ---------------------------------------------------------------- the run

const servesAuthProviders = await fetch(`${base}/graphql`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ query: '{ __type(name: "Query") { fields { name } } }' }),
})
  .then((r) => r.json())
  .then((b) => b.data?.__type?.fields?.some((f) => f.name === 'authProviders'));

const run = Date.now().toString(36);
const A = { email: `a-${run}@example.com`, nickname: `민수${run.slice(-4)}`, password: 'correct horse battery' };
const B = { email: `b-${run}@example.com`, nickname: `Jane${run.slice(-4)}`, password: 'staple battery horse' };

let browser;
const started = Date.now();
const profile = await mkdtemp(join(tmpdir(), 'chatty-webapp-'));
try {
  if (shots) await mkdir(shots, { recursive: true });

  // Budget: the app's initial JavaScript (what index.html loads), gzipped.
  const index = await (await fetch(`${base}/app/`)).text();
  const scripts = [...index.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="([^"]+\.js)"/g)].map(
    (m) => m[1],
  );
  check(scripts.length > 0, `no script in /app/: ${index}`);
  let jsBytes = 0;
  for (const s of scripts) {
    const r = await wireSize(new URL(s, `${base}/app/`).href);
    check(r.status === 200 && r.encoding === 'gzip', `${s}: status ${r.status}, encoding ${r.encoding}`);
    jsBytes += r.bytes;
  }
  step(`initial JavaScript: ${scripts.length} file(s), ${(jsBytes / 1024).toFixed(1)} KB gzipped (budget 250 KB)`);
  check(jsBytes <= 250 * 1024, `initial JavaScript is ${jsBytes} bytes gzipped, over 250 KB`);

  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  const ctxA = await browser.newContext({
    locale: 'ko-KR',
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    acceptDownloads: true,
  });
  const ctxB = await browser.newContext({ locale: 'en-US', viewport: { width: 1024, height: 768 }, acceptDownloads: true });
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  a.setDefaultTimeout(TIMEOUT);
  b.setDefaultTimeout(TIMEOUT);
  watch(a, 'A');
  watch(b, 'B');
  // Leaving and deleting ask first; the person says yes.
  a.on('dialog', (d) => void d.accept());
  b.on('dialog', (d) => void d.accept());

  // ---- sign-up (A in Korean, by the browser's language) and sign-in screens
  await a.goto(`${base}/app/`);
  await a.getByRole('heading', { name: '로그인' }).waitFor();
  check(new URL(a.url()).pathname === '/app/signin', `A landed on ${a.url()}`);
  await shot(a, 'signin');
  await a.getByRole('link', { name: '회원가입' }).click();
  await a.getByLabel('이메일').fill(A.email);
  await a.getByLabel('닉네임').fill(A.nickname);
  await a.getByLabel('비밀번호').fill(A.password);
  await shot(a, 'signup');
  await a.getByRole('button', { name: '회원가입' }).click();
  await a.getByRole('heading', { name: '채팅' }).waitFor();
  step('A signed up (Korean): rooms screen');

  await b.goto(`${base}/app/signup`);
  await b.getByLabel('Email').fill(B.email);
  await b.getByLabel('Nickname').fill(B.nickname);
  await b.getByLabel('Password').fill(B.password);
  await b.getByRole('button', { name: 'Sign up' }).click();
  await b.getByRole('heading', { name: 'Chats' }).waitFor();
  step('B signed up (English): rooms screen');

  // ---- friends: A finds B and asks; B accepts; both see it live
  await b.getByRole('link', { name: 'Friends' }).click();
  await b.getByRole('heading', { name: 'Friends', level: 1 }).waitFor();
  await a.getByRole('link', { name: '친구' }).click();
  await a.getByLabel('사람 찾기').fill(B.nickname);
  const bInSearch = a.getByRole('list', { name: '검색 결과' }).getByRole('listitem').filter({ hasText: B.nickname });
  await bInSearch.getByRole('button', { name: '친구 추가' }).click();
  await bInSearch.getByRole('button', { name: '요청 취소' }).waitFor();
  step('A sent B a friend request');
  const request = b.getByRole('list', { name: 'Requests to you' }).getByRole('listitem').filter({ hasText: A.nickname });
  await b.getByRole('heading', { name: 'Requests to you' }).waitFor();
  await shot(b, 'friends-request');
  await request.getByRole('button', { name: 'Accept' }).click();
  await b.getByRole('list', { name: 'Friends' }).getByRole('listitem').filter({ hasText: A.nickname }).getByRole('button', { name: 'Chat' }).waitFor();
  step('B accepted (the request arrived live)');
  await a.getByLabel('사람 찾기').fill('');
  const bAsFriend = a.getByRole('list', { name: '친구' }).getByRole('listitem').filter({ hasText: B.nickname });
  await bAsFriend.getByRole('button', { name: '채팅' }).waitFor();
  await shot(a, 'friends');
  step('A sees B as a friend (live)');

  // ---- a direct chat: B waits on the rooms list, A starts it and writes
  await b.getByRole('link', { name: 'Chats' }).click();
  await b.getByRole('heading', { name: 'Chats' }).waitFor();
  await bAsFriend.getByRole('button', { name: '채팅' }).click();
  await a.getByRole('heading', { name: B.nickname, level: 1 }).waitFor();
  const composerA = a.getByRole('textbox', { name: '메시지' });
  await composerA.fill('안녕하세요! 처음 인사드려요 👋');
  await composerA.press('Enter');
  const historyA = a.getByRole('log');
  await historyA.getByText('안녕하세요! 처음 인사드려요 👋').waitFor();
  const roomAtB = b.getByRole('link').filter({ hasText: A.nickname });
  await roomAtB.getByText('안녕하세요! 처음 인사드려요 👋').waitFor();
  await roomAtB.getByLabel('1 unread').waitFor();
  await shot(b, 'rooms');
  step('B sees the new room, its last message and 1 unread on the rooms list, live');

  await roomAtB.click();
  const historyB = b.getByRole('log');
  await historyB.getByText('안녕하세요! 처음 인사드려요 👋').waitFor();
  await historyA.getByText('읽음').waitFor();
  step('B opened the chat; A sees the read mark');
  const composerB = b.getByRole('textbox', { name: 'Message' });
  await composerB.fill('Hi! Nice to meet you');
  await a.getByText(`${B.nickname}님이 입력 중…`).waitFor();
  step('A sees B typing');
  // A refused send says why and gives the text back.
  const refusedSend = await refuseOnce(b, 'SendMessage', 'you cannot message this user');
  await composerB.press('Enter');
  await b.getByRole('alert').filter({ hasText: 'you cannot message this user' }).waitFor();
  check(refusedSend() && (await composerB.inputValue()) === 'Hi! Nice to meet you', 'the refused message is not back in B\'s composer');
  await composerB.press('Enter');
  await historyA.getByText('Hi! Nice to meet you').waitFor();
  await gone(b.getByRole('alert'), 'the refusal is still shown after the message went');
  step('B\'s message, refused once (B was told why), appeared in A\'s window, live');

  // ---- reply, reaction, edit, delete: each seen live by the other
  const hiAtA = historyA.getByRole('listitem').filter({ hasText: 'Hi! Nice to meet you' });
  await hiAtA.getByRole('button', { name: '답장' }).click();
  await composerA.fill('반가워요');
  await composerA.press('Enter');
  const replyAtB = historyB.getByRole('listitem').filter({ hasText: '반가워요' });
  await replyAtB.getByRole('blockquote').filter({ hasText: 'Hi! Nice to meet you' }).waitFor();
  await replyAtB.getByRole('button', { name: 'React 👍' }).click();
  await historyA.getByRole('listitem').filter({ hasText: '반가워요' }).getByRole('button', { name: '👍 1' }).waitFor();
  step('A replied to B (B sees the quote); B reacted 👍 (A sees it)');
  const helloAtA = historyA.getByRole('listitem').filter({ hasText: '처음 인사드려요' });
  await helloAtA.getByRole('button', { name: '수정' }).click();
  // (while it is edited, the message shows the form instead of its text)
  await historyA.getByLabel('수정').fill('안녕하세요! 반갑습니다 👋');
  // A refused edit says why, under the message, and keeps the form.
  const refusedEdit = await refuseOnce(a, 'EditMessage', 'you cannot message this user');
  await historyA.getByRole('button', { name: '저장' }).click();
  await historyA.getByRole('alert').filter({ hasText: 'you cannot message this user' }).waitFor();
  check(refusedEdit(), 'the edit was not refused');
  await historyA.getByRole('button', { name: '저장' }).click();
  await historyB.getByRole('listitem').filter({ hasText: '안녕하세요! 반갑습니다 👋' }).getByText('edited').waitFor();
  await gone(historyA.getByRole('alert'), 'the edit\'s refusal is still shown after it went through');
  await composerA.fill('잘못 보냈어요');
  await composerA.press('Enter');
  await historyB.getByText('잘못 보냈어요').waitFor();
  await historyA.getByRole('listitem').filter({ hasText: '잘못 보냈어요' }).getByRole('button', { name: '삭제' }).click();
  await historyB.getByText('This message was deleted.').waitFor();
  check(!(await historyB.getByText('잘못 보냈어요').count()), 'the deleted message is still shown to B');
  step('A edited and deleted messages; B saw both live');

  // ---- an image: thumbnail in the other window, full image in the viewer
  await a.getByLabel('파일이나 사진 첨부').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png(640, 480) });
  const thumb = historyB.getByRole('img', { name: 'sunset.png' });
  await thumb.waitFor();
  await b.waitForFunction((el) => el.complete && el.naturalWidth > 0, await thumb.elementHandle());
  const thumbSrc = await thumb.getAttribute('src');
  check(/\/thumbnails\//.test(thumbSrc ?? ''), `the thumbnail is ${thumbSrc}`);
  await shot(b, 'chat');
  await historyB.getByRole('button', { name: 'sunset.png' }).click();
  const viewer = b.getByRole('dialog', { name: 'sunset.png' });
  const full = viewer.getByRole('img', { name: 'sunset.png' });
  await full.waitFor();
  const natural = await b.waitForFunction((el) => el.complete && el.naturalWidth, await full.elementHandle());
  check((await natural.jsonValue()) === 640, `the full image is ${await natural.jsonValue()} px wide, want 640`);
  await shot(b, 'image-viewer');
  await viewer.getByRole('button', { name: 'Close' }).click();
  await viewer.waitFor({ state: 'hidden' });
  step('B saw the thumbnail and opened the full image (640 px)');

  // ---- a PDF with a Korean name: downloaded with that name
  const pdfName = '회의록 2026-11-30.pdf';
  await a.getByLabel('파일이나 사진 첨부').setInputFiles({ name: pdfName, mimeType: 'application/pdf', buffer: PDF });
  const pdfLink = historyB.getByRole('link', { name: new RegExp(pdfName.replace(/[.]/g, '\\.')) });
  await pdfLink.waitFor();
  const [download] = await Promise.all([b.waitForEvent('download'), pdfLink.click()]);
  check(download.suggestedFilename() === pdfName, `downloaded as ${JSON.stringify(download.suggestedFilename())}, want ${pdfName}`);
  const saved = await readFile(await download.path());
  check(saved.equals(PDF), `the downloaded PDF has ${saved.length} bytes, not the ${PDF.length} sent`);
  step(`B downloaded "${pdfName}" with its name and bytes`);

  // ---- 200 messages from B through the API; A pages back to the first
  // (A session of B's own for the seeding, renewed by signing in again: the
  // page's tokens may be about to expire, and under load the 200 sends can
  // outlast a 30-second token; the page's refresh token is left alone.)
  const roomId = new URL(a.url()).pathname.split('/').pop();
  const signInB = async () => ({
    at: Date.now(),
    token: (await gql('', 'mutation($in: SignInInput!) { signIn(input: $in) { accessToken } }',
      { in: { email: B.email, password: B.password } })).signIn.accessToken,
  });
  let seeder = await signInB();
  for (let i = 1; i <= 200; i++) {
    if (Date.now() - seeder.at > 10_000) seeder = await signInB();
    await gql(seeder.token, 'mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }', {
      in: { roomId, body: `seed ${i}`, clientId: `seed-${run}-${i}` },
    });
  }
  let t0 = Date.now();
  await historyA.getByText('seed 200', { exact: true }).waitFor({ timeout: 60_000 });
  step(`200 messages seeded; the newest arrived live in A (${Date.now() - t0} ms after the last send)`);
  await reload(a, 'A');
  await historyA.getByText('seed 200', { exact: true }).waitFor();
  const beginning = historyA.getByText('대화의 처음입니다.');
  for (let i = 0; i < 40 && !(await beginning.isVisible()); i++) {
    const before = await historyA.getByRole('listitem').count();
    await historyA.evaluate((el) => {
      el.scrollTop = 0;
    });
    await a
      .waitForFunction(
        ([n, el]) => el.querySelectorAll('li').length > n || el.textContent.includes('대화의 처음입니다.'),
        [before, await historyA.elementHandle()],
        { timeout: 5000 },
      )
      .catch(() => {});
  }
  await beginning.waitFor();
  await historyA.getByText('seed 1', { exact: true }).waitFor();
  const seeds = await historyA.getByText(/^seed \d+$/).count();
  check(seeds === 200, `A sees ${seeds} seeded messages after paging back, want 200`);
  step('A paged back through all 200 messages to the first');

  // ---- a group: A creates it with B; B leaves; A sees the system message
  await a.getByRole('link', { name: '채팅' }).first().click();
  await a.getByRole('heading', { name: '채팅' }).waitFor();
  await a.getByRole('button', { name: '새 그룹' }).click();
  const newGroup = a.getByRole('dialog', { name: '새 그룹' });
  await newGroup.getByLabel('그룹 이름').fill('주말 모임');
  await newGroup.getByRole('checkbox', { name: B.nickname }).check();
  await newGroup.getByRole('button', { name: '만들기' }).click();
  await a.getByRole('heading', { name: '주말 모임', level: 1 }).waitFor();
  step('A created the group "주말 모임" with B');
  await b.getByRole('link', { name: 'Back' }).click();
  const groupAtB = b.getByRole('link').filter({ hasText: '주말 모임' });
  await groupAtB.click();
  await b.getByRole('heading', { name: '주말 모임', level: 1 }).waitFor();
  await b.getByRole('button', { name: 'Leave' }).click();
  await b.getByRole('heading', { name: 'Chats' }).waitFor();
  check((await groupAtB.count()) === 0, 'the group is still on B\'s rooms list after leaving');
  await a.getByRole('log').getByRole('note').filter({ hasText: B.nickname }).waitFor();
  await shot(a, 'group');
  step('B left the group; A sees the system message live');

  // ---- profile, and switching the language
  await a.getByRole('link', { name: '프로필' }).click();
  await a.getByLabel('소개').fill('주말마다 등산해요');
  await a.getByRole('button', { name: '저장', exact: true }).click();
  await a.getByText('저장했습니다.').first().waitFor();
  await shot(a, 'profile');
  await b.getByRole('link', { name: 'Profile' }).click();
  await b.getByLabel('Language').selectOption('ko');
  await b.getByRole('heading', { name: '프로필' }).waitFor();
  step('A saved a bio; B switched to Korean');

  // ---- an access token that has expired: the app refreshes the session by itself
  const before = JSON.parse(await b.evaluate(() => localStorage.getItem('chatty.session')));
  await b.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('chatty.session'));
    s.accessTokenExpiresAt = new Date(Date.now() - 1000).toISOString();
    localStorage.setItem('chatty.session', JSON.stringify(s));
  });
  await reload(b, 'B');
  await b.getByLabel('소개').waitFor();
  const after = JSON.parse(await b.evaluate(() => localStorage.getItem('chatty.session')));
  check(after && after.refreshToken !== before.refreshToken && Date.parse(after.accessTokenExpiresAt) > Date.now(),
    'an expired access token was not refreshed');
  step('B\'s expired access token was refreshed through refreshSession');

  // ---- a refresh the server can't make just now (UNAVAILABLE: the database
  // busy, say) keeps B signed in, on the token B holds; only UNAUTHENTICATED
  // (the session ended) signs out.
  await b.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('chatty.session'));
    s.obtainedAt = Date.now() - 30_000;
    s.accessTokenExpiresAt = new Date(Date.now() + 5_000).toISOString(); // due for a refresh, still good
    localStorage.setItem('chatty.session', JSON.stringify(s));
  });
  let busyRefreshes = 0;
  const busy = async (route) => {
    if (busyRefreshes === 0 && isRefresh(route.request())) {
      busyRefreshes++;
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ errors: [{ message: 'the server is busy: try again shortly', extensions: { code: 'UNAVAILABLE' } }], data: null }),
      });
      return;
    }
    await route.continue();
  };
  await b.route('**/graphql', busy);
  await reload(b, 'B');
  await b.getByLabel('소개').waitFor();
  await b.unroute('**/graphql', busy);
  const kept = JSON.parse(await b.evaluate(() => localStorage.getItem('chatty.session')));
  check(busyRefreshes === 1, `the app asked for ${busyRefreshes} refreshes, want 1 (answered UNAVAILABLE)`);
  check(kept && kept.userId === after.userId && kept.refreshToken === after.refreshToken,
    'a refresh answered UNAVAILABLE signed B out');
  step('a refresh answered UNAVAILABLE kept B signed in');

  // ---- first render of the rooms list (measured, not asserted)
  await b.getByRole('link', { name: '채팅' }).first().click();
  await b.getByRole('heading', { name: '채팅' }).waitFor();
  const timings = [];
  for (let i = 0; i < 3; i++) {
    await reload(b, 'B');
    await b.getByRole('link').filter({ hasText: A.nickname }).waitFor();
    timings.push(await b.evaluate(() => Math.round(performance.now())));
  }
  step(`rooms list rendered with its rooms ${timings.join(' / ')} ms after navigation start (reloads; budget 1000 ms)`);

  // ---- with short-lived access tokens (TestNodeClients gives 30 s), the
  // server closed the sockets (4403) on the way and the app reconnected,
  // resuming roomEvents: the live checks above ran across reconnects.
  const sa = JSON.parse(await a.evaluate(() => localStorage.getItem('chatty.session')));
  const ttl = Date.parse(sa.accessTokenExpiresAt) - sa.obtainedAt;
  const took = Date.now() - started;
  step(`access tokens live ~${Math.round(ttl / 1000)} s; run took ${Math.round(took / 1000)} s; ` +
    `WebSockets opened: A ${sockets.A} (${reconnects.A ?? 0} reconnects), B ${sockets.B} (${reconnects.B ?? 0} reconnects)`);
  if (ttl < 60_000 && took > 2 * ttl) {
    check((reconnects.A ?? 0) + (reconnects.B ?? 0) > 0, 'the access tokens expired but no page reconnected its WebSocket');
  }

  // ---- sign out
  await a.getByRole('button', { name: '로그아웃' }).click();
  await a.getByRole('heading', { name: '로그인' }).waitFor();
  step('A signed out');
} catch (e) {
  problem(e.stack || String(e));
  if (shots && browser) {
    for (const [i, ctx] of browser.contexts().entries()) {
      for (const p of ctx.pages()) await p.screenshot({ path: join(shots, `failed-${i ? 'B' : 'A'}.png`) }).catch(() => {});
    }
  }
} finally {
  await browser?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true });
  clearTimeout(overall);
}
if (problems.length) {
  console.error(`FAIL: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log('PASS');
