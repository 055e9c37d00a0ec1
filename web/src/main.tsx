import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { login, resume, logout, connectEvents, disconnectEvents } from "./api";
import { setSessionLost } from "./hooks";
import { Overview } from "./pages/overview";
import { Directory } from "./pages/directory";
import { Tasks } from "./pages/tasks";
import { Relays } from "./pages/relays";
import { Chat } from "./pages/chat";
import { Wallet } from "./pages/wallet";
import "./style.css";

const pages: Record<string, { title: string; view: () => any }> = {
  overview: { title: "Overview", view: () => <Overview /> },
  directory: { title: "Directory", view: () => <Directory /> },
  tasks: { title: "Tasks", view: () => <Tasks /> },
  relays: { title: "Relays", view: () => <Relays /> },
  chat: { title: "Chat", view: () => <Chat /> },
  wallet: { title: "Wallet", view: () => <Wallet /> },
};

function route(): string {
  const r = location.hash.replace(/^#\/?/, "");
  return r in pages ? r : "overview";
}

function Login({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await login(token.trim());
      setToken("");
      onDone();
    } catch (err: any) {
      setError(err.message ?? String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card" onSubmit={submit} id="login-form">
        <h1>fog</h1>
        <p class="muted">
          Type this node's API token (the file <code>api.token</code> in its data directory).
        </p>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="off" value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy || token.trim() === ""}>Log in</button>
        {error && <p class="error" id="login-error">{error}</p>}
      </form>
    </main>
  );
}

function App() {
  const [state, setState] = useState<"checking" | "out" | "in">("checking");
  const [page, setPage] = useState(route());
  const [live, setLive] = useState(false);
  useEffect(() => {
    resume().then((ok) => setState(ok ? "in" : "out"));
    const onHash = () => setPage(route());
    addEventListener("hashchange", onHash);
    setSessionLost(() => {
      disconnectEvents();
      setState("out");
    });
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => {
    if (state === "in") connectEvents(setLive);
  }, [state]);
  if (state === "checking") return null;
  if (state === "out") return <Login onDone={() => setState("in")} />;
  return (
    <div class="layout">
      <nav>
        <span class="brand">fog</span>
        {Object.entries(pages).map(([k, p]) => (
          <a href={`#/${k}`} class={k === page ? "active" : ""} id={`nav-${k}`}>{p.title}</a>
        ))}
        <span class="spacer" />
        <span class={live ? "live on" : "live"} title="event stream" id="live">{live ? "live" : "offline"}</span>
        <button class="link" onClick={async () => {
          await logout();
          disconnectEvents();
          setState("out");
        }}>Log out</button>
      </nav>
      <main>{pages[page].view()}</main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
