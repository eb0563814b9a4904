-- How the response cache or an idempotency key served a request (src/replay): 'hit', 'miss',
-- 'bypass', 'replay'; NULL when neither applied. Counted per tenant by GET /api/stats.
ALTER TABLE request_log ADD COLUMN cache TEXT;
