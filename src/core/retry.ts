import { CommandError } from './errors.js';

/**
 * Runs f, and while it fails because something is busy (a mount whose last
 * user is just exiting: CommandError reason 'busy', decided at the door),
 * tries again up to `attempts` times, waiting `stepMs` × attempt in between.
 * Any other failure is thrown at once.
 */
export async function retryWhileBusy<T>(f: () => Promise<T>, attempts: number, stepMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      const busy = e instanceof CommandError ? e.reason === 'busy' : (e as NodeJS.ErrnoException)?.code === 'EBUSY';
      if (!busy || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, stepMs * attempt));
    }
  }
}
