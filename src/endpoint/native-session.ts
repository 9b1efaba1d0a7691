/**
 * One native-protocol connection: hello handshake, batching outbox, keepalive pings, and decoding
 * of incoming frames. Routing decisions stay with the endpoint; the session reports messages up.
 */
import { DecodeError } from '../errors.js';
import {
  MessageKind,
  MIN_NATIVE_PROTOCOL_VERSION,
  NATIVE_PROTOCOL_VERSION,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  encodeSharedFrame,
  type LinkKind,
  type NativeMessage,
} from '../codec/native/messages.js';
import { CloseCode, type Frame, type Transport } from '../transport/transport.js';
import { idFromBytes, idToBytes } from '../util/ids.js';
import { Outbox } from './outbox.js';
import type { OverflowPolicy, SendQueueStats } from '../util/send-queue.js';
import type { Timers } from '../util/timers.js';
import { DEFAULT_LINKS, type ResolvedLinkOptions, type ResolvedLinks } from './links.js';
import { BadInputGuard, errorContext } from './limits.js';
import type { NativeLimits } from '../codec/native/limits.js';
import { AuthCloseCode, type AcceptAuth } from '../auth/types.js';
import type { ConnectionAccess } from './access.js';

/**
 * The credential a dialling side presents (PROTOCOL.md §10): `current()` goes into the hello,
 * `refresh()` is called when the hub warns `token_expiring` (or refuses with `token_expired`), and
 * its result is sent in a `Reauth`. Never logged.
 */
export interface DialCredential {
  current(): string | undefined;
  refresh(): Promise<string | undefined>;
}

/** Per-connection authentication: `auth` on an accepted connection, `credential` on a dialled one. */
export interface SessionAuthOptions {
  readonly auth?: AcceptAuth;
  readonly credential?: DialCredential;
}

/** Frames a connection may send while its hello's credential is being verified; more are refused. */
export const MAX_HELD_FRAMES = 8;

export interface SessionConfig {
  readonly selfId: string;
  readonly selfName: string;
  readonly selfRole: string;
  readonly sendBufferSize: number;
  readonly overflowPolicy: OverflowPolicy;
  readonly highWaterMark: number;
  readonly maxBatch: number;
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly timers: Timers;
  /** Options per kind of link (native sessions use `peers`). @default DEFAULT_LINKS */
  readonly links?: ResolvedLinks;
  /** The kind of link we ask for when we dial. @default 'router' */
  readonly linkKind?: LinkKind;
  /** Whether we accept router links from peers that dial us (leaf links are always accepted). @default true */
  readonly acceptRouters?: boolean;
}

/**
 * A session's link as seen from this side: `router` (both run link-state routing), `leaf` (the
 * peer is a client endpoint of ours), `hub` (we are the peer's leaf).
 */
export type SessionKind = 'router' | 'leaf' | 'hub';

/**
 * Thrown by a handler of remote input when the peer broke a rule: the session closes with the
 * code (close 1008) and nothing else changes.
 */
export class ProtocolViolation extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

export interface SessionEvents {
  /**
   * The peer's hello arrived; return an error code to refuse the peering, or a promise of one:
   * until it settles nothing else from the peer is processed (at most MAX_HELD_FRAMES are held).
   */
  hello(s: NativeSession): string | undefined | Promise<string | undefined>;
  messages(s: NativeSession, msgs: NativeMessage[]): void;
  /** A frame could not be decoded (the session answers with an error and keeps going). */
  badFrame(s: NativeSession, err: DecodeError): void;
  /**
   * Input from the peer broke a rule (`ProtocolViolation`) or made a handler fail: the session
   * is being closed with `code`; nothing of it reached the rest of the endpoint.
   */
  violation(s: NativeSession, code: string, message: string, cause: unknown): void;
  closed(s: NativeSession, code: number, reason: string): void;
}

/**
 * Bytes of messages coalesced into one frame: a frame closes once it holds this much (a larger
 * message travels alone), so a batch of large messages (store resyncs) never nears a receiver's
 * frame limit (PROTOCOL.md §5) and other traffic interleaves with it.
 */
export const FRAME_TARGET_BYTES = 1024 * 1024;

/**
 * Queued messages as frames of about FRAME_TARGET_BYTES at most. Peers that take the same batch in
 * the same turn (the subscribers of one topic, flushed one after another) get the same frame
 * (`encodeSharedFrame`): built once, handed to every transport, counted in full by each of them.
 */
function framesOf(items: Uint8Array[]): Uint8Array[] {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) bytes += items[i]!.length;
  if (bytes <= FRAME_TARGET_BYTES) return [encodeSharedFrame(items)];
  const frames: Uint8Array[] = [];
  let start = 0;
  bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const n = items[i]!.length;
    if (i > start && bytes + n > FRAME_TARGET_BYTES) {
      frames.push(encodeSharedFrame(items.slice(start, i)));
      start = i;
      bytes = 0;
    }
    bytes += n;
  }
  frames.push(encodeSharedFrame(items.slice(start)));
  return frames;
}

