import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 13: a usage charge's locked reads as one server-side call instead of seven round trips
 * (docs/BENCHMARKS.md, Soak). Before, a charge sent: the buyers' standings, the models' rates, the
 * GPU types' rates, each buyer's credit lock, each buyer's already-charged events, the first
 * blocks in burn-down order, their balances, then (after the ledger post) the buyer's balance
 * settings. Under mixed load each of those round trips waits its turn on a busy event loop while
 * the buyer's lock is held, and a buyer's next charge waits for all of them.
 *
 * `usage_charge_begin` (the buyers, models and GPU types of the events; the events as parallel
 * arrays: buyer, id, model, input and output tokens, GPU type, GPU seconds; now; at most how many
 * blocks per buyer) takes each buyer's credit lock first (id order, the advisory lock of
 * credits/buyer-lock.ts), then returns as one JSON document:
 * - `orgs`: each organization's role and status (organizations' table, read only);
 * - `models`, `gpus`: the rate cards (catalog's tables, read only);
 * - `existing`: events already charged, with their credits (usage_event_keys' primary key);
 * - `blocks`: each buyer's ACTIVE, unexpired blocks in burn-down order
 *   (credit_blocks_burn_down_idx) with their ledger balances (posted and held over the account's
 *   shards; blocks are unsharded), only as many as cover what its events could cost at most, and
 *   never more than `p_first`. That bound prices every event at its rate card and rounds up to the
 *   micro-credit (usage-rules' rule) and counts duplicates too. It is only a bound: TypeScript
 *   judges the exact cost and reads every block when these do not cover it (usage-accounts.ts
 *   `drawableInTransaction`), so a bound too low would cost a round trip, never a wrong charge.
 *   The soak's buyers' first block covers nearly every charge: one block read instead of 32;
 * - `settings`: each buyer's low-balance and auto-refill thresholds (alerts' table, read only:
 *   the alerts module is called only for a buyer that has one).
 * Its statements are planned once per connection (`plan_cache_mode = force_generic_plan`; why:
 * migration 1763700000021). Numbers are text (exact decimals). The rules (rating, refusals, burn-down, alerts) stay in
 * TypeScript, as for `gateway_cycle_begin` (migration 1763700000018). The statements are those
 * they replace: `= ANY` on each primary key, one buyer at a time for the events (a join against
 * the unnested pairs made the planner scan a buyer's whole history).
 */
export class UsageChargeBegin1763700000020 implements MigrationInterface {
  name = 'UsageChargeBegin1763700000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION usage_charge_begin(
        p_orgs uuid[], p_models text[], p_gpus text[], p_event_orgs uuid[], p_event_ids text[], p_event_models text[],
        p_event_input bigint[], p_event_output bigint[], p_event_gpus text[], p_event_seconds numeric[], p_now timestamptz, p_first int
      ) RETURNS jsonb LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_org uuid;
        v_found jsonb;
        v_need numeric;
        v_covered numeric;
        v_block record;
        v_blocks jsonb := '[]'::jsonb;
        v_orgs jsonb;
        v_models jsonb;
        v_gpus jsonb;
        v_existing jsonb := '[]'::jsonb;
        v_settings jsonb;
      BEGIN
        FOR v_org IN SELECT DISTINCT o FROM unnest(p_orgs) AS o ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(hashtextextended('usage:' || v_org::text, 0));
        END LOOP;

        SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'role', o.role, 'status', o.status)), '[]'::jsonb)
          INTO v_orgs FROM organizations o WHERE o.id = ANY(p_orgs);
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', m.id, 'input', m.input_credits_per_million_tokens::text,
                 'output', m.output_credits_per_million_tokens::text)), '[]'::jsonb)
          INTO v_models FROM models m WHERE m.id = ANY(p_models);
        SELECT coalesce(jsonb_agg(jsonb_build_object('name', g.name, 'rate', g.credits_per_gpu_hour::text)), '[]'::jsonb)
          INTO v_gpus FROM gpu_types g WHERE g.name = ANY(p_gpus);

        FOR v_org IN SELECT DISTINCT o FROM unnest(p_event_orgs) AS o LOOP
          SELECT coalesce(jsonb_agg(jsonb_build_object('org', k.organization_id, 'id', k.event_id, 'credits', k.credits::text)), '[]'::jsonb)
            INTO v_found FROM usage_event_keys k
           WHERE k.organization_id = v_org
             AND k.event_id = ANY(ARRAY(SELECT e.id FROM unnest(p_event_orgs, p_event_ids) AS e(org, id) WHERE e.org = v_org));
          v_existing := v_existing || v_found;
        END LOOP;

        -- Each buyer's blocks in burn-down order, until they cover what its events could cost at most
        -- (every event at its rate card, rounded up to the micro-credit as usage-rules does,
        -- duplicates included), or p_first of them. No events with a rate card: no block.
        FOR v_org IN SELECT DISTINCT o FROM unnest(p_orgs) AS o LOOP
          SELECT coalesce(sum(ceil(coalesce(e.input * m.input_credits_per_million_tokens + e.output * m.output_credits_per_million_tokens,
                                            e.seconds * 1000000 * g.credits_per_gpu_hour / 3600, 0))), 0) / 1000000
            INTO v_need
            FROM unnest(p_event_orgs, p_event_models, p_event_input, p_event_output, p_event_gpus, p_event_seconds)
                 AS e(org, model, input, output, gpu, seconds)
            LEFT JOIN models m ON m.id = e.model
            LEFT JOIN gpu_types g ON g.name = e.gpu
           WHERE e.org = v_org;
          v_covered := 0;
          CONTINUE WHEN v_need = 0;
          FOR v_block IN
            SELECT b.id, b.expires_at, b.created_at, b.ledger_account_id, bal.posted, bal.held
              FROM (SELECT c.id, c.expires_at, c.created_at, c.ledger_account_id
                      FROM credit_blocks c
                     WHERE c.organization_id = v_org AND c.status = 'ACTIVE' AND (c.expires_at IS NULL OR c.expires_at > p_now)
                     ORDER BY c.expires_at ASC NULLS LAST, c.created_at, c.id
                     LIMIT p_first) b
              LEFT JOIN LATERAL (SELECT sum(x.posted) AS posted, sum(x.held) AS held FROM ledger_balances x WHERE x.account_id = b.ledger_account_id) bal ON true
             ORDER BY b.expires_at ASC NULLS LAST, b.created_at, b.id
          LOOP
            v_blocks := v_blocks || jsonb_build_object('id', v_block.id, 'org', v_org, 'expires', v_block.expires_at,
              'created', v_block.created_at, 'account', v_block.ledger_account_id::text, 'posted', v_block.posted::text, 'held', v_block.held::text);
            v_covered := v_covered + coalesce(v_block.posted, 0) - coalesce(v_block.held, 0);
            EXIT WHEN v_covered >= v_need;
          END LOOP;
        END LOOP;

        SELECT coalesce(jsonb_agg(jsonb_build_object('org', s.organization_id, 'low', s.low_balance_threshold::text,
                 'refillAt', CASE WHEN s.auto_refill_credits IS NULL THEN NULL ELSE s.auto_refill_threshold::text END)), '[]'::jsonb)
          INTO v_settings FROM balance_settings s WHERE s.organization_id = ANY(p_orgs);

        RETURN jsonb_build_object('orgs', v_orgs, 'models', v_models, 'gpus', v_gpus, 'existing', v_existing,
                                  'blocks', v_blocks, 'settings', v_settings);
      END
      $fn$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION usage_charge_begin(uuid[], text[], text[], uuid[], text[], text[], bigint[], bigint[], text[], numeric[], timestamptz, int)`);
  }
}
