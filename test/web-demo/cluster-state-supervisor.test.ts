/** The dashboard's view of the launcher's node states (`/cluster.json` `nodes`). */
import { describe, expect, it } from 'vitest';
import { ClusterState, readSupervisorStates } from '../../web-demo/src/cluster-state.js';

describe('ClusterState and the launcher view', () => {
  it('reads /cluster.json nodes, skipping malformed entries', () => {
    const m = readSupervisorStates({
      nodes: [
        {
          name: 'manager',
          state: 'failed',
          restarts: 3,
          lastError: 'cannot open SQLite store x: file is not a database',
        },
        { name: 'worker-1', state: 'up', restarts: 0 },
        { name: 7, state: 'up' },
        null,
        { name: 'logger-1' },
      ],
    });
    expect([...m.keys()]).toEqual(['manager', 'worker-1']);
    expect(m.get('manager')).toEqual({
      state: 'failed',
      restarts: 3,
      lastError: 'cannot open SQLite store x: file is not a database',
    });
    expect(readSupervisorStates({}).size).toBe(0);
    expect(readSupervisorStates(null).size).toBe(0);
  });

  it('a node the launcher calls failed shows failed until it is up, and changes are announced once', () => {
    const state = new ClusterState([
      { name: 'manager', role: 'manager', host: '127.0.0.1', port: 1 },
      { name: 'worker-1', role: 'worker', host: '127.0.0.1', port: 2 },
    ]);
    let changes = 0;
    state.onChange(() => changes++);
    const failed = readSupervisorStates({ nodes: [{ name: 'manager', state: 'failed', restarts: 1, lastError: 'x' }] });
    state.applySupervisor(failed);
    state.applySupervisor(failed);
    expect(changes).toBe(1);
    expect(ClusterState.failed(state.nodes.get('manager')!)).toBe(true);
    expect(ClusterState.failed(state.nodes.get('worker-1')!)).toBe(false);
    // Stats from the node itself win: it is up.
    state.apply({ name: 'manager', role: 'manager', id: 'a', peers: [], published: 0, received: 0 }, 1000);
    expect(ClusterState.failed(state.nodes.get('manager')!)).toBe(false);
  });
});
