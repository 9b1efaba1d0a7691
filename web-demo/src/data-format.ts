/**
 * How the dashboard shows Broker values and messages: each value with its Zeek type name
 * (`count 42`, `addr 10.0.0.1`), each message as a Zeek event when it is one.
 */
import { DecodeError, parseZeekMessage, toText, type Data, type DataType, type ZeekMessage } from 'isobroker';

/** Zeek's names of Broker's types, as the publish form offers them. */
const TYPE_LABEL: Readonly<Record<DataType, string>> = {
  none: 'none',
  boolean: 'bool',
  count: 'count',
  integer: 'int',
  real: 'real',
  string: 'string',
  address: 'addr',
  subnet: 'subnet',
  port: 'port',
  timestamp: 'time',
  timespan: 'interval',
  'enum-value': 'enum',
  set: 'set',
  table: 'table',
  vector: 'vector',
};

export function typeLabel(d: Data): string {
  return TYPE_LABEL[d.type];
}

/** A value as its type label and text, e.g. `{ type: 'count', text: '42' }`. */
export interface TypedText {
  readonly type: string;
  readonly text: string;
}

export function typedText(d: Data): TypedText {
  return { type: typeLabel(d), text: toText(d) };
}

/** One displayable message: an event (name and arguments) or another value. */
export interface MessageView {
  /** `event`, a Zeek message kind (`log-write`, …) or `data` for a value that is no Zeek message. */
  readonly kind: string;
  /** Event name, log path, identifier name; empty for plain data. */
  readonly name: string;
  readonly args: readonly TypedText[];
}

/** Describes `data` received on a topic; a batch becomes one view per message it holds. */
export function describeMessage(data: Data): MessageView[] {
  let msg: ZeekMessage;
  try {
    msg = parseZeekMessage(data);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return [{ kind: 'data', name: '', args: [typedText(data)] }];
  }
  return viewsOf(msg);
}

function viewsOf(msg: ZeekMessage): MessageView[] {
  switch (msg.kind) {
    case 'event':
      return [{ kind: 'event', name: msg.name, args: msg.args.map(typedText) }];
    case 'batch':
      return msg.messages.flatMap(viewsOf);
    case 'log-create':
      return [{ kind: 'log-create', name: msg.streamId, args: [{ type: 'enum', text: msg.writerId }] }];
    case 'log-write':
      return [{ kind: 'log-write', name: msg.streamId, args: [{ type: 'string', text: msg.path }] }];
    case 'identifier-update':
      return [{ kind: 'identifier-update', name: msg.name, args: [typedText(msg.value)] }];
  }
}
