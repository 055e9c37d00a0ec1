import { useRPC } from "../hooks";
import { short, ms, Err } from "../util";

interface Entry { peer: string; cores: number; memory_mib: number; disk_mib: number; queue: number; running: number; load: number; price: number; runtimes: string[]; version: string; age_seconds: number; latency_ms?: number; self?: boolean }

export function Directory() {
  const d = useRPC<Entry[]>("directory.list", {}, ["directory"], 10000);
  return (
    <section class="card" id="directory">
      <h2>Capacity offers</h2>
      <p class="muted">The nodes that offer compute, from their signed adverts on gossip.</p>
      <Err error={d.error} />
      {d.data && (
        <table>
          <thead><tr><th>Peer</th><th>Cores</th><th>Memory</th><th>Disk</th><th>Queued</th><th>Running</th><th>Load</th><th>Price</th><th>Latency</th><th>Version</th></tr></thead>
          <tbody>
            {d.data.map((e) => (
              <tr key={e.peer} class="offer">
                <td><code title={e.peer}>{short(e.peer, 12)}</code>{e.self ? " (this node)" : ""}</td>
                <td>{e.cores}</td><td>{e.memory_mib} MiB</td><td>{e.disk_mib} MiB</td>
                <td>{e.queue}</td><td>{e.running}</td><td>{e.load.toFixed(2)}</td><td>{e.price}</td>
                <td>{e.self ? "–" : ms(e.latency_ms)}</td><td>{e.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.data && d.data.length === 0 && <p class="muted">No offers yet.</p>}
    </section>
  );
}
