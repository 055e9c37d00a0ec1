import { useState } from "preact/hooks";
import { rpc } from "../api";
import { useRPC } from "../hooks";
import { short, time, Err } from "../util";

interface Message { seq: number; id: string; from: string; name: string; sent: string; text: string; route: string }

export function Chat() {
  const inbox = useRPC<Message[]>("chat.inbox", {}, ["chat"]);
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [note, setNote] = useState("");
  const send = async (e: Event) => {
    e.preventDefault();
    setNote("");
    try {
      const r = await rpc<{ state: string }>("chat.send", { to: to.trim(), text });
      setText("");
      setNote(`Sent (${r.state}).`);
    } catch (err: any) {
      setNote(err.message ?? String(err));
    }
  };
  return (
    <div class="grid">
      <section class="card wide" id="chat">
        <h2>Direct messages</h2>
        {inbox.error ? <p class="muted">{inbox.error}</p> : inbox.data && (
          inbox.data.length === 0 ? <p class="muted">No messages.</p> : (
            <ul class="messages">
              {inbox.data.slice().reverse().map((m) => (
                <li key={m.seq}><span class="muted">{time(m.sent)}</span> <b title={m.from}>{m.name || short(m.from)}</b>: {m.text}</li>
              ))}
            </ul>
          )
        )}
      </section>
      <form class="card" onSubmit={send}>
        <h2>Send</h2>
        <label for="chat-to">To (peer ID or name)</label>
        <input id="chat-to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        <label for="chat-text">Message</label>
        <textarea id="chat-text" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        <button type="submit" disabled={!to.trim() || !text}>Send</button>
        <Err error={note.startsWith("Sent") ? "" : note} />
        {note.startsWith("Sent") && <p class="muted">{note}</p>}
      </form>
    </div>
  );
}
