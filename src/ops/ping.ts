// Pings to a monitoring service at the start and at the end of a run.
//
// Healthchecks style (the default): URL/start at the start, URL on success,
// URL/EXITCODE on failure (URL/fail when there is no code), the last lines of
// the log as the POST body.
// Template style, when the URL holds a placeholder: {status} (up or down, the
// words of Uptime Kuma's push API), {event} (start, success, fail),
// {exit_code}, {job}, {message} (one line). A template URL is pinged at the
// start only when it holds {event}, so that a push monitor is not marked down
// by a start. It is fetched with GET when it carries {message} itself (Uptime
// Kuma), else POSTed with the message as the body (ntfy).
//
// A ping never changes the run's outcome: a failure is a warning that names
// the job and the reason, never the URL (it holds a secret token).

export type PingEvent = 'start' | 'success' | 'fail';

export interface PingInfo {
  job: string;
  exitCode?: number;
  status?: string;
  /** One line for the template form. */
  message?: string;
  /** The log's last lines: the body of a Healthchecks ping. */
  log?: string;
}

export interface PingOptions {
  timeoutMs?: number;
  /** Tries in all, the first included. */
  attempts?: number;
  /** Wait before try n+1: backoffMs * 2^(n-1). */
  backoffMs?: number;
  warn: (message: string) => void;
}

const PLACEHOLDER = /\{(status|event|exit_code|job|message)\}/;

export function isTemplate(url: string): boolean {
  return PLACEHOLDER.test(url);
}

export interface PingRequest {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
}

/** The request for this event, or null when this form sends nothing for it. */
export function pingRequest(url: string, event: PingEvent, info: PingInfo): PingRequest | null {
  if (isTemplate(url)) {
    if (event === 'start' && !url.includes('{event}')) return null;
    const values: Record<string, string> = {
      status: event === 'fail' ? 'down' : 'up',
      event,
      exit_code: info.exitCode === undefined ? '' : String(info.exitCode),
      job: info.job,
      message: info.message ?? '',
    };
    const filled = url.replace(new RegExp(PLACEHOLDER.source, 'g'), (_, k: string) => encodeURIComponent(values[k]!));
    return url.includes('{message}') ? { url: filled, method: 'GET' } : { url: filled, method: 'POST', body: info.message ?? '' };
  }
  const base = url.replace(/\/+$/, '');
  const suffix = event === 'start' ? '/start' : event === 'success' ? '' : info.exitCode ? `/${info.exitCode}` : '/fail';
  return { url: base + suffix, method: 'POST', body: event === 'start' ? '' : info.log ?? '' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why a try failed, in words that cannot contain the URL. */
function reason(e: unknown): string {
  const err = e as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (err.name === 'TimeoutError' || err.cause?.name === 'TimeoutError') return 'timed out';
  const code = err.cause?.code ?? err.code;
  return code ? String(code) : 'request failed';
}

/** Sends one ping with retries; resolves true when it was delivered. Never throws. */
export async function ping(url: string, event: PingEvent, info: PingInfo, o: PingOptions): Promise<boolean> {
  let req: PingRequest | null;
  try {
    req = pingRequest(url, event, info);
  } catch {
    o.warn(`ping (${event}) for job ${info.job}: the ping URL is not valid`);
    return false;
  }
  if (!req) return true;
  const attempts = o.attempts ?? 3;
  let why = '';
  for (let n = 1; n <= attempts; n++) {
    try {
      const res = await fetch(req.url, {
        method: req.method,
        body: req.method === 'POST' ? req.body : undefined,
        headers: req.method === 'POST' ? { 'content-type': 'text/plain; charset=utf-8' } : {},
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
        redirect: 'follow',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      why = `HTTP ${res.status}`;
      // A client error will not change on retry (a wrong check id, say).
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch (e) {
      why = reason(e);
    }
    if (n < attempts) await sleep((o.backoffMs ?? 1000) * 2 ** (n - 1));
  }
  o.warn(`ping (${event}) for job ${info.job} failed: ${why}; the backup's result is unchanged`);
  return false;
}

/** Keeps the last lines of what a run printed, for the ping body. */
export class LogTail {
  private lines: string[] = [];
  constructor(
    private readonly maxLines = 50,
    private readonly maxBytes = 10_000,
  ) {}

  push(text: string): void {
    for (const l of text.split('\n')) if (l !== '') this.lines.push(l);
    if (this.lines.length > this.maxLines) this.lines = this.lines.slice(-this.maxLines);
  }

  text(): string {
    let out = this.lines.join('\n');
    while (Buffer.byteLength(out) > this.maxBytes && this.lines.length > 1) {
      this.lines.shift();
      out = this.lines.join('\n');
    }
    return out ? out + '\n' : '';
  }
}
