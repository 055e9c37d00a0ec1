import { useRPC } from "../hooks";
import { short, Err } from "../util";

interface EpochStatus { epoch: number; start: string; end: string; phase?: string; candidates: number; eligible: boolean; relays: number; closed: boolean }
interface Win { epoch: number; layer: number; seats: number; in_directory: boolean }
interface RelayStatus { network_id: string; candidate: boolean; mode: string; running: boolean; confirmed: boolean; current: EpochStatus; next: EpochStatus; wins: Win[] }
interface DirectoryInfo { epoch: number; closed: boolean; digest: string; seats: number; relays: { peer: string; layer: number; seats: number }[] }
interface MixStatus { relaying: { epoch: number; layer: number }[]; packets_in: number; relayed: number; forwarded: number; sent: number; acked: number; delivered: number; failed: number; mean_delay_ms: number; links: number; cover: boolean }

export function Relays() {
  const st = useRPC<RelayStatus>("relay.status", undefined, ["relay"], 10000);
  const dir = useRPC<DirectoryInfo>("relay.directory", {}, ["relay"]);
  const mix = useRPC<MixStatus>("mix.status", undefined, ["relay", "mix"], 10000);
  const s = st.data;
  return (
    <div class="grid">
      <section class="card" id="relay-status">
        <h2>Relay lottery</h2>
        <Err error={st.error} />
        {s && (
          <dl>
            <dt>Epoch</dt><dd id="epoch">{s.current.epoch} {s.current.phase ? `(${s.current.phase})` : ""}</dd>
            <dt>Network</dt><dd>{s.network_id}</dd>
            <dt>Candidate</dt><dd>{s.candidate ? "yes" : "no"} ({s.mode})</dd>
            <dt>Seed chain</dt><dd>{s.confirmed ? "confirmed" : "not confirmed yet"}</dd>
            <dt>Candidates</dt><dd>{s.current.candidates}</dd>
            <dt>Wins</dt>
            <dd id="wins">{(s.wins ?? []).length === 0 ? "none kept" : (s.wins ?? []).map((w) => <div>epoch {w.epoch}: layer {w.layer}, {w.seats} seats</div>)}</dd>
          </dl>
        )}
      </section>
      <section class="card" id="mix-status">
        <h2>Mix</h2>
        {mix.error ? <p class="muted">{mix.error}</p> : mix.data && (
          <dl>
            <dt>Relaying</dt><dd>{(mix.data.relaying ?? []).length === 0 ? "no" : (mix.data.relaying ?? []).map((r) => `epoch ${r.epoch} layer ${r.layer}`).join(", ")}</dd>
            <dt>Packets in</dt><dd>{mix.data.packets_in}</dd>
            <dt>Relayed / forwarded</dt><dd>{mix.data.relayed} / {mix.data.forwarded}</dd>
            <dt>Sent / acked / failed</dt><dd>{mix.data.sent} / {mix.data.acked} / {mix.data.failed}</dd>
            <dt>Delivered here</dt><dd>{mix.data.delivered}</dd>
            <dt>Mean delay</dt><dd>{mix.data.mean_delay_ms.toFixed(1)} ms</dd>
            <dt>Links</dt><dd>{mix.data.links}</dd>
            <dt>Cover traffic</dt><dd>{mix.data.cover ? "on" : "off"}</dd>
          </dl>
        )}
      </section>
      <section class="card wide" id="relay-directory">
        <h2>Relay directory</h2>
        {dir.error ? <p class="muted">{dir.error}</p> : dir.data && (
          <>
            <p>Epoch {dir.data.epoch}, {dir.data.closed ? "closed" : "open"}, {dir.data.seats} seats, digest <code>{short(dir.data.digest, 12)}</code></p>
            {(dir.data.relays ?? []).length === 0 ? <p class="muted">No relays.</p> : (
              <table>
                <thead><tr><th>Relay</th><th>Layer</th><th>Seats</th></tr></thead>
                <tbody>{(dir.data.relays ?? []).map((r) => <tr><td><code title={r.peer}>{short(r.peer, 12)}</code></td><td>{r.layer}</td><td>{r.seats}</td></tr>)}</tbody>
              </table>
            )}
          </>
        )}
      </section>
    </div>
  );
}
