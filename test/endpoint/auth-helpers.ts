/** Helpers for the endpoint's auth tests: principals built directly, hubs that authenticate, raw clients. */
import { Endpoint, MemoryNetwork, type EndpointOptions } from 'isobroker';
import { compileAcl } from '../../src/auth/prefix-acl.js';
import {
  AuthError,
  type AcceptAuth,
  type AuditEvent,
  type Credential,
  type Grant,
  type Principal,
} from '../../src/auth/types.js';
import { TransportInbox, type Frame, type Transport, type TransportHandlers } from '../../src/transport/transport.js';

/** A principal with the given grants (publish and subscribe default to everything). */
export function principal(
  sub: string,
  o: {
    publish?: Partial<Grant>;
    subscribe?: Partial<Grant>;
    node?: string | null;
    router?: boolean;
    strict?: boolean;
    expiresAt?: number;
    publishRate?: number;
    publishBurst?: number;
    maxSubscriptions?: number;
    roles?: string[];
  } = {},
): Principal {
  const grant = (g: Partial<Grant> | undefined): Grant => ({ allow: g?.allow ?? [''], deny: g?.deny ?? [] });
  return {
    sub,
    roles: o.roles ?? ['client'],
    node: o.node ?? null,
    router: o.router ?? false,
    publish: compileAcl(grant(o.publish)),
    subscribe: compileAcl(grant(o.subscribe)),
    storeAccess: () => undefined,
    limits: {
      publishRate: o.publishRate ?? 0,
      publishBurst: o.publishBurst ?? 0,
      maxSubscriptions: o.maxSubscriptions ?? 1024,
      storeCommandsInFlight: 16,
    },
    strict: o.strict ?? false,
    expiresAt: o.expiresAt,
    issuedAt: undefined,
    credentialId: undefined,
    method: 'token',
  };
}

/** Credentials by value; an unknown one is refused as `unauthenticated`. */
export function tokenTable(table: Record<string, Principal | (() => Principal)>): AcceptAuth['authenticate'] & {
  seen: (Credential | undefined)[];
} {
  const seen: (Credential | undefined)[] = [];
  const fn = async (c: Credential | undefined): Promise<Principal> => {
    seen.push(c);
    const p = c ? table[c.value] : table[''];
    if (!p) throw new AuthError('unauthenticated', c ? 'unknown credential' : 'a credential is required');
    return typeof p === 'function' ? p() : p;
  };
  return Object.assign(fn, { seen });
}

/** A hub on a memory network whose native connections authenticate with `authenticate`. */
export function authHub(
  authenticate: AcceptAuth['authenticate'],
  opts: EndpointOptions = {},
  net = new MemoryNetwork(),
  name = 'hub',
): { net: MemoryNetwork; hub: Endpoint; audit: AuditEvent[] } {
  const hub = new Endpoint({ name, role: 'hub', connector: net.connector, pingInterval: 0, ...opts });
  const audit: AuditEvent[] = [];
  hub.on('audit', (e) => audit.push(e));
  net.listen(name, {
    accept: (t, protocol) =>
      hub.accept(t, protocol, {
        conn: { ip: '127.0.0.1', remote: t.remote, protocol },
        ...(authenticate ? { authenticate } : {}),
      }),
  });
  return { net, hub, audit };
}

/** One end of a pair whose frames arrive in a microtask (usable with a fake clock). */
class MicroTransport implements Transport {
  readonly inbox = new TransportInbox();
  other: MicroTransport | undefined;
  constructor(readonly remote: string) {}
  send(frame: Frame): void {
    const other = this.other;
    if (this.inbox.isClosed || !other) return;
    const copy = typeof frame === 'string' ? frame : frame.slice();
    queueMicrotask(() => other.inbox.message(copy));
  }
  bufferedAmount(): number {
    return 0;
  }
  close(code = 1000, reason = ''): void {
    if (this.inbox.isClosed) return;
    this.inbox.close(code, reason);
    const other = this.other;
    queueMicrotask(() => other?.inbox.close(code, reason));
  }
  attach(handlers: TransportHandlers): void {
    this.inbox.attach(handlers);
  }
}

/** A micro transport that can stop reading (`pause`/`resume`), counting its pauses. */
class PausableMicroTransport extends MicroTransport {
  pauses = 0;
  pause(): void {
    this.pauses++;
    this.inbox.pause();
  }
  resume(): void {
    this.inbox.resume();
  }
}

/** A connected transport pair delivering in microtasks; with `pausable`, the server end can pause. */
export function microPair(pausable = false): [Transport, Transport & { pauses?: number }] {
  const a = new MicroTransport('client');
  const b = pausable ? new PausableMicroTransport('server') : new MicroTransport('server');
  a.other = b;
  b.other = a;
  return [a, b];
}

/** A raw client end: records text and binary frames and the close. */
export interface RawEnd {
  readonly t: Transport;
  readonly texts: string[];
  readonly binaries: Uint8Array[];
  closed: { code: number; reason: string } | undefined;
}

export function rawEnd(t: Transport): RawEnd {
  const end: RawEnd = { t, texts: [], binaries: [], closed: undefined };
  t.attach({
    onMessage: (f) => (typeof f === 'string' ? end.texts.push(f) : end.binaries.push(f)),
    onClose: (code, reason) => {
      end.closed = { code, reason };
    },
  });
  return end;
}
