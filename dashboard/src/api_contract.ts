// The API client's types checked against the OpenAPI document (types generated from it by
// scripts/openapi-types.mjs): for every route the client names, what the document says the route
// answers must fit what the client expects, and what the client sends must fit the route's
// documented body. `tsc` fails naming the routes that do not (see `Mismatched`).
import type { Routes } from "./api";
import type { Ops } from "./generated/openapi";

type Answers<K extends keyof Routes> = K extends keyof Ops ? ([Ops[K]["res"]] extends [Routes[K]["res"]] ? true : false) : false;
type Sends<K extends keyof Routes> = K extends keyof Ops
  ? [Routes[K]["body"]] extends [undefined] ? true : [Routes[K]["body"]] extends [Ops[K]["body"]] ? true : false
  : false;

/** The routes whose client types disagree with the document; `never` when there are none. */
export type Mismatched = { [K in keyof Routes]: Answers<K> extends true ? (Sends<K> extends true ? never : K) : K }[keyof Routes];

// An error on this line lists the mismatched routes.
export const contractHolds: [Mismatched] extends [never] ? true : Mismatched = true;
