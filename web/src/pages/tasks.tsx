import { useEffect, useState } from "preact/hooks";
import { rpc, b64encode, b64decode, onEvent } from "../api";
import { useRPC } from "../hooks";
import { short, time, Err } from "../util";

interface Task { id: string; state: string; name?: string; error?: string; waiting?: string; module: string; replicas: number; created: string; finished?: string; attempts: { provider: string; state: string }[] }
interface Output { id: string; state: string; live: boolean; stdout: string | null; stderr: string | null }
interface Description extends Task { args: string[]; stdin_bytes: number; result?: { kind?: string; agreed: boolean; exit_code?: number; guest_error?: string; wall_ms: number; providers: string[] } }

const terminal = (s: string) => s === "done" || s === "failed" || s === "cancelled";

function Submit({ onSubmitted }: { onSubmitted: (id: string) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [args, setArgs] = useState("");
  const [stdin, setStdin] = useState("");
  const [replicas, setReplicas] = useState(1);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setError("");
    try {
      const module = b64encode(new Uint8Array(await file.arrayBuffer()));
      const argv = [file.name, ...args.split(/\s+/).filter((a) => a !== "")];
      const r = await rpc<{ id: string }>("task.submit", {
        module, args: argv, stdin: b64encode(new TextEncoder().encode(stdin)), replicas,
      });
      onSubmitted(r.id);
    } catch (err: any) {
      setError(err.message ?? String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" id="submit-form" onSubmit={submit}>
      <h2>Submit a task</h2>
      <label for="module">WebAssembly module (WASI command)</label>
      <input id="module" type="file" accept=".wasm,application/wasm"
        onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
      <label for="args">Arguments</label>
      <input id="args" type="text" value={args} placeholder="separated by spaces"
        onInput={(e) => setArgs((e.target as HTMLInputElement).value)} />
      <label for="stdin">Standard input</label>
      <textarea id="stdin" rows={3} value={stdin} onInput={(e) => setStdin((e.target as HTMLTextAreaElement).value)} />
      <label for="replicas">Replicas</label>
      <input id="replicas" type="number" min={1} max={16} value={replicas}
        onInput={(e) => setReplicas(Number((e.target as HTMLInputElement).value) || 1)} />
      <button type="submit" disabled={busy || !file}>Submit</button>
      <Err error={error} />
    </form>
  );
}

function Detail({ id }: { id: string }) {
  const [desc, setDesc] = useState<Description | null>(null);
  const [out, setOut] = useState<Output | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    let timer = 0;
    const load = async () => {
      try {
        const d = await rpc<Description>("task.describe", { id });
        const o = await rpc<Output>("task.logs", { id });
        if (!live) return;
        setDesc(d);
        setOut(o);
        setError("");
        // Follow a running task's output; a finished one is final.
        if (!terminal(d.state) && !timer) timer = setInterval(load, 1000) as unknown as number;
        if (terminal(d.state) && timer) {
          clearInterval(timer);
          timer = 0;
        }
      } catch (err: any) {
        if (live) setError(err.message ?? String(err));
      }
    };
    load();
    const off = onEvent((ev) => {
      if (ev.type === "task.state" && ev.data?.id === id) load();
    });
    return () => {
      live = false;
      off();
      if (timer) clearInterval(timer);
    };
  }, [id]);
  return (
    <section class="card wide" id="task-detail">
      <h2>Task <code>{short(id, 12)}</code></h2>
      <Err error={error} />
      {desc && (
        <dl>
          <dt>State</dt><dd id="task-state" class={`state ${desc.state}`}>{desc.state}{desc.waiting ? ` (${desc.waiting})` : ""}</dd>
          {desc.error && <><dt>Error</dt><dd class="error">{desc.error}</dd></>}
          <dt>Program</dt><dd><code>{(desc.args ?? []).join(" ")}</code> ({desc.stdin_bytes} bytes of stdin)</dd>
          <dt>Module</dt><dd><code>{short(desc.module, 16)}</code></dd>
          <dt>Attempts</dt><dd>{(desc.attempts ?? []).map((a) => <div><code>{short(a.provider, 8)}</code> {a.state}</div>)}</dd>
          {desc.result && (
            <>
              <dt>Result</dt>
              <dd id="task-result">
                {desc.result.exit_code !== undefined ? `exit code ${desc.result.exit_code}` : desc.result.guest_error ?? desc.result.kind}
                {desc.result.agreed ? ", agreed" : ", not agreed"}, {desc.result.wall_ms.toFixed(1)} ms
              </dd>
            </>
          )}
        </dl>
      )}
      {out && (
        <>
          <h3>Standard output{out.live ? " (live)" : ""}</h3>
          <pre id="task-stdout">{b64decode(out.stdout)}</pre>
          {out.stderr && <><h3>Standard error</h3><pre id="task-stderr">{b64decode(out.stderr)}</pre></>}
        </>
      )}
    </section>
  );
}

export function Tasks() {
  const list = useRPC<Task[]>("task.list", { limit: 100 }, ["task"]);
  const [selected, setSelected] = useState("");
  return (
    <div class="grid">
      <Submit onSubmitted={(id) => { setSelected(id); list.reload(); }} />
      <section class="card" id="tasks">
        <h2>Tasks</h2>
        <Err error={list.error} />
        {list.data && list.data.length === 0 && <p class="muted">No tasks submitted on this node.</p>}
        {list.data && list.data.length > 0 && (
          <table>
            <thead><tr><th>Task</th><th>Program</th><th>State</th><th>Submitted</th></tr></thead>
            <tbody>
              {list.data.map((t) => (
                <tr key={t.id} class={`task ${t.id === selected ? "selected" : ""}`} data-task={t.id} onClick={() => setSelected(t.id)}>
                  <td><a href="#/tasks" onClick={(e) => { e.preventDefault(); setSelected(t.id); }}><code>{short(t.id, 8)}</code></a></td>
                  <td>{t.name ?? ""}</td><td class={`state ${t.state}`}>{t.state}</td><td>{time(t.created)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {selected && <Detail id={selected} />}
    </div>
  );
}
