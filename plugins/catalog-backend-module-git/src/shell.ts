import {
  ChildProcess,
  ChildProcessWithoutNullStreams,
  spawn,
} from 'node:child_process';
import { setPriority } from 'node:os';

/**
 * Keeps Node's event loop alive for a long-lived helper process only while it has work in flight, so
 * that an idle helper never holds the backend (or a test run) open at exit.
 */
export function holdWhileBusy(child: ChildProcess, busy: boolean) {
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
    const held = handle as { ref?(): void; unref?(): void } | null;
    if (busy) held?.ref?.();
    else held?.unref?.();
  }
}

/**
 * Gives a helper the lowest CPU priority, which the processes it starts inherit: on a busy host,
 * fetches yield to the backend's own thread, which serves requests and feeds the catalog's processing
 * of what was fetched. Sixteen fetches at once at nice 10 still outweighed that one thread.
 */
export function runInBackground(child: ChildProcess) {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, 19);
  } catch {
    // It has already ended; its exit is reported where it is awaited.
  }
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * A long-lived `sh` that starts commands for the backend. Forking a backend of a gigabyte costs its main
 * thread several milliseconds per process; the shell forks for it at a fraction of that, off the thread
 * that also serves the catalog.
 */
export class CommandShell {
  private shell?: ChildProcessWithoutNullStreams;
  private nextId = 0;
  private readonly running = new Map<
    number,
    { resolve: (code: number) => void; reject: (error: Error) => void }
  >();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /**
   * Runs `command` with `args` in `cwd`, its standard output discarded and its errors written to
   * `errorFile`; resolves to its exit code (124 when `timeoutSeconds` passed).
   */
  run(options: {
    command: string;
    args: string[];
    cwd: string;
    errorFile: string;
    timeoutSeconds: number;
  }): Promise<number> {
    const { command, args, cwd, errorFile, timeoutSeconds } = options;
    const id = this.nextId++;
    const shell = this.start();
    return new Promise((resolve, reject) => {
      this.running.set(id, { resolve, reject });
      if (this.running.size === 1) holdWhileBusy(shell, true);
      shell.stdin.write(
        `( cd ${quote(cwd)} && timeout -k 5 ${timeoutSeconds} ${[
          command,
          ...args,
        ]
          .map(quote)
          .join(' ')} >/dev/null 2>${quote(errorFile)}; echo "${id} $?" ) &\n`,
      );
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.shell) return this.shell;
    const shell = spawn('sh', ['-s'], { env: this.env });
    runInBackground(shell);
    let pending = '';
    shell.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [id, code] = line.split(' ').map(Number);
        this.running.get(id)?.resolve(code);
        this.running.delete(id);
      }
      if (this.running.size === 0) holdWhileBusy(shell, false);
    });
    shell.stdin.on('error', () => {});
    shell.on('close', () => {
      this.shell = undefined;
      for (const { reject } of this.running.values()) {
        reject(new Error('the command shell ended'));
      }
      this.running.clear();
    });
    this.shell = shell;
    return shell;
  }
}
