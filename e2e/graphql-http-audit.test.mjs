// Runs graphql-http's GraphQL-over-HTTP conformance audit against chatty's
// /graphql endpoint. Every result is printed; a failed MUST requirement
// (status "error") fails the script, SHOULD/MAY ones ("warn", "notice") are
// only counted.
//
// Usage: node graphql-http-audit.test.mjs <baseURL>
import { auditServer } from 'graphql-http';

const baseURL = process.argv[2];
if (!baseURL) {
  console.error('usage: node graphql-http-audit.test.mjs <baseURL>');
  process.exit(2);
}

const results = await auditServer({ url: new URL('/graphql', baseURL).toString() });

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const r of results) {
  counts[r.status] = (counts[r.status] ?? 0) + 1;
  let line = `${r.status.padEnd(6)} ${r.id} ${r.name}`;
  if (r.status !== 'ok') {
    line += `\n       reason: ${r.reason}`;
    if (r.response) {
      let body = '';
      try {
        body = await r.response.text();
      } catch {
        // the audit may already have read the body
      }
      line += `\n       response: ${r.response.status} ${r.response.headers.get('content-type') ?? ''} ${body.slice(0, 300)}`;
    }
  }
  console.log(line);
}

console.log(
  `\n${results.length} audits: ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn (SHOULD/MAY), ${counts.error} error (MUST)`,
);
if (counts.error > 0) {
  console.error(`${counts.error} MUST requirement(s) of GraphQL over HTTP failed`);
  process.exit(1);
}