const byteLength = (m: Uint8Array): number => m.length;

export class NativeSession {
  peerId: string | undefined;
  peerName = '';
  peerRole = '';
  /** Set once the peering is fully up (decided by the endpoint). */
  established = false;
  /** The kind of link, known once the hello arrived. */
  kind: SessionKind | undefined;
  private readonly outbox: Outbox<Uint8Array>;
  private readonly limits: NativeLimits;
  private link: ResolvedLinkOptions;
  private readonly badInput: BadInputGuard;
  private helloTimer: unknown;
  private lastHeard: number;
  private pingTimer: unknown;
  private nonce = 0;
  private closed = false;
  received = 0;
  /** The peer's hello version. */
  peerVersion = 0;
  /** The credential we last presented (hello or `Reauth`), when we dialled with one. */
  credentialSent: string | undefined;
  /** What the hub said we run as (dialled connections with authentication, protocol 3). */
  welcome: { sub: string; roles: readonly string[]; expiresAt: number } | undefined;
  /** The principal's checks (accepted with authentication); undefined: trusted. */
  access: ConnectionAccess | undefined;
  /** Messages and frames held while the hello's credential is verified. */
  private held: { msgs: NativeMessage[]; frames: Frame[] } | undefined;

  constructor(
    readonly transport: Transport,
    /** True when we dialled. */
    readonly initiator: boolean,
    private readonly cfg: SessionConfig,
    private readonly events: SessionEvents,
    /** Authentication of this connection (absent: trusted, as before). */
    readonly authOptions: SessionAuthOptions = {},
  ) {
    this.lastHeard = cfg.timers.now();
    const link = cfg.links?.peers ?? {
      ...DEFAULT_LINKS.peers,
      bufferSize: cfg.sendBufferSize,
      overflowPolicy: cfg.overflowPolicy,
    };
    this.link = link;
    this.badInput = new BadInputGuard(cfg.timers.now);
    this.limits = { maxFrameBytes: link.maxMessageSize, maxStringBytes: link.maxStringSize };
    this.outbox = new Outbox<Uint8Array>(transport, {
      limit: link.bufferSize,
      policy: link.overflowPolicy,
      highWaterMark: cfg.highWaterMark,
      maxBatch: cfg.maxBatch,
      toFrames: framesOf,
      sizeOf: byteLength,
      timers: cfg.timers,
      byteLimit: link.bufferBytes,
      maxBatchBytes: FRAME_TARGET_BYTES,
      writeTimeout: link.writeTimeout,
      // Write deadline passed or control backlog too large: the queue is dropped already.
      onStall: (context) => this.fail('buffer_overflow', context),
    });
    // Our hello goes first, before frames that arrived while connecting are delivered.
    // Version 3 only where authentication is involved, so that version 2 peers keep working.
    const authenticating = authOptions.auth !== undefined || authOptions.credential !== undefined;
    this.credentialSent = authOptions.credential?.current();
    this.sendControl({
      kind: MessageKind.Hello,
      version: authenticating ? NATIVE_PROTOCOL_VERSION : MIN_NATIVE_PROTOCOL_VERSION,
      id: idToBytes(cfg.selfId),
      name: cfg.selfName,
      role: cfg.selfRole,
      credential: this.credentialSent ?? null,
      link: cfg.linkKind ?? 'router',
    });
    transport.attach({
      onMessage: (f) => this.onFrame(f),
      onClose: (code, reason) => this.onClosed(code, reason),
    });
    this.armPing();
    // An absolute deadline for the peer's hello, whatever else it sends (pings keep no one here).
    if (link.handshakeTimeout > 0)
      this.helloTimer = cfg.timers.setTimeout(() => {
        this.helloTimer = undefined;
        if (this.peerId === undefined)
          this.fail('peer_timeout', `no hello within ${link.handshakeTimeout} ms`, CloseCode.GoingAway);
      }, link.handshakeTimeout);
  }

  get remote(): string {
    return this.transport.remote;
  }

  /** A leaf's send buffer and write deadline are `links.leaves` (known only once its hello came). */
  private useLeafBuffer(): void {
    const leaves = this.cfg.links?.leaves;
    if (!leaves) return;
    this.link = {
      ...this.link,
      ...leaves,
      maxMessageSize: this.link.maxMessageSize,
      maxStringSize: this.link.maxStringSize,
    };
    this.outbox.setBounds({
      limit: leaves.bufferSize,
      byteLimit: leaves.bufferBytes,
      policy: leaves.overflowPolicy,
      writeTimeout: leaves.writeTimeout,
    });
  }

