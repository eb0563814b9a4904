// English and Brazilian Portuguese. The English text is the key: `t("Providers")` is itself in
// English and is looked up in `PT` otherwise, so a string never goes missing, only untranslated (a
// test lists every `t(…)` and `en(…)` text of the sources and checks that PT has it). `{name}` marks a value.
import { PT } from "./i18n_pt";

export type Lang = "en" | "pt-BR";
export const LANGS: Lang[] = ["en", "pt-BR"];
let lang: Lang = initial();

function initial(): Lang {
  const saved = localStorage.getItem("oe.lang");
  if (saved === "en" || saved === "pt-BR") return saved;
  return navigator.language?.toLowerCase().startsWith("pt") ? "pt-BR" : "en";
}

export function setLang(l: Lang) {
  lang = l;
  localStorage.setItem("oe.lang", l);
  document.documentElement.lang = l;
}
export const currentLang = () => lang;
export const locale = () => (lang === "pt-BR" ? "pt-BR" : "en-US");

export function t(text: string, values: Record<string, string | number> = {}): string {
  const template = lang === "pt-BR" ? PT[text] ?? text : text;
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}

/** Marks an English text kept in a table and translated where it is shown (`t(page.label)`), so
 *  the translation check finds it. */
export const en = (text: string) => text;
