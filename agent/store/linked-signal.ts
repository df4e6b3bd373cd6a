/**
 * An AbortSignal that aborts when any of `signals` does, and a dispose() that unhooks it.
 *
 * Not AbortSignal.any: on Node 20 every call leaves a WeakRef in each source signal's set of
 * dependants that is never removed, so combining with a signal that lives as long as the process
 * (the Locksmith's close signal) grew the heap by one WeakRef per lock acquisition, forever.
 */
export function linkedSignal(signals: readonly AbortSignal[]): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onAbort = (event: Event) => {
    dispose();
    ac.abort((event.target as AbortSignal).reason);
  };
  const dispose = () => {
    for (const s of signals) s.removeEventListener('abort', onAbort);
  };
  for (const s of signals) {
    if (s.aborted) {
      dispose();
      ac.abort(s.reason);
      break;
    }
    s.addEventListener('abort', onAbort, { once: true });
  }
  return { signal: ac.signal, dispose };
}
