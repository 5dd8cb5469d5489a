import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's group-commit cycle (GatewayCreditsService) as two server-side calls instead of
 * ~25 round trips under the buyers' locks (docs/BENCHMARKS.md, Gateway: one hot buyer's requests
 * go through one cycle at a time, and each round trip under its lock cost ~1.4 ms on 2 cores).
 * The business rules stay in TypeScript (rating, burn-down order and draws, key limits, listing
 * overflow, alert thresholds are judged by the alerts module); these functions do the locked
 * reads and the writes, in the lock order the TypeScript path used: buyer lock → usage holds →
 * ledger holds → ledger balances (ledger_void_pending) → listing_service rows.
 *
 * `gateway_cycle_begin` (arguments: the buyers; the usage holds of requests that ended with a
 * charge and of those that ended without one; the listings that may be credited; the limited API
 * keys of requests that start; the month; now) takes each buyer's credit lock (id order, the same
 * advisory lock as credits/buyer-lock.ts), locks the closing usage holds, releases the ledger legs
 * of the OPEN ones (marking the charge-less ones VOIDED), and returns as one JSON document: the
 * closing holds and what their release freed, the buyers' spendable and frozen blocks with their
 * balances after that release, their balance settings' thresholds (read only: alerts' table, so
 * the alerts module is called only when one may be crossed), the listings' served credits locked
 * with their allocation and price (read only: listings are their module's), and each limited key's
 * month usage and in-flight holds. Numbers are returned as text (exact decimals).
 *
 * `gateway_cycle_end` (one JSON document) writes what TypeScript decided: usage events, the
 * holds' final states, exhausted blocks, new usage holds (their ledger holds were created by
 * `ledger_create_holds` just before), listing served credits and overflow, API key usage, and the
 * request log rows. Column lists are those of the statements it replaces (plain INSERT ... SELECT
 * and UPDATE, valid on partitioned tables).
 */
export class GatewayCycle1763700000018 implements MigrationInterface {
  name = 'GatewayCycle1763700000018';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION gateway_cycle_begin(
        p_orgs uuid[], p_capture uuid[], p_void uuid[], p_listings uuid[], p_keys uuid[], p_month date, p_now timestamptz
      ) RETURNS jsonb LANGUAGE plpgsql AS $fn$
      DECLARE
        v_org text;
        v_ids uuid[];
        v_legs bigint[];
        v_holds jsonb;
        v_released jsonb;
        v_blocks jsonb;
        v_settings jsonb;
        v_listings jsonb;
        v_keys jsonb;
      BEGIN
        FOR v_org IN SELECT DISTINCT o::text FROM unnest(p_orgs) AS o ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(hashtextextended('usage:' || v_org, 0));
        END LOOP;

