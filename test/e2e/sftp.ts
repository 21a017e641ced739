// A repository host in the guest, as a NAS or a backup host gives one: an
// account that is not root, reached over SFTP by Debian's OpenSSH server on
// the loopback with a key of its own, under a Host alias in root's ssh
// configuration, so that restic reaches it as `sftp:ALIAS:/path` and runs
// `ssh ALIAS -s sftp` exactly as it would for a real offsite host.
//
// root's ~/.ssh/config is written (ssh reads it from the account's home, not
// from $HOME): acceptable only in the rig's guest, a throw-away VM booted from
// a snapshot=on image, so this refuses to run elsewhere; what was there before
// is put back by teardown() all the same.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { IN_GUEST, sh, shOk, sleep } from './lib.js';

export const SFTP_SKIP = IN_GUEST ? false : 'an SFTP repository writes root\'s ~/.ssh/config: only in the rig\'s throw-away guest (ZFSVM=1)';

const SSH_DIR = '/root/.ssh';
const SSH_CONFIG = `${SSH_DIR}/config`;

/** A TCP port free on the loopback now. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolvePort(a.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      done(true);
    });
    c.once('error', () => done(false));
  });
}

/** Asks `p` to stop, unless it already has, and waits until it has exited. */
async function ended(p: ChildProcess | null, stop: () => unknown): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  stop();
  await gone;
}

export class SftpHost {
  private sshd: ChildProcess | null = null;
  /** The connection every session goes through (ControlPath), while the host is up. */
  private master: ChildProcess | null = null;
  private savedConfig: string | null = null;
  readonly home: string;
  readonly log: string;
  private readonly sshdConfig: string;

  private constructor(
    /** The ssh Host alias restic is given: `sftp:ALIAS:/path`. */
    readonly alias: string,
    /** The account on the repository host (not root). */
    readonly user: string,
    readonly port: number,
    private readonly dir: string,
  ) {
    this.home = `${dir}/home/${user}`;
    this.log = `${dir}/sshd.log`;
    this.sshdConfig = `${dir}/sshd/sshd_config`;
  }

  /**
   * In `dir` (a test directory): the account `user` with its home there, a
   * client key for root authorised for it, sshd's own host key and
   * configuration, root's Host `alias`; then sshd is started. Call
   * teardown() when the test ends, passed or failed.
   */
  static async create(dir: string, alias = 'offsite', user = 'ktoffsite'): Promise<SftpHost> {
    if (!IN_GUEST) throw new Error(String(SFTP_SKIP));
    const h = new SftpHost(alias, user, await freePort(), dir);
    try {
      h.setUp();
      await h.start();
    } catch (e) {
      h.teardown();
      throw e;
    }
    return h;
  }

