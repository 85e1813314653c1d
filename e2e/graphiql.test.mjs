// GraphiQL in a real browser: headless Chromium opens chatty's page (served
// from files embedded in the binary, no CDN), a query is put into the editor,
// the run button is clicked and the result pane must show the answer; the
// settings dialog is opened and closed. Any
// console error, CSP violation, page error, failed request or request to
// another origin fails the run.
//
// Usage: node graphiql.test.mjs <baseURL>   (exit 0 = pass)
// Needs Debian's chromium at /usr/bin/chromium (or CHROMIUM=/path).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!base) {
  console.error('usage: node graphiql.test.mjs <baseURL>');
  process.exit(2);
}
const origin = new URL(base).origin;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  // Exit code 77 means "skipped" to TestNodeClients (a failure in CI).
  console.error(`SKIP: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
  process.exit(77);
}
const QUERY = '{ viewer { id } __typename }';
const EXPECT = '"__typename": "Query"';

const overall = setTimeout(() => {
  console.error('FAIL: timed out after 60 s');
  process.exit(1);
}, 60_000);

const problems = [];
const problem = (msg) => {
  problems.push(msg);
  console.error(`  problem: ${msg}`);
};
const step = (msg) => console.log(`- ${msg}`);

let context;
const profile = await mkdtemp(join(tmpdir(), 'chatty-graphiql-'));
try {
  // The redirect from the old playground path.
  const res = await fetch(`${base}/playground`, { redirect: 'manual' });
  const loc = res.headers.get('location');
  if (res.status < 300 || res.status > 399 || new URL(loc ?? '', base).href !== `${origin}/`) {
    throw new Error(`GET /playground: want a redirect to /, got ${res.status} location=${loc}`);
  }
  step(`GET /playground -> ${res.status} ${loc}`);

  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  step(`launched ${executablePath} ${context.browser()?.version() ?? ''} with profile ${profile}`.trim());
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);

  // Chromium reports CSP violations as console errors; the listener below
  // also catches any the console would not show.
  await page.exposeFunction('__reportCSP', (v) =>
    problem(`CSP violation: ${v.directive} blocked ${v.blocked} (${v.source})`),
  );
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCSP({
        directive: e.violatedDirective,
        blocked: e.blockedURI,
        source: `${e.sourceFile}:${e.lineNumber}`,
      }),
    );
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problem(`console error: ${m.text()}`);
    else if (/content security policy/i.test(m.text())) problem(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problem(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problem(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol.startsWith('http') && u.origin !== origin) problem(`request to another origin: ${r.url()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problem(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });

  const main = await page.goto(`${base}/`, { waitUntil: 'load' });
  step(`opened ${base}/ -> ${main?.status()}, CSP: ${main?.headers()['content-security-policy']}`);
  if (main?.status() !== 200) throw new Error(`GET / answered ${main?.status()}`);

  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ state: 'visible' });
  step('GraphiQL editor is visible');

  // Put the query in through CodeMirror (typing would fight its
  // bracket auto-closing and hints), then check the editor shows it.
  await page.evaluate((q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q), QUERY);
  const shown = (await page.locator('.graphiql-query-editor .CodeMirror-code').innerText()).trim();
  if (!shown.includes('__typename')) throw new Error(`editor shows ${JSON.stringify(shown)} after setting the query`);
  step(`set the query: ${QUERY}`);

  await page.locator('button.graphiql-execute-button').click();
  step('clicked the run button');

  await page
    .locator('.graphiql-response .CodeMirror-line', { hasText: EXPECT })
    .waitFor({ state: 'visible' });
  const result = (await page.locator('.graphiql-response .CodeMirror-code').innerText()).replace(/\s+/g, ' ').trim();
  step(`result pane: ${result}`);
  const want = /"viewer":\s*null/;
  if (!want.test(result)) throw new Error(`result pane lacks "viewer": null: ${result}`);

  // A subscription from GraphiQL, authenticated by the Headers tab: the
  // page user A listens to a room; B sends over HTTP until it shows.
  const gql = async (token, query, variables) => {
    const r = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = await r.json();
    if (body.errors) throw new Error(`${query.slice(0, 40)}…: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  const signUp = async (nickname) => {
    const email = `${nickname}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    const d = await gql(null, 'mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }', {
      i: { email, password: 'correct horse battery', nickname },
    });
    return { token: d.signUp.accessToken, id: d.signUp.user.id };
  };
  const a = await signUp('브라우저');
  const b = await signUp('보내는이');
  const room = (await gql(a.token, 'mutation($m: [ID!]!) { createRoom(input: {memberIds: $m}) { id } }', { m: [b.id] })).createRoom.id;
  await gql(a.token, 'mutation($r: ID!) { sendMessage(input: {roomId: $r, body: "first"}) { id } }', { r: room });
  const cursor = (await gql(a.token, 'query($r: ID!) { room(id: $r) { messages(last: 1) { edges { cursor } } } }', { r: room }))
    .room.messages.edges[0].cursor;
  step(`signed up two users over HTTP; room ${room}`);

  await page.getByRole('button', { name: 'Headers' }).click();
  const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
  await headersEditor.waitFor({ state: 'visible' });
  await page.evaluate(
    (h) => document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(h),
    JSON.stringify({ Authorization: `Bearer ${a.token}` }),
  );
  const subscription = `subscription { messageAdded(roomId: "${room}", after: "${cursor}") { body sender { nickname } } }`;
  await page.evaluate((q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q), subscription);
  // GraphiQL parses the editor's document 100 ms after an edit and sends
  // an operation over the WebSocket only once it knows it is a
  // subscription; a run before that goes over HTTP, which chatty refuses
  // (400, "a subscription needs a WebSocket"). A person is not that fast.
  await page.waitForTimeout(500);
  await page.locator('button.graphiql-execute-button').click();
  step('started messageAdded in GraphiQL with the token in the Headers tab');

  const live = '안녕 GraphiQL 👋';
  const shows = page.locator('.graphiql-response .CodeMirror-line', { hasText: live });
  for (let i = 0; ; i++) {
    await gql(b.token, 'mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { id } }', { r: room, b: live });
    try {
      await shows.waitFor({ state: 'visible', timeout: 1000 });
      break;
    } catch (e) {
      if (i >= 10) throw new Error(`the subscription showed nothing: ${await page.locator('.graphiql-response').innerText()}`);
    }
  }
  const event = (await page.locator('.graphiql-response .CodeMirror-code').innerText()).replace(/\s+/g, ' ').trim();
  if (!event.includes('보내는이')) throw new Error(`the event lacks the sender: ${event}`);
  step(`GraphiQL received it live: ${event}`);
  await page.locator('button.graphiql-execute-button').click(); // stop the subscription

  // A dialog: GraphiQL then adds a <style> element (scroll lock) that only
  // the CSP's style nonce lets through.
  await page.locator('button[aria-label="Open settings dialog"]').click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  step('opened and closed the settings dialog');

  // Let late errors (e.g. from the schema fetch) surface.
  await page.waitForTimeout(300);
  if (problems.length) throw new Error(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  console.log('PASS: GraphiQL ran a query and a live subscription');
} catch (err) {
  console.error(`FAIL: ${err.message}`);
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true }).catch(() => {});
  clearTimeout(overall);
}