        -- Captures see every state (to answer it); releases touch OPEN holds only.
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'org', h.organization_id, 'status', h.status)), '[]'::jsonb),
               array_agg(h.id) FILTER (WHERE h.status = 'OPEN')
          INTO v_holds, v_ids
          FROM (SELECT u.id, u.organization_id, u.status FROM usage_holds u
                 WHERE u.id = ANY(p_capture) OR (u.id = ANY(p_void) AND u.status = 'OPEN')
                 ORDER BY u.id FOR UPDATE) h;
        SELECT array_agg(l ORDER BY l) INTO v_legs FROM usage_holds u, unnest(u.ledger_hold_ids) AS l WHERE u.id = ANY(v_ids);
        SELECT coalesce(jsonb_agg(jsonb_build_object('hold', r.metadata->>'usageHoldId', 'amount', r.amount::text)), '[]'::jsonb)
          INTO v_released FROM ledger_void_pending(coalesce(v_legs, '{}'::bigint[]), p_now) AS r;
        UPDATE usage_holds SET status = 'VOIDED', resolved_at = p_now WHERE id = ANY(p_void) AND id = ANY(v_ids);

        SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'org', c.organization_id, 'status', c.status,
                 'expires', c.expires_at, 'created', c.created_at, 'account', c.ledger_account_id::text,
                 'posted', b.posted::text, 'held', b.held::text)), '[]'::jsonb)
          INTO v_blocks
          FROM credit_blocks c
          LEFT JOIN LATERAL (SELECT sum(x.posted) AS posted, sum(x.held) AS held FROM ledger_balances x WHERE x.account_id = c.ledger_account_id) b ON true
         WHERE c.organization_id = ANY(p_orgs)
           AND (c.status = 'FROZEN' OR (c.status = 'ACTIVE' AND (c.expires_at IS NULL OR c.expires_at > p_now)));

        SELECT coalesce(jsonb_agg(jsonb_build_object('org', s.organization_id, 'low', s.low_balance_threshold::text,
                 'refillAt', CASE WHEN s.auto_refill_credits IS NULL THEN NULL ELSE s.auto_refill_threshold::text END)), '[]'::jsonb)
          INTO v_settings FROM balance_settings s WHERE s.organization_id = ANY(p_orgs);

        INSERT INTO listing_service (listing_id) SELECT l FROM unnest(p_listings) AS l ORDER BY 1 ON CONFLICT DO NOTHING;
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', q.listing_id, 'served', q.served, 'allocated', q.allocated, 'cost', q.cost)), '[]'::jsonb)
          INTO v_listings
          FROM (SELECT s.listing_id, s.served_credits::text AS served, l.allocated_credits::text AS allocated,
                       l.wholesale_cost_per_credit::text AS cost
                  FROM listing_service s JOIN listings l ON l.id = s.listing_id
                 WHERE s.listing_id = ANY(p_listings) ORDER BY s.listing_id FOR UPDATE OF s) q;

        SELECT coalesce(jsonb_agg(jsonb_build_object('key', k,
                 'used', coalesce((SELECT u.credits FROM api_key_usage u WHERE u.api_key_id = k AND u.month = p_month), 0)::text,
                 'running', coalesce((SELECT sum(r.held_credits) FROM inference_requests r WHERE r.api_key_id = k AND r.status = 'RUNNING'), 0)::text)),
               '[]'::jsonb)
          INTO v_keys FROM unnest(p_keys) AS k;

        RETURN jsonb_build_object('holds', v_holds, 'released', v_released, 'blocks', v_blocks, 'settings', v_settings,
                                  'listings', v_listings, 'keys', v_keys);
      END
      $fn$;

      CREATE FUNCTION gateway_cycle_end(p jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
      DECLARE
        v_now timestamptz := (p->>'now')::timestamptz;
        -- Id lists as arrays: \`id = ANY(array)\` is planned as an index scan, whatever the count.
        v_captured uuid[] := ARRAY(SELECT jsonb_array_elements_text(p->'captured')::uuid);
        v_voided uuid[] := ARRAY(SELECT jsonb_array_elements_text(p->'voided')::uuid);
        v_exhausted uuid[] := ARRAY(SELECT jsonb_array_elements_text(p->'exhausted')::uuid);
        v_finish uuid[] := ARRAY(SELECT (x->>'id')::uuid FROM jsonb_array_elements(p->'finish') AS x);
        v_listings uuid[] := ARRAY(SELECT (x->>'id')::uuid FROM jsonb_array_elements(p->'listings') AS x);
      BEGIN
        IF jsonb_array_length(p->'events') > 0 THEN
          INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, input_rate, output_rate,
                 credits, occurred_at, recorded_at, hold_id, ledger_transaction_id)
          SELECT x.org, x.event, x.model, x.input, x.output, x.in_rate, x.out_rate, x.credits, x.occurred, v_now, x.hold, x.tx
            FROM jsonb_to_recordset(p->'events') AS x(org uuid, event text, model text, input bigint, output bigint, in_rate numeric,
                 out_rate numeric, credits numeric, occurred timestamptz, hold uuid, tx bigint);
        END IF;
        UPDATE usage_holds SET status = 'CAPTURED', resolved_at = v_now WHERE id = ANY(v_captured);
        UPDATE usage_holds SET status = 'VOIDED', resolved_at = v_now WHERE id = ANY(v_voided);
        UPDATE credit_blocks SET status = 'EXHAUSTED' WHERE id = ANY(v_exhausted) AND status = 'ACTIVE';
        IF jsonb_array_length(p->'holds') > 0 THEN
          INSERT INTO usage_holds (id, organization_id, event_id, credits, status, expires_at, ledger_hold_ids, created_at)
          SELECT x.id, x.org, x.event, x.credits, 'OPEN', (p->>'holdExpires')::timestamptz, string_to_array(x.legs, ',')::bigint[], v_now
            FROM jsonb_to_recordset(p->'holds') AS x(id uuid, org uuid, event text, credits numeric, legs text);
        END IF;
        UPDATE listing_service s SET served_credits = s.served_credits + x.added, overflow_credits = s.overflow_credits + x.beyond,
               overflow_accrued = s.overflow_accrued + x.earned
          FROM jsonb_to_recordset(p->'listings') AS x(id uuid, added numeric, beyond numeric, earned numeric)
         WHERE s.listing_id = ANY(v_listings) AND s.listing_id = x.id;
        IF jsonb_array_length(p->'keys') > 0 THEN
          INSERT INTO api_key_usage (api_key_id, month, credits)
          SELECT x.key, (p->>'month')::date, x.credits FROM jsonb_to_recordset(p->'keys') AS x(key uuid, credits numeric) ORDER BY x.key
          ON CONFLICT (api_key_id, month) DO UPDATE SET credits = api_key_usage.credits + excluded.credits;
        END IF;
        IF jsonb_array_length(p->'finish') > 0 THEN
          UPDATE inference_requests r SET status = x.status, attempts = x.attempts, input_tokens = x.input_tokens,
                 output_tokens = x.output_tokens, credits = x.credits, estimated = x.estimated, latency_ms = x.latency_ms,
                 ttft_ms = x.ttft_ms, error_code = x.error_code, endpoint_id = x.endpoint_id, listing_id = x.listing_id,
                 seller_id = x.seller_id, finished_at = v_now
            FROM jsonb_to_recordset(p->'finish') AS x(id uuid, status text, attempts int, input_tokens bigint, output_tokens bigint,
                 credits numeric, estimated boolean, latency_ms int, ttft_ms int, error_code text, endpoint_id uuid, listing_id uuid,
                 seller_id uuid)
           WHERE r.id = ANY(v_finish) AND r.id = x.id;
        END IF;
        IF jsonb_array_length(p->'fresh') > 0 THEN
          INSERT INTO inference_requests (id, status, attempts, input_tokens, output_tokens, credits, estimated, latency_ms, ttft_ms,
                 error_code, endpoint_id, listing_id, seller_id, organization_id, api_key_id, model, stream, created_at, finished_at)
          SELECT x.id, x.status, x.attempts, x.input_tokens, x.output_tokens, x.credits, x.estimated, x.latency_ms, x.ttft_ms,
                 x.error_code, x.endpoint_id, x.listing_id, x.seller_id, x.organization_id, x.api_key_id, x.model, x.stream, x.created_at, v_now
            FROM jsonb_to_recordset(p->'fresh') AS x(id uuid, status text, attempts int, input_tokens bigint, output_tokens bigint,
                 credits numeric, estimated boolean, latency_ms int, ttft_ms int, error_code text, endpoint_id uuid, listing_id uuid,
                 seller_id uuid, organization_id uuid, api_key_id uuid, model text, stream boolean, created_at timestamptz);
        END IF;
        IF jsonb_array_length(p->'started') > 0 THEN
          INSERT INTO inference_requests (id, organization_id, api_key_id, model, status, held_credits, stream, error_code, created_at, finished_at)
          SELECT x.id, x.org, x.key, x.model, x.status, x.held, x.stream, x.err, v_now, CASE WHEN x.status = 'RUNNING' THEN NULL ELSE v_now END
            FROM jsonb_to_recordset(p->'started') AS x(id uuid, org uuid, key uuid, model text, status text, held numeric, stream boolean, err text);
        END IF;
      END
      $fn$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION gateway_cycle_end(jsonb);
      DROP FUNCTION gateway_cycle_begin(uuid[], uuid[], uuid[], uuid[], uuid[], date, timestamptz);
    `);
  }
}
