// Pings against a real HTTP server on 127.0.0.1, started here.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { reportRunEnd, reportRunStart } from '../../src/ops/report-run.js';
import { LogTail, ping, pingRequest } from '../../src/ops/ping.js';
import { record } from './ops-helpers.js';

interface Hit {
  method: string;
  url: string;
  body: string;
}
let server: Server;
let base = '';
const hits: Hit[] = [];
let failNext = 0; // answer 500 to this many requests

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString('utf8')));
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, body });
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end('no');
      } else res.writeHead(200).end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const fast = { timeoutMs: 2000, attempts: 3, backoffMs: 10 };

function ops(url: string, warnings: string[]) {
  return { job: 'home', pingUrl: url, statusFile: null, metricsFile: null, warn: (m: string) => warnings.push(m), ping: fast };
}

test('good run: start, then success with the log as the body', async () => {
  hits.length = 0;
  const warnings: string[] = [];
  const url = `${base}/ping/0f3c-secret-uuid`;
  await reportRunStart(ops(url, warnings));
  const tail = new LogTail(3);
  tail.push('line 1\nline 2\nline 3\nline 4\n');
  await reportRunEnd(ops(url, warnings), record(), tail.text());
  assert.deepEqual(
    hits.map((h) => [h.method, h.url]),
    [
      ['POST', '/ping/0f3c-secret-uuid/start'],
      ['POST', '/ping/0f3c-secret-uuid'],
    ],
  );
  assert.equal(hits[1]!.body, 'line 2\nline 3\nline 4\n');
  assert.deepEqual(warnings, []);
});

test('failing run: start, then URL/EXITCODE; a 500 is retried', async () => {
  hits.length = 0;
  const warnings: string[] = [];
  const url = `${base}/ping/abc/`;
  await reportRunStart(ops(url, warnings));
  failNext = 1;
  await reportRunEnd(ops(url, warnings), record({ status: 'backup-failed', exitCode: 1 }), 'restic: fatal\n');
  assert.deepEqual(
    hits.map((h) => h.url),
    ['/ping/abc/start', '/ping/abc/1', '/ping/abc/1'],
  );
  assert.equal(hits[2]!.body, 'restic: fatal\n');
  assert.deepEqual(warnings, []);
  hits.length = 0;
  await reportRunEnd(ops(url, warnings), record({ status: 'interrupted', exitCode: 143 }));
  assert.deepEqual(hits.map((h) => h.url), ['/ping/abc/143']);
});

test('a dead server only warns, names the job and not the URL; the record is still written', async () => {
  // A port that was just free: nothing listens there.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const url = `http://127.0.0.1:${port}/ping/very-secret-token`;
  const warnings: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'kt-ping-'));
  await reportRunStart(ops(url, warnings));
  const stored = await reportRunEnd({ ...ops(url, warnings), statusFile: join(dir, 'status.json') }, record());
  assert.equal(warnings.length, 2);
  for (const w of warnings) {
    assert.match(w, /job home/);
    assert.match(w, /ECONNREFUSED/);
    assert.doesNotMatch(w, /very-secret-token|127\.0\.0\.1|http/);
  }
  assert.equal(stored.status, 'ok');
  assert.equal(JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).jobs.home.exitCode, 0);
});

test('a server that does not answer times out and only warns', async () => {
  const silent = createServer(() => {
    /* never answers */
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/x`;
  const warnings: string[] = [];
  const ok = await ping(url, 'success', { job: 'home' }, { timeoutMs: 200, attempts: 2, backoffMs: 10, warn: (m) => warnings.push(m) });
  silent.closeAllConnections();
  silent.close();
  assert.equal(ok, false);
  assert.match(warnings[0]!, /job home failed: timed out/);
});

test('template form: Uptime Kuma push (GET, no start ping) and ntfy (POST body)', async () => {
  hits.length = 0;
  const warnings: string[] = [];
  const kuma = `${base}/api/push/TOKEN?status={status}&msg={message}&job={job}`;
  await reportRunStart(ops(kuma, warnings));
  assert.equal(hits.length, 0, 'no start ping without {event}');
  await reportRunEnd(ops(kuma, warnings), record({ status: 'backup-failed', exitCode: 1 }));
  assert.equal(hits.length, 1);
  assert.equal(hits[0]!.method, 'GET');
  const q = new URL(hits[0]!.url, base).searchParams;
  assert.equal(q.get('status'), 'down');
  assert.equal(q.get('job'), 'home');
  assert.match(q.get('msg')!, /home on nas: backup-failed \(exit 1\)/);

  hits.length = 0;
  const ntfy = `${base}/kopiatomic?title=backup+{job}+{event}+{exit_code}`;
  await reportRunStart(ops(ntfy, warnings));
  await reportRunEnd(ops(ntfy, warnings), record());
  assert.deepEqual(
    hits.map((h) => [h.method, new URL(h.url, base).searchParams.get('title')]),
    [
      ['POST', 'backup home start '],
      ['POST', 'backup home success 0'],
    ],
  );
  assert.match(hits[1]!.body, /home on nas: ok \(exit 0\)/);
  assert.deepEqual(warnings, []);
});

test('request shapes', () => {
  assert.deepEqual(pingRequest('https://hc/ping/u', 'fail', { job: 'j' }), { url: 'https://hc/ping/u/fail', method: 'POST', body: '' });
  assert.equal(pingRequest('https://k/p?status={status}', 'start', { job: 'j' }), null);
  assert.equal(pingRequest('https://k/p?e={event}&j={job}', 'start', { job: 'a b' })!.url, 'https://k/p?e=start&j=a%20b');
});
