import { useEffect, useState } from "preact/hooks";
import { onEvent, recent, FogEvent } from "../api";
import { useRPC } from "../hooks";
import { short, duration, ms, time, Err } from "../util";

interface Service { name: string; state: string; healthy: boolean; health?: string; restarts: number; last_error?: string }
interface Status { peer_id: string; version: string; uptime_seconds: number; peers: number; listen_addrs: string[]; services: Service[] }
interface Peer { id: string; addrs: string[]; direction: string; agent?: string; latency_ms?: number; connected_seconds: number }

/** ConnectionMap draws this node in the middle and its peers around it;
 *  a line's colour says the peer's latency. */
function ConnectionMap({ self, peers }: { self: string; peers: Peer[] }) {
  const size = 260, c = size / 2, r = 95;
  const colour = (l?: number) => (!l ? "#9aa4b2" : l < 50 ? "#2f9e44" : l < 200 ? "#e8a317" : "#d9480f");
  return (
    <svg viewBox={`0 0 ${size} ${size}`} class="map" role="img" aria-label="connections">
      {peers.map((p, i) => {
        const a = (2 * Math.PI * i) / Math.max(peers.length, 1) - Math.PI / 2;
        const x = c + r * Math.cos(a), y = c + r * Math.sin(a);
        return (
          <g key={p.id}>
            <line x1={c} y1={c} x2={x} y2={y} stroke={colour(p.latency_ms)} stroke-width="2" />
            <circle cx={x} cy={y} r="9" fill="#fff" stroke={colour(p.latency_ms)} stroke-width="2" />
            <text x={x} y={y + 22} text-anchor="middle" class="maplabel">{p.id.slice(-6)}</text>
          </g>
        );
      })}
      <circle cx={c} cy={c} r="14" fill="#364fc7" />
      <text x={c} y={c + 30} text-anchor="middle" class="maplabel">{self.slice(-6)} (this node)</text>
    </svg>
  );
}

function EventLog() {
  const [evs, setEvs] = useState<FogEvent[]>(recent.slice());
  useEffect(() => onEvent(() => setEvs(recent.slice())), []);
  return (
    <section class="card">
      <h2>Live events</h2>
      {evs.length === 0 ? <p class="muted">Waiting for events…</p> : (
        <ul class="events" id="events">
          {evs.map((e) => (
            <li key={`${e.seq}-${e.type}`}><span class="muted">{time(e.time)}</span> <b>{e.type}</b>{" "}
              <code>{e.data ? JSON.stringify(e.data) : ""}</code></li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Overview() {
  const st = useRPC<Status>("node.status", undefined, ["peer"], 5000);
  const peers = useRPC<Peer[]>("node.peers", undefined, ["peer"], 5000);
  const s = st.data;
  return (
    <div class="grid">
      <section class="card" id="status">
        <h2>This node</h2>
        <Err error={st.error} />
        {s && (
          <dl>
            <dt>Peer ID</dt><dd><code id="peer-id">{s.peer_id}</code></dd>
            <dt>Version</dt><dd>{s.version}</dd>
            <dt>Uptime</dt><dd>{duration(s.uptime_seconds)}</dd>
            <dt>Peers</dt><dd id="peer-count">{s.peers}</dd>
            <dt>Listening</dt><dd>{(s.listen_addrs ?? []).map((a) => <div><code>{a}</code></div>)}</dd>
          </dl>
        )}
      </section>
      <section class="card">
        <h2>Services</h2>
        {s && (
          <table id="services">
            <thead><tr><th>Service</th><th>State</th><th>Health</th><th>Restarts</th></tr></thead>
            <tbody>
              {(s.services ?? []).map((v) => (
                <tr key={v.name}>
                  <td>{v.name}</td><td>{v.state}</td>
                  <td class={v.healthy ? "ok" : "bad"}>{v.healthy ? "ok" : v.health}</td>
                  <td>{v.restarts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section class="card wide">
        <h2>Peers</h2>
        <Err error={peers.error} />
        {peers.data && s && (
          <div class="row">
            <ConnectionMap self={s.peer_id} peers={peers.data} />
            <table id="peers">
              <thead><tr><th>Peer</th><th>Direction</th><th>Latency</th><th>Connected</th><th>Agent</th></tr></thead>
              <tbody>
                {peers.data.map((p) => (
                  <tr key={p.id} class="peer" data-peer={p.id}>
                    <td><code title={p.id}>{short(p.id, 12)}</code></td>
                    <td>{p.direction.toLowerCase()}</td><td>{ms(p.latency_ms)}</td>
                    <td>{duration(p.connected_seconds)}</td><td>{p.agent ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {peers.data && peers.data.length === 0 && <p class="muted">No peers.</p>}
      </section>
      <EventLog />
    </div>
  );
}
