// Who is signed in, the provider catalog and the tenant in view, for every page.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { CatalogProvider, Me } from "./api";

export type SessionInfo = { me: Me; catalog: CatalogProvider[]; tenant: string; refreshMe: () => Promise<void> };
export const Session = createContext<SessionInfo>(null as unknown as SessionInfo);
export const useSession = () => useContext(Session);
