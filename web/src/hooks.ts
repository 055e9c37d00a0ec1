import { useEffect, useState, useCallback } from "preact/hooks";
import { rpc, onEvent, Unauthorized, FogEvent } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: string;
  reload: () => void;
}

let sessionLost: () => void = () => {};
export function setSessionLost(fn: () => void) {
  sessionLost = fn;
}

/**
 * useRPC calls method and calls it again when an event of one of the
 * categories arrives, and every `every` ms if given.
 */
export function useRPC<T>(method: string, params: unknown, categories: string[], every = 0): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const key = JSON.stringify(params ?? null);
  useEffect(() => {
    let live = true;
    rpc<T>(method, params)
      .then((d) => {
        if (live) {
          setData(d);
          setError("");
        }
      })
      .catch((e) => {
        if (e instanceof Unauthorized) sessionLost();
        else if (live) setError(String(e.message ?? e));
      });
    return () => {
      live = false;
    };
  }, [method, key, tick]);
  useEffect(() => {
    const off = onEvent((ev: FogEvent) => {
      if (categories.includes(ev.type.split(".")[0])) reload();
    });
    const timer = every > 0 ? setInterval(reload, every) : 0;
    return () => {
      off();
      if (timer) clearInterval(timer);
    };
  }, [categories.join(","), every]);
  return { data, error, reload };
}
