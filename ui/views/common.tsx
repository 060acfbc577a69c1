// Small pieces every view uses: the error box (etcd's message and what to do about it), a
// confirmation, polling, and a section frame.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { adviceFor } from "../lib/advice.ts";

export function ErrorBox({ error, testid = "error" }: { error: unknown; testid?: string }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : String(error);
  const advice = adviceFor(message);
  return (
    <div class="error" role="alert" data-testid={testid}>
      <div class="error-message">{message}</div>
      {advice !== undefined && <div class="error-advice">{advice}</div>}
    </div>
  );
}

export function Notice({ children, testid = "notice" }: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="notice" role="status" data-testid={testid}>
      {children}
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel">
      <header class="panel-head">
        <h2>{title}</h2>
        {actions !== undefined && <div class="panel-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** An inline confirmation: the question, then Confirm / Cancel. */
export function Confirm(props: { question: string; confirmLabel: string; onConfirm: () => void; onCancel: () => void }) {
  return (
    <div class="confirm" role="dialog" data-testid="confirm">
      <p>{props.question}</p>
      <button class="danger" data-testid="confirm-yes" onClick={props.onConfirm}>
        {props.confirmLabel}
      </button>{" "}
      <button data-testid="confirm-no" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/**
 * Calls `fn` now and then every `ms` after each call settles (never two at once); stops on
 * unmount. Skips ticks while the tab is hidden.
 */
/**
 * Runs `fn` now and every `ms` while the page is visible (again when `deps` change). Returns the
 * last read's error, undefined once a read succeeds; a read that failed (an election, a member
 * restarting) is tried again within a second instead of a whole period later.
 */
export function usePoll(fn: (signal: AbortSignal) => Promise<void>, ms: number, deps: unknown[] = []): unknown {
  const saved = useRef(fn);
  saved.current = fn;
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      let failed = false;
      if (!document.hidden) {
        try {
          await saved.current(ac.signal);
          if (!ac.signal.aborted) setError(undefined);
        } catch (err) {
          failed = true;
          if (!ac.signal.aborted) setError(err);
        }
      }
      if (!ac.signal.aborted) timer = setTimeout(tick, failed ? Math.min(ms, 1000) : ms);
    };
    void tick();
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  return error;
}

/** Runs an action, keeping its error and a busy flag for the button that started it. */
export function useAction(): { busy: boolean; error: unknown; run: (fn: () => Promise<void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  return {
    busy,
    error,
    clear: () => setError(undefined),
    run: async (fn) => {
      setBusy(true);
      setError(undefined);
      try {
        await fn();
      } catch (err) {
        setError(err);
      } finally {
        setBusy(false);
      }
    },
  };
}

/** Saves `data` as a file through a temporary object URL (no navigation, nothing in the history). */
export function saveFile(name: string, data: Blob): void {
  const url = URL.createObjectURL(data);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
