import { useState } from "preact/hooks";
import { rpc } from "../api";
import { useRPC } from "../hooks";
import { short, Err } from "../util";

interface Balance { account: string; peer_id: string; balance: number; staked: number; pending: number; height: number; confirmed_height: number; supply: number }
interface Entry { hash: string; kind: string; amount: number; counterparty_peer?: string; counterparty?: string; balance: number; epoch: number; confirmed: boolean }

// credits shows micro-credits as credits.
export function credits(micro: number): string {
  return `${(micro / 1e6).toLocaleString(undefined, { maximumFractionDigits: 6 })} cr`;
}

export function Wallet() {
  // The ledger publishes no events yet: the page looks again every 3 s.
  const bal = useRPC<Balance>("wallet.balance", undefined, [], 3000);
  const hist = useRPC<Entry[]>("wallet.history", { limit: 50 }, [], 3000);
  const [to, setTo] = useState("");
  const [amount, setAmount] = useState("");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const micro = Number(amount);
  const valid = to.trim() !== "" && Number.isInteger(micro) && micro > 0;
  const send = async (e: Event) => {
    e.preventDefault();
    setNote("");
    setBusy(true);
    try {
      const r = await rpc<{ hash: string; confirmed: boolean }>("wallet.send", { to: to.trim(), amount: micro, wait: true });
      setAmount("");
      setNote(`Sent${r.confirmed ? " and confirmed" : ""}: ${short(r.hash)}`);
      bal.reload();
      hist.reload();
    } catch (err: any) {
      setNote(err.message ?? String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="grid">
      <section class="card" id="wallet">
        <h2>Wallet</h2>
        {bal.error ? <p class="muted">{bal.error}</p> : bal.data && (
          <dl>
            <dt>Balance</dt><dd id="wallet-balance">{credits(bal.data.balance)}</dd>
            <dt>Staked</dt><dd>{credits(bal.data.staked)}</dd>
            <dt>Pending</dt><dd>{credits(bal.data.pending)}</dd>
            <dt>Chain</dt><dd>{bal.data.confirmed_height} of {bal.data.height} blocks confirmed</dd>
            <dt>Account</dt><dd title={bal.data.account}>{short(bal.data.account)}</dd>
          </dl>
        )}
      </section>
      <form class="card" id="wallet-send" onSubmit={send}>
        <h2>Send</h2>
        <label for="wallet-to">To (peer ID or account)</label>
        <input id="wallet-to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        <label for="wallet-amount">Amount (micro-credits)</label>
        <input id="wallet-amount" inputMode="numeric" value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={!valid || busy}>{busy ? "Sending…" : "Send"}</button>
        <Err error={note.startsWith("Sent") ? "" : note} />
        {note.startsWith("Sent") && <p class="muted" id="wallet-sent">{note}</p>}
      </form>
      <section class="card wide">
        <h2>History</h2>
        {hist.error ? <p class="muted">{hist.error}</p> : hist.data && (
          hist.data.length === 0 ? <p class="muted">No blocks yet: credits held since the genesis have none.</p> : (
            <table id="wallet-history">
              <thead><tr><th>Kind</th><th>Amount</th><th>With</th><th>Balance after</th><th>Epoch</th><th></th></tr></thead>
              <tbody>
                {hist.data.map((b) => (
                  <tr key={b.hash} class={`block ${b.kind}`}>
                    <td>{b.kind}</td><td>{credits(b.amount)}</td>
                    <td title={b.counterparty_peer ?? b.counterparty}>{short(b.counterparty_peer ?? b.counterparty)}</td>
                    <td>{credits(b.balance)}</td><td>{b.epoch}</td><td>{b.confirmed ? "confirmed" : "pending"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        )}
      </section>
    </div>
  );
}