  private setUp(): void {
    const { dir, user, home } = this;
    // The account: a password no one can use ('*', not '!': without PAM sshd
    // refuses an account whose password is locked with '!').
    if (!shOk('id', '-u', user)) sh('useradd', '-M', '-d', home, '-s', '/bin/sh', '-p', '*', user);
    // Its home's parents open to it (a recursive mkdir would give them the home's mode).
    mkdirSync(`${dir}/home`, { recursive: true, mode: 0o755 });
    mkdirSync(`${home}/.ssh`, { recursive: true, mode: 0o700 });

    // root's key and the known host key, in the test directory rather than root's ~/.ssh.
    const client = `${dir}/client`;
    mkdirSync(client, { recursive: true, mode: 0o700 });
    sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kopiatomic-e2e-root', '-f', `${client}/id_ed25519`);
    writeFileSync(`${home}/.ssh/authorized_keys`, readFileSync(`${client}/id_ed25519.pub`));
    // sshd's StrictModes: the home, ~/.ssh and the key file the account's own and closed to others.
    chmodSync(home, 0o700);
    chmodSync(`${home}/.ssh`, 0o700);
    chmodSync(`${home}/.ssh/authorized_keys`, 0o600);
    sh('chown', '-R', `${user}:`, home);

    const sshd = `${dir}/sshd`;
    mkdirSync(sshd, { recursive: true, mode: 0o700 });
    sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kopiatomic-e2e-host', '-f', `${sshd}/host_ed25519`);
    const hostKey = readFileSync(`${sshd}/host_ed25519.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(`${client}/known_hosts`, `[127.0.0.1]:${this.port} ${hostKey}\n`);
    writeFileSync(
      this.sshdConfig,
      [
        `ListenAddress 127.0.0.1:${this.port}`,
        `HostKey ${sshd}/host_ed25519`,
        `PidFile ${sshd}/sshd.pid`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin no',
        `AllowUsers ${user}`,
        'UsePAM no',
        'StrictModes yes',
        // In sshd itself: the account's shell is never started.
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    // Privilege separation needs it; /run is a tmpfs in the guest.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sh('/usr/sbin/sshd', '-t', '-f', this.sshdConfig);

    // root's Host alias, as an operator writes it for a backup host.
    mkdirSync(SSH_DIR, { recursive: true, mode: 0o700 });
    this.savedConfig = existsSync(SSH_CONFIG) ? readFileSync(SSH_CONFIG, 'utf8') : '';
    const block = [
      `# kopiatomic e2e: the offsite repository host of a test (removed when it ends)`,
      `Host ${this.alias}`,
      '  HostName 127.0.0.1',
      `  Port ${this.port}`,
      `  User ${user}`,
      `  IdentityFile ${client}/id_ed25519`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${client}/known_hosts`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  ConnectTimeout 10',
      // Every session through one connection that start() opens: under
      // emulation a new connection's key exchange and sshd's re-exec cost 3-5 s
      // on each restic command, most of this test's time.
      // (Short: a socket's path has at most 107 bytes, and ssh adds 17 while making it.)
      `  ControlPath ${SSH_DIR}/kt-e2e-%C`,
      '  ControlMaster no',
      '',
    ].join('\n');
    // First: ssh takes the first value it reads for each option.
    writeFileSync(SSH_CONFIG, block + this.savedConfig, { mode: 0o600 });
  }

  /** A directory the account owns, made now: `sftp:ALIAS:` + path is a repository there. */
  dirFor(name: string): string {
    const p = `${this.home}/${name}`;
    mkdirSync(p, { recursive: true, mode: 0o700 });
    sh('chown', `${this.user}:`, p);
    return p;
  }

  url(path: string): string {
    return `sftp:${this.alias}:${path}`;
  }

  /** Starts sshd (again), waits until it accepts connections, and opens the shared connection. */
  async start(): Promise<void> {
    if (this.sshd) return;
    const p = spawn('/usr/sbin/sshd', ['-D', '-f', this.sshdConfig, '-E', this.log], { stdio: 'ignore' });
    this.sshd = p;
    const end = Date.now() + 20_000;
    while (!(await accepts(this.port))) {
      if (p.exitCode !== null || Date.now() > end) {
        this.sshd = null;
        throw new Error(`sshd did not start on 127.0.0.1:${this.port}: ${existsSync(this.log) ? readFileSync(this.log, 'utf8') : 'no log'}`);
      }
      await sleep(100);
    }
    const m = spawn('ssh', ['-M', '-N', '-o', 'ControlPersist=no', this.alias], { stdio: 'ignore' });
    this.master = m;
    const ready = Date.now() + 60_000;
    while (!shOk('ssh', '-O', 'check', this.alias)) {
      if (m.exitCode !== null || Date.now() > ready) {
        this.master = null;
        throw new Error(`the shared ssh connection to ${this.alias} did not open (exit ${m.exitCode}): ${existsSync(this.log) ? readFileSync(this.log, 'utf8').slice(-2000) : 'no log'}`);
      }
      await sleep(200);
    }
  }

  /** Closes the shared connection and stops sshd: the repository host is unreachable (connection refused) until start(). */
  async stop(): Promise<void> {
    const m = this.master;
    this.master = null;
    await ended(m, () => shOk('ssh', '-O', 'exit', this.alias) || m?.kill('SIGTERM'));
    const p = this.sshd;
    if (!p) return;
    this.sshd = null;
    await ended(p, () => p.kill('SIGTERM'));
    // The listener is gone with it; sessions it forked end when their client does.
    const end = Date.now() + 10_000;
    while ((await accepts(this.port)) && Date.now() < end) await sleep(100);
  }

  /** sshd stopped, root's ssh configuration as it was, the account removed. */
  teardown(): void {
    if (this.master && this.master.exitCode === null) this.master.kill('SIGKILL');
    this.master = null;
    if (this.sshd && this.sshd.exitCode === null) this.sshd.kill('SIGKILL');
    this.sshd = null;
    if (this.savedConfig !== null) {
      if (this.savedConfig) writeFileSync(SSH_CONFIG, this.savedConfig, { mode: 0o600 });
      else rmSync(SSH_CONFIG, { force: true });
      this.savedConfig = null;
    }
    shOk('userdel', this.user);
  }
}
