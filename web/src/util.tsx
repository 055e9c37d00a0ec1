export function short(id: string | undefined, n = 10): string {
  if (!id) return "";
  return id.length > n + 4 ? `${id.slice(0, 4)}…${id.slice(-n)}` : id;
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function ms(v: number | undefined): string {
  return v && v > 0 ? `${v.toFixed(1)} ms` : "–";
}

export function time(t: string | undefined): string {
  if (!t || t.startsWith("0001")) return "";
  return new Date(t).toLocaleTimeString();
}

export function Err({ error }: { error: string }) {
  return error ? <p class="error">{error}</p> : null;
}
