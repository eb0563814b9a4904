// Small pieces every page uses: loading an API answer, tables, fields, copy buttons, notices.
// Everything is rendered by Preact as text nodes and attributes: no HTML is ever parsed from data.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { t } from "./i18n";

export type Loaded<T> = { data: T | undefined; error: string; reload: () => Promise<void> };

/** Runs `load` now and whenever `deps` change; a newer load supersedes one still in flight. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  const ticket = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++ticket.current;
    try {
      const d = await load();
      if (mine === ticket.current) { setData(d); setError(""); }
    } catch (e) {
      if (mine === ticket.current) setError((e as Error).message);
    }
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { data, error, reload };
}

/** Runs `f` every `ms` while the component is shown (and `on`). */
export function useEvery(ms: number, f: () => void, on = true) {
  const latest = useRef(f);
  latest.current = f;
  useEffect(() => {
    if (!on) return;
    const id = setInterval(() => latest.current(), ms);
    return () => clearInterval(id);
  }, [ms, on]);
}

/** An action's error, shown under a form; `run` wraps a handler so a failure lands there. */
export function useAction(): [string, (f: () => Promise<unknown>) => Promise<void>, (msg: string) => void] {
  const [error, setError] = useState("");
  const run = async (f: () => Promise<unknown>) => {
    setError("");
    try { await f(); } catch (e) { setError((e as Error).message); }
  };
  return [error, run, setError];
}

export const ErrorText = ({ text }: { text?: string }) => (text ? <p class="error" role="alert">{text}</p> : null);

export function Section({ title, hint, actions, children }: { title: string; hint?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="panel">
      <div class="panel-head"><h2>{title}</h2>{actions ? <div class="actions">{actions}</div> : null}</div>
      {hint ? <p class="hint">{hint}</p> : null}
      {children}
    </section>
  );
}

export function Table({ head, rows, empty, testid }: { head: ComponentChildren[]; rows: ComponentChildren[][]; empty: string; testid?: string }) {
  return (
    <div class="scroll">
      <table data-testid={testid}>
        <thead><tr>{head.map((h, i) => <th key={i}>{h}</th>)}</tr></thead>
        <tbody>
          {rows.length
            ? rows.map((r, i) => <tr key={i}>{r.map((c, j) => <td key={j} data-label={typeof head[j] === "string" ? head[j] as string : undefined}>{c}</td>)}</tr>)
            : <tr><td colSpan={head.length} class="muted">{empty}</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export function Field({ label, children, wide }: { label: string; children: ComponentChildren; wide?: boolean }) {
  return <label class={wide ? "field wide" : "field"}><span>{label}</span>{children}</label>;
}

/** A form whose submit runs `onSubmit` with its fields (numbers as numbers, checkboxes as booleans). */
export function Form({ onSubmit, children, class: cls = "grid", testid }: {
  onSubmit: (values: Record<string, string | number | boolean>, form: HTMLFormElement) => Promise<unknown> | void;
  children: ComponentChildren; class?: string; testid?: string;
}) {
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    onSubmit(formValues(form), form);
  };
  return <form class={cls} onSubmit={submit} data-testid={testid}>{children}</form>;
}

export function formValues(form: HTMLFormElement): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const el of Array.from(form.elements) as HTMLInputElement[]) {
    if (!el.name) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.value !== "") out[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return out;
}

export function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); setDone(true); setTimeout(() => setDone(false), 1500); } catch { /* no clipboard: the text is selectable */ }
  };
  return <button type="button" class="small" onClick={copy}>{done ? t("Copied") : t("Copy")}</button>;
}

/** Code to paste somewhere, with a copy button. */
export function Snippet({ text, testid }: { text: string; testid?: string }) {
  return <div class="snippet"><pre data-testid={testid}>{text}</pre><CopyButton text={text} /></div>;
}

/** A secret shown once (a new key, an enrollment's secret). */
export function ShownOnce({ label, value }: { label: string; value: string }) {
  return (
    <div class="notice" role="status">
      <p>{label}</p>
      <div class="snippet"><code data-testid="shown-once">{value}</code><CopyButton text={value} /></div>
    </div>
  );
}

export function Pill({ kind, children }: { kind: "ok" | "bad" | "warn" | "muted"; children: ComponentChildren }) {
  return <span class={`pill ${kind}`}>{children}</span>;
}

export function Modal({ title, onClose, children }: { title: ComponentChildren; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => { ref.current?.showModal(); }, []);
  return (
    <dialog ref={ref} onClose={onClose} class="modal">
      <div class="panel-head"><h2>{title}</h2><button class="link" onClick={() => ref.current?.close()}>{t("Close")}</button></div>
      {children}
    </dialog>
  );
}

/** Buttons that move a list item up or down, and drag-and-drop between items. */
export function useReorder<T>(items: T[], setItems: (next: T[]) => void) {
  const dragged = useRef<number | null>(null);
  const move = (from: number, to: number) => {
    if (to < 0 || to >= items.length || from === to) return;
    const next = [...items];
    const [it] = next.splice(from, 1);
    next.splice(to, 0, it);
    setItems(next);
  };
  const handle = (i: number) => ({
    draggable: true,
    onDragStart: () => { dragged.current = i; },
    onDragOver: (e: DragEvent) => e.preventDefault(),
    onDrop: (e: DragEvent) => { e.preventDefault(); if (dragged.current !== null) move(dragged.current, i); dragged.current = null; },
  });
  return { move, handle };
}
