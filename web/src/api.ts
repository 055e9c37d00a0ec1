// The node's API as the dashboard uses it: login into a session cookie,
// JSON-RPC calls carrying the session's CSRF token, and the event stream.

let csrf = "";

export class RPCError extends Error {
  constructor(public code: number, message: string) {
    super(message);
  }
}

/** Unauthorized is thrown when the session is gone (the page shows the login). */
export class Unauthorized extends Error {}

/** login posts the token (never in the URL) and keeps the CSRF token. */
export async function login(token: string): Promise<void> {
  const rsp = await fetch("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (rsp.status === 429) throw new Error("Too many failed attempts: wait a minute.");
  if (rsp.status === 401) throw new Error("Wrong token.");
  if (!rsp.ok) throw new Error(`Login failed: HTTP ${rsp.status}`);
  csrf = (await rsp.json()).csrf;
}

/** resume picks up the session of a reloaded page; false if there is none. */
export async function resume(): Promise<boolean> {
  const rsp = await fetch("/session");
  if (!rsp.ok) return false;
  csrf = (await rsp.json()).csrf;
  return true;
}

export async function logout(): Promise<void> {
  await fetch("/logout", { method: "POST", headers: { "X-Fog-CSRF": csrf } });
  csrf = "";
}

let nextID = 1;

/** rpc calls a JSON-RPC method of the node. */
export async function rpc<T>(method: string, params?: unknown): Promise<T> {
  const body: Record<string, unknown> = { jsonrpc: "2.0", id: nextID++, method };
  if (params !== undefined) body.params = params;
  const rsp = await fetch("/rpc", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Fog-CSRF": csrf },
    body: JSON.stringify(body),
  });
  if (rsp.status === 401 || rsp.status === 403) throw new Unauthorized("session ended");
  if (!rsp.ok) throw new Error(`HTTP ${rsp.status}`);
  const reply = await rsp.json();
  if (reply.error) throw new RPCError(reply.error.code, reply.error.message);
  return reply.result as T;
}

export interface FogEvent {
  seq: number;
  type: string;
  time: string;
  data?: any;
}

type Listener = (ev: FogEvent) => void;
const listeners = new Set<Listener>();
/** recent holds the newest events, newest first, for the event log. */
export const recent: FogEvent[] = [];
let source: EventSource | null = null;
let onState: (live: boolean) => void = () => {};

/** connectEvents opens the one event stream the pages share. */
export function connectEvents(state: (live: boolean) => void): void {
  onState = state;
  if (source) return;
  source = new EventSource("/events");
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
  source.onmessage = (m) => {
    const ev = JSON.parse(m.data) as FogEvent;
    recent.unshift(ev);
    if (recent.length > 30) recent.length = 30;
    for (const l of listeners) l(ev);
  };
}

export function disconnectEvents(): void {
  source?.close();
  source = null;
  onState(false);
}

/** onEvent calls fn with every event; it returns the unsubscribe. */
export function onEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function b64encode(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function b64decode(s: string | null | undefined): string {
  if (!s) return "";
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
