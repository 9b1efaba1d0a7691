/**
 * A tiny request/reply protocol between the benchmark and its helper processes: one JSON object
 * per line, requests on the child's stdin, replies on its stdout prefixed with `@rpc ` (so other
 * stdout lines, like a ready line, can coexist). A child exits when its stdin closes, so helpers
 * never outlive the benchmark that started them.
 */
import type { ChildHandle } from './processes.js';

/** The prefix that marks a reply line on a child's stdout. */
export const RPC_PREFIX = '@rpc ';

interface Request {
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** The benchmark's side: calls commands of one child. */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly child: ChildHandle) {
    child.onStdout((line) => {
      if (!line.startsWith(RPC_PREFIX)) return;
      let reply: Reply;
      try {
        reply = JSON.parse(line.slice(RPC_PREFIX.length)) as Reply;
      } catch {
        return;
      }
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new Error(`${child.name}: ${reply.error}`));
    });
    void child.exited.then((status) => {
      for (const p of this.pending.values())
        p.reject(new Error(`${child.name} exited (${status})\n${child.stderrText()}`));
      this.pending.clear();
    });
  }

  /** Runs `cmd` in the child; rejects on its error, its exit, or after `timeoutMs`. */
  call<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(`${this.child.name}: '${cmd}' got no reply within ${timeoutMs} ms\n${this.child.stderrText()}`),
        );
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const req: Request = { id, cmd, args };
      this.child.writeLine(JSON.stringify(req));
    });
  }
}

/** A command handler of a helper process. */
export type RpcHandler = (args: unknown) => unknown;

/**
 * The helper's side: answers requests from stdin with `handlers`, one at a time in arrival order.
 * When stdin closes, runs `onEnd` and exits.
 */
export function serveRpc(handlers: Readonly<Record<string, RpcHandler>>, onEnd: () => Promise<void> | void): void {
  let chain: Promise<void> = Promise.resolve();
  let buf = '';
  const reply = (r: Reply): void => {
    process.stdout.write(`${RPC_PREFIX}${JSON.stringify(r)}\n`);
  };
  const handle = async (line: string): Promise<void> => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      return;
    }
    const fn = handlers[req.cmd];
    if (fn === undefined) {
      reply({ id: req.id, ok: false, error: `unknown command '${req.cmd}'` });
      return;
    }
    try {
      reply({ id: req.id, ok: true, result: (await fn(req.args)) ?? null });
    } catch (e) {
      reply({ id: req.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') chain = chain.then(() => handle(line));
    }
  });
  process.stdin.on('end', () => {
    void chain.then(async () => {
      try {
        await onEnd();
      } finally {
        process.exit(0);
      }
    });
  });
}