  /** Sends a control message (never dropped by overflow). */
  sendControl(msg: NativeMessage): void {
    this.outbox.pushControl(encodeFrame([encodeMessage(msg)]));
  }

  /** Sends an already encoded control message. */
  sendControlEncoded(encoded: Uint8Array): void {
    this.outbox.pushControl(encodeFrame([encoded]));
  }

  /** Queues an encoded data message; returns false when it overflowed with policy disconnect. */
  sendData(encoded: Uint8Array): boolean {
    const r = this.outbox.push(encoded);
    if (r === 'overflow-disconnect') {
      const context =
        `send buffer of ${this.link.bufferSize} messages or ${this.link.bufferBytes} bytes overflowed ` +
        `(overflow policy 'disconnect'); ${this.outbox.describe()}; disconnecting`;
      this.outbox.dropQueued();
      this.fail('buffer_overflow', context);
      return false;
    }
    return true;
  }

  stats(): SendQueueStats {
    return this.outbox.stats();
  }

  /** An optional error message to the peer (dropped when the send buffer is full). */
  notify(code: string, context: string): void {
    if (!this.closed) this.outbox.pushNotice(encodeFrame([encodeMessage({ kind: MessageKind.Error, code, context })]));
  }

  /** Drops the queued data messages, sends an error and closes with `closeCode`. */
  refuse(code: string, context: string, closeCode: number): void {
    if (this.closed) return;
    this.outbox.dropQueued();
    this.fail(code, context, closeCode);
  }

  /** Sends an error then closes. */
  fail(code: string, context: string, closeCode: number = CloseCode.PolicyViolation): void {
    if (this.closed) return;
    this.sendControl({ kind: MessageKind.Error, code, context });
    this.outbox.flushNow();
    this.close(closeCode, `${code}: ${context}`.slice(0, 120));
  }

