// Combos (ordered targets with a strategy; reorder by dragging or with the arrows), aliases and
// fallback chains.
import { useState } from "preact/hooks";
import { api, type Combo } from "../api";
import { list } from "../format";
import { t } from "../i18n";
import { ErrorText, Field, Form, Section, Table, useAction, useLoad, useReorder } from "../ui";

const STRATEGIES = ["priority", "round_robin", "weighted", "random", "least_used", "cost_optimized", "p2c"];

export function Routing() {
  return (<><Combos /><Aliases /><Chains /></>);
}

function Combos() {
  const combos = useLoad(() => api("GET /api/combos"));
  const models = useLoad(() => api("GET /api/models/catalog"));
  const [editing, setEditing] = useState<Combo | null>(null);
  const [error, run] = useAction();
  return (
    <Section title={t("Combos")} hint={t("A combo is a model name that serves from its targets in turn: when one fails, the next is tried within the same request.")}
      actions={<button data-testid="new-combo" onClick={() => setEditing({ name: "", strategy: "priority", targets: [] })}>{t("New combo")}</button>}>
      <Table testid="combos" head={[t("Name"), t("Strategy"), t("Targets"), ""]} empty={t("No combos yet.")}
        rows={(combos.data?.data ?? []).map((c) => [
          <code>{c.name}</code>, c.strategy, c.targets.map((x) => x.model).join(" → "),
          <div class="row-actions">
            <button class="small" onClick={() => setEditing(c)}>{t("Edit")}</button>
            <button class="small danger" onClick={() => run(() => api("DELETE /api/combos/{name}", { params: { name: c.name } }).then(combos.reload))}>{t("Delete")}</button>
          </div>,
        ])} />
      <ErrorText text={error || combos.error} />
      {editing ? <ComboEditor key={editing.name} combo={editing} models={(models.data?.data ?? []).flatMap((g) => g.models.map((m) => m.id))}
        onDone={() => { setEditing(null); combos.reload(); }} onCancel={() => setEditing(null)} /> : null}
    </Section>
  );
}

function ComboEditor({ combo, models, onDone, onCancel }: { combo: Combo; models: string[]; onDone: () => void; onCancel: () => void }) {
  const [name, setName] = useState(combo.name);
  const [strategy, setStrategy] = useState(combo.strategy);
  const [targets, setTargets] = useState(combo.targets.map((x) => ({ model: x.model, weight: x.weight ?? 1 })));
  const [adding, setAdding] = useState("");
  const [error, run] = useAction();
  const { move, handle } = useReorder(targets, setTargets);
  const add = () => { const m = adding.trim(); if (m) { setTargets([...targets, { model: m, weight: 1 }]); setAdding(""); } };
  const save = () => run(async () => {
    await api("POST /api/combos", { body: { ...combo, name: name.trim(), strategy, targets: targets.map((x) => (strategy === "weighted" ? x : { model: x.model })) } });
    onDone();
  });
  return (
    <div class="editor" data-testid="combo-editor">
      <div class="grid">
        <Field label={t("Name")}><input name="combo-name" value={name} readOnly={!!combo.name} onInput={(e) => setName(e.currentTarget.value)} placeholder="coding" /></Field>
        <Field label={t("Strategy")}>
          <select value={strategy} onChange={(e) => setStrategy(e.currentTarget.value as Combo["strategy"])}>{STRATEGIES.map((s) => <option value={s}>{s}</option>)}</select>
        </Field>
      </div>
      <ol class="targets">
        {targets.map((x, i) => (
          <li key={`${x.model}-${i}`} {...handle(i)} data-testid="combo-target">
            <span class="grip" aria-hidden="true">⋮⋮</span>
            <code>{x.model}</code>
            {strategy === "weighted"
              ? <input type="number" min="0" class="weight" aria-label={t("Weight")} value={x.weight}
                onInput={(e) => setTargets(targets.map((y, j) => (j === i ? { ...y, weight: Number(e.currentTarget.value) } : y)))} /> : null}
            <button class="small" aria-label={t("Move up")} onClick={() => move(i, i - 1)} disabled={i === 0}>↑</button>
            <button class="small" aria-label={t("Move down")} onClick={() => move(i, i + 1)} disabled={i === targets.length - 1}>↓</button>
            <button class="small danger" aria-label={t("Remove")} onClick={() => setTargets(targets.filter((_, j) => j !== i))}>✕</button>
          </li>
        ))}
      </ol>
      <div class="inline">
        <input list="combo-models" value={adding} data-testid="combo-add-model" placeholder={t("provider/model, alias or combo")}
          onInput={(e) => setAdding(e.currentTarget.value)} onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); add(); } }} />
        <button class="small" onClick={add}>{t("Add target")}</button>
        <datalist id="combo-models">{models.map((m) => <option value={m} />)}</datalist>
      </div>
      <div class="inline">
        <button data-testid="save-combo" onClick={save} disabled={!name.trim() || !targets.length}>{t("Save combo")}</button>
        <button class="link" onClick={onCancel}>{t("Cancel")}</button>
      </div>
      <ErrorText text={error} />
    </div>
  );
}

function Aliases() {
  const aliases = useLoad(() => api("GET /api/aliases"));
  const [error, run] = useAction();
  return (
    <Section title={t("Aliases")} hint={t("A name (or a pattern with * and ?) that stands for a model or a combo.")}>
      <Table head={[t("Name or pattern"), t("Target"), ""]} empty={t("No aliases yet.")}
        rows={(aliases.data?.data ?? []).map((a) => [
          <code>{a.pattern}</code>, <code>{a.target}</code>,
          <button class="small danger" onClick={() => run(() => api("DELETE /api/aliases", { query: { pattern: a.pattern } }).then(aliases.reload))}>{t("Delete")}</button>,
        ])} />
      <Form onSubmit={(v, form) => run(async () => {
        await api("POST /api/aliases", { body: { pattern: String(v.pattern).trim(), target: String(v.target).trim() } });
        form.reset();
        await aliases.reload();
      })}>
        <Field label={t("Name or pattern")}><input name="pattern" required placeholder="claude-*" /></Field>
        <Field label={t("Target")}><input name="target" required placeholder="coding" /></Field>
        <button type="submit">{t("Save alias")}</button>
      </Form>
      <ErrorText text={error || aliases.error} />
    </Section>
  );
}

function Chains() {
  const chains = useLoad(() => api("GET /api/fallback-chains"));
  const [error, run] = useAction();
  return (
    <Section title={t("Fallback chains")} hint={t("What to try, in order, after a model fails.")}>
      <Table head={[t("Model"), t("Then try"), ""]} empty={t("No fallback chains yet.")}
        rows={(chains.data?.data ?? []).map((c) => [
          <code>{c.model}</code>, c.chain.join(" → "),
          <button class="small danger" onClick={() => run(() => api("DELETE /api/fallback-chains", { query: { model: c.model } }).then(chains.reload))}>{t("Delete")}</button>,
        ])} />
      <Form onSubmit={(v, form) => run(async () => {
        await api("POST /api/fallback-chains", { body: { model: String(v.model).trim(), chain: list(String(v.chain)) } });
        form.reset();
        await chains.reload();
      })}>
        <Field label={t("Model")}><input name="model" required placeholder="openai/gpt-4.1" /></Field>
        <Field label={t("Then try (comma-separated)")}><input name="chain" required placeholder="ds/deepseek-chat" /></Field>
        <button type="submit">{t("Save chain")}</button>
      </Form>
      <ErrorText text={error || chains.error} />
    </Section>
  );
}
