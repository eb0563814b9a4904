-- Per-key limits (src/limits/key_limits.rs): budgets in USD per day/week/month, requests and tokens
-- per minute, as one validated JSON object; NULL for a key without limits. Enforced by the key's
-- KeyLedger Durable Object (docs/state.md).
ALTER TABLE api_keys ADD COLUMN limits TEXT;

-- Per-connection limits (src/limits/connection.rs): requests per minute, minimum gap, concurrency;
-- NULL for none. Enforced by the connection's ConnectionSlots Durable Object.
ALTER TABLE provider_connections ADD COLUMN limits TEXT;
