/** The messages of Broker's JSON v1 WebSocket protocol after the handshake. */
import type { Data } from '../../data/types.js';

/** `{"type":"data-message","topic":T,"@data-type":X,"data":Y}` */
export interface JsonV1DataMessage {
  readonly type: 'data-message';
  readonly topic: string;
  readonly data: Data;
}

/** The server's handshake answer: `{"type":"ack","endpoint":ID,"version":V}`. */
export interface JsonV1AckMessage {
  readonly type: 'ack';
  readonly endpoint: string;
  readonly version: string;
}

/** `{"type":"error","code":C,"context":S}`, e.g. code `deserialization_failed`. */
export interface JsonV1ErrorMessage {
  readonly type: 'error';
  readonly code: string;
  readonly context: string;
}

/** Any message of the Broker JSON v1 WebSocket protocol after the handshake. */
export type JsonV1Message = JsonV1DataMessage | JsonV1AckMessage | JsonV1ErrorMessage;