  /** Says goodbye and closes. */
  bye(code = 'peer_removed', context = 'unpeered'): void {
    if (this.closed) return;
    this.sendControl({ kind: MessageKind.Bye, code, context });
    this.outbox.flushNow();
    this.close(CloseCode.Normal, code);
  }

  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closed) return;
    this.transport.close(code, reason);
  }

  /**
   * The one boundary of this connection's remote input: whatever a handler throws because of
   * what the peer sent closes this connection, with a code, and goes no further.
   */
  private onFrame(f: Frame): void {
    if (this.closed) return;
    if (this.held) {
      if (this.held.frames.length >= MAX_HELD_FRAMES) {
        this.fail(
          'limit_exceeded',
          `more than ${MAX_HELD_FRAMES} frames before authentication completed`,
          AuthCloseCode.RateLimited,
        );
        return;
      }
      this.held.frames.push(f);
      return;
    }
    this.guarded(() => this.handleFrame(f));
  }

  /** Runs a handler of remote input behind the connection's boundary. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const violation = err instanceof ProtocolViolation;
      const code = violation ? err.code : 'internal_error';
      const message = err instanceof Error ? err.message : String(err);
      try {
        this.events.violation(this, code, message, err);
      } catch {
        // Reporting must not undo the boundary.
      }
      this.fail(
        code,
        violation ? message : `input from this peer made a handler fail: ${message}`,
        violation ? CloseCode.PolicyViolation : CloseCode.InternalError,
      );
    }
  }

  private handleFrame(f: Frame): void {
    this.lastHeard = this.cfg.timers.now();
    if (typeof f === 'string') {
      this.fail(
        'deserialization_failed',
        'text frame on the native path: the native protocol uses binary frames (Broker JSON v1 lives at /v1/messages/json)',
        CloseCode.UnsupportedData,
      );
      return;
    }
    let msgs: NativeMessage[];
    try {
      msgs = decodeFrame(f, this.limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.received++;
      if (this.awaitingCredential()) {
        // Before authentication the peer gets one frame, and it must be a hello.
        this.fail(err.code, `first frame before authentication: ${err.message}`, AuthCloseCode.Unauthenticated);
        return;
      }
      // Replies are rate-limited and bounded by the send buffer; a peer that keeps sending bad
      // frames is closed (BadInputGuard).
      const action = this.badInput.record();
      if (action === 'reply')
        this.outbox.pushNotice(
          encodeFrame([
            encodeMessage({
              kind: MessageKind.Error,
              code: err.code,
              context: errorContext(`frame #${this.received}: ${err.message}`, this.badInput.takeUnreported()),
            }),
          ]),
        );
      this.events.badFrame(this, err);
      if (action === 'close') this.fail(err.code, this.badInput.closeContext());
      return;
    }
    this.received++;
    this.handleMessages(msgs);
  }

  /** Accepted without a principal: the hello's credential decides, so nothing may come before it. */
  private awaitingCredential(): boolean {
    const auth = this.authOptions.auth;
    return auth !== undefined && auth.principal === undefined && this.peerId === undefined;
  }

  private handleMessages(msgs: NativeMessage[]): void {
    if (this.awaitingCredential() && msgs[0]?.kind !== MessageKind.Hello) {
      this.fail(
        'peer_invalid',
        'the first frame must start with a hello: this endpoint requires authentication',
        AuthCloseCode.Unauthenticated,
      );
      return;
    }
    let rest: NativeMessage[] | undefined;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      switch (m.kind) {
        case MessageKind.Hello:
          if (this.peerId !== undefined) {
            this.fail('peer_invalid', 'second hello on one connection');
            return;
          }
          if (m.version < MIN_NATIVE_PROTOCOL_VERSION || m.version > NATIVE_PROTOCOL_VERSION) {
            this.fail(
              'peer_incompatible',
              `protocol version ${m.version}, this endpoint speaks ${MIN_NATIVE_PROTOCOL_VERSION}..${NATIVE_PROTOCOL_VERSION}`,
            );
            return;
          }
          this.peerVersion = m.version;
          this.helloCredential = m.credential ?? undefined;
          this.peerId = idFromBytes(m.id);
          this.peerName = m.name;
          this.peerRole = m.role;
          if (this.initiator) this.kind = this.cfg.linkKind === 'leaf' ? 'hub' : 'router';
          else if (m.link === 'leaf') {
            this.kind = 'leaf';
            this.useLeafBuffer();
          } else if (m.link === 'router') {
            if (this.cfg.acceptRouters === false) {
              this.fail('peer_refused', 'this endpoint accepts leaf links only (acceptRouters is false)');
              return;
            }
            this.kind = 'router';
          } else {
            this.fail('peer_invalid', `unknown link kind ${JSON.stringify(m.link)} in hello (router or leaf)`);
            return;
          }
          {
            const refused = this.events.hello(this);
            if (typeof refused === 'object') {
              if (rest) this.events.messages(this, rest);
              this.hold(refused, msgs.slice(i + 1));
              return;
            }
            if (refused !== undefined) return;
          }
          break;
        case MessageKind.Ping:
          this.sendControl({ kind: MessageKind.Pong, nonce: m.nonce });
          break;
        case MessageKind.Pong:
          break;
        default:
          if (this.peerId === undefined) {
            this.fail('peer_invalid', `message kind ${m.kind} before hello`);
            return;
          }
          (rest ??= []).push(m);
      }
      if (this.closed) return;
    }
    if (rest) this.events.messages(this, rest);
  }

  /** Holds the peer's input until `decision` settles, then goes on (or not, when refused). */
  private hold(decision: Promise<string | undefined>, msgs: NativeMessage[]): void {
    this.held = { msgs, frames: [] };
    const release = (refused: string | undefined): void => {
      const held = this.held!;
      this.held = undefined;
      if (refused !== undefined || this.closed) return;
      this.guarded(() => this.handleMessages(held.msgs));
      for (const f of held.frames) this.onFrame(f);
    };
    decision.then(release, (err: unknown) => {
      this.held = undefined;
      this.fail('internal_error', `authentication failed: ${err instanceof Error ? err.message : String(err)}`, 1011);
    });
  }

  /** The credential of the peer's hello (consumed by the authentication). */
  takeHelloCredential(): string | undefined {
    const c = this.helloCredential;
    this.helloCredential = undefined;
    return c;
  }

  private helloCredential: string | undefined;

  private armPing(): void {
    const { pingInterval, pingTimeout, timers } = this.cfg;
    if (pingInterval <= 0) return;
    this.pingTimer = timers.setTimeout(() => {
      if (this.closed) return;
      if (timers.now() - this.lastHeard > pingTimeout) {
        this.fail('peer_timeout', `no frame from the peer for ${pingTimeout} ms`, CloseCode.GoingAway);
        return;
      }
      this.sendControl({ kind: MessageKind.Ping, nonce: ++this.nonce });
      this.armPing();
    }, pingInterval);
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.close();
    if (this.pingTimer !== undefined) this.cfg.timers.clearTimeout(this.pingTimer);
    if (this.helloTimer !== undefined) this.cfg.timers.clearTimeout(this.helloTimer);
    try {
      this.events.closed(this, code, reason);
    } catch (err) {
      try {
        this.events.violation(this, 'internal_error', err instanceof Error ? err.message : String(err), err);
      } catch {
        // Nothing from a closing connection reaches the transport.
      }
    }
  }

  /** True once the connection closed. */
  get isClosed(): boolean {
    return this.closed;
  }
}
