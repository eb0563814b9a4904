// The dashboard's shell: sign-in, navigation by the URL's hash (`#/providers`; the worker serves
// one page and needs no route of its own), language, theme and tenant. Pages live in pages/.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, setTenant, whenSignedOut, type CatalogProvider, type Me } from "./api";
import { currentLang, en, LANGS, setLang, t, type Lang } from "./i18n";
import { Session } from "./session";
import { credential } from "./proof";
import { ErrorText } from "./ui";

type View = () => preact.JSX.Element;
type Page = { path: string; label: string; load: () => Promise<View>; owner?: boolean };
// Labels are English keys, translated when shown. Each page's code is loaded when it is first
// opened (its own chunk), so signing in and the first page load only what they show.
export const PAGES: Page[] = [
  { path: "overview", label: en("Overview"), load: () => import("./pages/overview").then((m) => m.Overview) },
  { path: "providers", label: en("Providers"), load: () => import("./pages/providers").then((m) => m.Providers) },
  { path: "routing", label: en("Routing"), load: () => import("./pages/routing").then((m) => m.Routing) },
  { path: "keys", label: en("API keys"), load: () => import("./pages/keys").then((m) => m.Keys) },
  { path: "usage", label: en("Usage"), load: () => import("./pages/usage").then((m) => m.Usage) },
  { path: "health", label: en("Health"), load: () => import("./pages/health").then((m) => m.Health) },
  { path: "logs", label: en("Logs"), load: () => import("./pages/logs").then((m) => m.Logs) },
  { path: "playground", label: en("Playground"), load: () => import("./pages/playground").then((m) => m.Playground) },
  { path: "tools", label: en("CLI tools"), load: () => import("./pages/tools").then((m) => m.Tools) },
  { path: "sync", label: en("Sync"), load: () => import("./pages/sync").then((m) => m.Sync), owner: true },
  { path: "settings", label: en("Settings"), load: () => import("./pages/settings").then((m) => m.SettingsPage) },
];

