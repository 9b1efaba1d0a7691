/**
 * The logging benchmark's records: conn.log records (Zeek's `Conn::LOG`) built from plain values
 * with `toRecord`, as a worker script would, each with a uid that names its worker, round and
 * index so the written files can be checked record by record.
 */
import { CONN_LOG, toRecord, type VectorData } from '../../src/index.js';

/** A fixed start time, so every run writes the same text. */
const BASE_TS = 1_764_000_000;
const SERVICES = ['http', 'dns', 'ssl', 'ssh', 'smtp'] as const;
const STATES = ['SF', 'S0', 'REJ', 'RSTO', 'SH'] as const;
const HISTORIES = ['ShADadFf', 'ShADadfF', 'S', 'ShR', 'Dd'] as const;

/** The uid of record `i` of `worker` in `round`: `C<worker>r<round>n<i>`. */
export function uidOf(worker: number, round: number, i: number): string {
  return `C${worker}r${round}n${i}`;
}

const UID = /^C(\d+)r(\d+)n(\d+)$/;

/** Worker, round and index of a uid made by {@link uidOf}; undefined for any other text. */
export function parseUid(uid: string): { worker: number; round: number; i: number } | undefined {
  const m = UID.exec(uid);
  return m === null ? undefined : { worker: Number(m[1]), round: Number(m[2]), i: Number(m[3]) };
}

/** Record `i` of `worker` in `round`: a plausible TCP/UDP connection, every column of conn.log in use. */
export function connRecord(worker: number, round: number, i: number): VectorData {
  const k = i % 5;
  const tcp = k !== 1;
  return toRecord(CONN_LOG, {
    ts: BASE_TS + round * 3600 + i / 1000,
    uid: uidOf(worker, round, i),
    'id.orig_h': `10.${worker}.${(i >>> 8) & 255}.${i & 255}`,
    'id.orig_p': tcp ? 49152 + (i % 16384) : `${49152 + (i % 16384)}/udp`,
    'id.resp_h': `192.168.${(i >>> 4) & 255}.${(i * 7) & 255}`,
    'id.resp_p': tcp ? [80, 53, 443, 22, 25][k]! : '53/udp',
    proto: tcp ? 'tcp' : 'udp',
    service: SERVICES[k]!,
    duration: (i % 977) / 100,
    orig_bytes: i % 4096,
    resp_bytes: (i * 13) % 65536,
    conn_state: STATES[k]!,
    local_orig: true,
    local_resp: false,
    history: HISTORIES[k]!,
    orig_pkts: 1 + (i % 20),
    orig_ip_bytes: 40 + (i % 4096),
    resp_pkts: i % 30,
    resp_ip_bytes: (i * 13) % 65536,
    ip_proto: tcp ? 6 : 17,
  });
}
