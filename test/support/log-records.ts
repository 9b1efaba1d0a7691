/** Log records the remote-logging tests write. */
import { CONN_LOG, address, enumValue, port, timestamp, toRecord } from 'isobroker';

/** The `i`-th conn.log record of a load: uid `C<i>`, now, between two fixed hosts. */
export function connRecord(i: number) {
  return toRecord(CONN_LOG, {
    ts: timestamp(new Date()),
    uid: `C${i}`,
    'id.orig_h': address('10.0.0.1'),
    'id.orig_p': port(1000 + (i % 50000), 'tcp'),
    'id.resp_h': address('10.0.0.2'),
    'id.resp_p': port(80, 'tcp'),
    proto: enumValue('tcp'),
  });
}