type Theme = "light" | "dark";
function initialTheme(): Theme {
  const saved = localStorage.getItem("oe.theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

const hashPage = () => location.hash.replace(/^#\/?/, "").split("?")[0] || "overview";

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [catalog, setCatalog] = useState<CatalogProvider[]>([]);
  const [page, setPage] = useState(hashPage());
  const [lang, setLangState] = useState<Lang>(currentLang());
  const [theme, setTheme] = useState<Theme>(initialTheme());
  const [tenant, setTenantState] = useState("default");
  const [menu, setMenu] = useState(false);
  const [notice, setNotice] = useState("");

  useEffect(() => {
    const onHash = () => { setPage(hashPage()); setMenu(false); };
    addEventListener("hashchange", onHash);
    whenSignedOut(() => { setMe(null); setNotice(t("Your session has ended; sign in again.")); });
    // A session cookie from an earlier visit may still be live.
    api("GET /api/auth/me").then(enter, () => setMe(null));
    return () => removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => { document.documentElement.dataset.theme = theme; localStorage.setItem("oe.theme", theme); }, [theme]);
  // The module's language is set before the state, so the render it causes is already translated.
  const changeLang = (l: Lang) => { setLang(l); setLangState(l); };
  useEffect(() => { setLang(lang); }, []);

  async function enter(who: Me) {
    const own = who.principal.tenant;
    if (own) { setTenant(own); setTenantState(own); }
    setCatalog((await api("GET /api/providers/catalog")).data);
    setMe(who);
    setNotice("");
  }
  const signOut = async () => { await api("POST /api/auth/logout").catch(() => {}); setMe(null); };
  const changeTenant = (v: string) => { setTenant(v); setTenantState(v || "default"); };

  if (me === undefined) return <div class="boot">…</div>;
  const prefs = (
    <div class="prefs">
      <select aria-label={t("Language")} data-testid="lang" value={lang} onChange={(e) => changeLang(e.currentTarget.value as Lang)}>
        {LANGS.map((l) => <option value={l}>{l === "en" ? "English" : "Português (BR)"}</option>)}
      </select>
      <button class="icon" data-testid="theme" aria-label={t("Switch theme")} title={t("Switch theme")}
        onClick={() => setTheme(theme === "dark" ? "light" : "dark")}>{theme === "dark" ? "☀" : "☾"}</button>
    </div>
  );
  if (me === null) return <SignIn onIn={enter} notice={notice} prefs={prefs} />;

  const isOwner = me.principal.role === "owner";
  const pages = PAGES.filter((p) => !p.owner || isOwner);
  const current = pages.find((p) => p.path === page) ?? pages[0];
  document.title = `${t(current.label)} · omniroute-edge`;
  return (
    <Session.Provider value={{ me, catalog, tenant, refreshMe: async () => enter(await api("GET /api/auth/me")) }}>
      <div class={menu ? "app menu-open" : "app"}>
        <header class="top">
          <button class="icon menu-button" aria-label={t("Menu")} onClick={() => setMenu(!menu)}>☰</button>
          <a class="brand" href="#/overview">omniroute<span>-edge</span></a>
          <div class="session">
            {isOwner
              ? <label class="tenant">{t("Tenant")} <input value={tenant} size={10} onChange={(e) => changeTenant(e.currentTarget.value.trim())} /></label>
              : <span class="muted">{t("Tenant")} {tenant}</span>}
            <span class="who" data-testid="whoami">{isOwner ? t("owner") : `${me.principal.name} (${t("operator")})`}</span>
            {prefs}
            <button class="link" onClick={signOut}>{t("Sign out")}</button>
          </div>
        </header>
        <nav class="side" aria-label={t("Pages")}>
          {pages.map((p) => <a href={`#/${p.path}`} class={p === current ? "active" : ""} aria-current={p === current ? "page" : undefined}>{t(p.label)}</a>)}
        </nav>
        <main key={`${current.path}/${tenant}/${lang}`}><PageView page={current} /></main>
      </div>
    </Session.Provider>
  );
}

const loaded = new Map<string, View>();
function PageView({ page }: { page: Page }) {
  const [view, setView] = useState<{ View: View } | null>(loaded.has(page.path) ? { View: loaded.get(page.path)! } : null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (view) return;
    page.load().then((v) => { loaded.set(page.path, v); setView({ View: v }); }, (e) => setError(String(e)));
  }, [page]);
  if (error) return <ErrorText text={error} />;
  return view ? <view.View /> : <p class="muted">…</p>;
}

function SignIn({ onIn, notice, prefs }: { onIn: (me: Me) => Promise<void>; notice: string; prefs: preact.ComponentChildren }) {
  const [error, setError] = useState(notice);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = e.currentTarget as HTMLFormElement;
    const name = (f.elements.namedItem("name") as HTMLInputElement).value.trim();
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    try {
      const shown = await credential(name, password);
      await onIn(await api("POST /api/auth/login", { body: name ? { name, ...shown } : shown }));
    } catch (err) { setError((err as Error).message); }
  };
  return (
    <div class="signin">
      <div class="panel">
        <div class="panel-head"><h1 class="brand">omniroute<span>-edge</span></h1>{prefs}</div>
        <h2>{t("Sign in")}</h2>
        <p class="hint">{t("Enter your password. Until you set one, it is the gateway's admin secret (ADMIN_SECRET; locally in .dev.vars). A tenant operator also gives its login name.")}</p>
        <form onSubmit={submit} class="stack" data-testid="signin">
          <input name="name" autocomplete="username" placeholder={t("login name (operators only)")} />
          <input name="password" type="password" autocomplete="current-password" placeholder={t("password")} required />
          <button type="submit">{t("Sign in")}</button>
        </form>
        <ErrorText text={error} />
      </div>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
