import { CommandError } from './errors.js';

/**
 * Runs f, and while it fails because something is busy (a mount whose last
 * user is just exiting), tries again up to `attempts` times, waiting
 * `stepMs` × attempt in between. Any other failure is thrown at once.
 */
export async function retryWhileBusy<T>(f: () => Promise<T>, attempts: number, stepMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      const text = e instanceof CommandError ? e.stderr : (e as Error).message;
      if (!/busy/i.test(text) || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, stepMs * attempt));
    }
  }
}
