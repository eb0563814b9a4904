// What cloud-sync clients do with a push's answer, as their own code does it, so tests can apply it to
// the gateway's actual answers and see what happens to a user's local rows.
//
// OmniRoute 3.7.9 (read from its npm bundle, `app/api/sync/cloud/route.js`): after every push, for each
// local connection whose id is in `data.providers` with a non-empty entry C, if time(C.updatedAt) >
// time(L.updatedAt) it updates the row with the fields below, a missing value stored as null. Its
// time() is `new Date(v).getTime()` for strings, numbers and dates, and 0 for anything else or NaN.
// OmniRoute 3.8.6+ does the same, but takes accessToken, refreshToken and providerSpecificData only
// with OMNIROUTE_CLOUD_SYNC_SECRETS=true. The 9router client merged the same way as 3.7.9, and
// unlike OmniRoute it pushes whole rows, `updatedAt` included.

/** OmniRoute's push: these fields of each local row, those that are set (3.7.9 and 3.8 alike). */
const OMNIROUTE_PUSHED = ["id", "provider", "authType", "name", "displayName", "email", "priority", "globalPriority",
  "defaultModel", "isActive", "accessToken", "refreshToken", "expiresAt", "expiresIn", "tokenType", "scope", "idToken",
  "projectId", "apiKey", "providerSpecificData", "group"];

function time(v) {
  if (typeof v === "string" || typeof v === "number" || v instanceof Date) {
    const t = new Date(v).getTime();
    return Number.isFinite(t) ? t : 0;
  }
  return 0;
}

const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const orNull = (v) => (v === undefined ? null : v);

/** Applies one answer's `data.providers` to `rows` (an array of local rows, changed in place). */
function merge(rows, providers, { secrets }) {
  const answered = obj(providers);
  for (const row of rows) {
    const c = obj(answered[row.id]);
    if (Object.keys(c).length === 0 || !(time(c.updatedAt) > time(row.updatedAt))) continue;
    const update = {
      expiresAt: c.expiresAt, expiresIn: c.expiresIn, testStatus: c.status || "active", lastError: c.lastError,
      lastErrorAt: c.lastErrorAt, errorCode: c.errorCode, rateLimitedUntil: c.rateLimitedUntil, updatedAt: c.updatedAt,
    };
    if (secrets) {
      Object.assign(update, { accessToken: c.accessToken, refreshToken: c.refreshToken,
        providerSpecificData: c.providerSpecificData || row.providerSpecificData });
    }
    for (const [k, v] of Object.entries(update)) row[k] = orNull(v);
  }
}

/** The clients, each with how it pushes its rows and how it merges an answer. */
export const CLIENTS = {
  "OmniRoute 3.7.9": {
    push: omnirouteProviders,
    merge: (rows, providers) => merge(rows, providers, { secrets: true }),
  },
  "OmniRoute 3.8": {
    push: omnirouteProviders,
    merge: (rows, providers) => merge(rows, providers, { secrets: false }),
  },
  "OmniRoute 3.8 with OMNIROUTE_CLOUD_SYNC_SECRETS=true": {
    push: omnirouteProviders,
    merge: (rows, providers) => merge(rows, providers, { secrets: true }),
  },
  "9router": {
    push: (rows) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined))),
    merge: (rows, providers) => merge(rows, providers, { secrets: true }),
  },
};

function omnirouteProviders(rows) {
  return rows.map((r) => Object.fromEntries(OMNIROUTE_PUSHED.filter((k) => r[k] !== undefined && r[k] !== null).map((k) => [k, r[k]])));
}
