/**
 * Zeek's own log streams, column for column as Zeek 8 logs them (`#fields` / `#types` of its
 * conn.log and known_hosts.log). Records of these streams are interchangeable with Zeek's.
 */
import { defineLogStream } from './stream.js';

/**
 * `Conn::LOG` → conn.log (Zeek's `Conn::Info` from base/protocols/conn/main.zeek, the `conn_id`
 * fields flattened as `id.*`). `missed_bytes` has Zeek's `&default=0`; `ip_proto` came with
 * Zeek 7.1.
 */
export const CONN_LOG = defineLogStream({
  id: 'Conn::LOG',
  path: 'conn',
  columns: [
    { name: 'ts', type: 'time' },
    { name: 'uid', type: 'string' },
    { name: 'id.orig_h', type: 'addr' },
    { name: 'id.orig_p', type: 'port' },
    { name: 'id.resp_h', type: 'addr' },
    { name: 'id.resp_p', type: 'port' },
    { name: 'proto', type: 'enum' },
    { name: 'service', type: 'string', optional: true },
    { name: 'duration', type: 'interval', optional: true },
    { name: 'orig_bytes', type: 'count', optional: true },
    { name: 'resp_bytes', type: 'count', optional: true },
    { name: 'conn_state', type: 'string', optional: true },
    { name: 'local_orig', type: 'bool', optional: true },
    { name: 'local_resp', type: 'bool', optional: true },
    { name: 'missed_bytes', type: 'count', default: 0 },
    { name: 'history', type: 'string', optional: true },
    { name: 'orig_pkts', type: 'count', optional: true },
    { name: 'orig_ip_bytes', type: 'count', optional: true },
    { name: 'resp_pkts', type: 'count', optional: true },
    { name: 'resp_ip_bytes', type: 'count', optional: true },
    { name: 'tunnel_parents', type: 'set[string]', optional: true },
    { name: 'ip_proto', type: 'count', optional: true },
  ],
});

/** `Known::HOSTS_LOG` → known_hosts.log (Zeek's `Known::HostsInfo`, policy/protocols/conn/known-hosts.zeek). */
export const KNOWN_HOSTS_LOG = defineLogStream({
  id: 'Known::HOSTS_LOG',
  path: 'known_hosts',
  columns: [
    { name: 'ts', type: 'time' },
    { name: 'host', type: 'addr' },
  ],
});
