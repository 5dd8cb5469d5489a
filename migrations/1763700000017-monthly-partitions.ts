import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Growth (issue 13): the two tables that grow with traffic, `usage_events` and the gateway's request
 * log `inference_requests`, become partitioned by UTC calendar month (PostgreSQL's declarative
 * RANGE partitioning), each with a DEFAULT partition for instants no month partition covers, so
 * that a report over one month reads one month and retention can detach a whole month
 * (docs/PARTITIONING.md). Existing rows are moved; `down` moves them back.
 *
 * - `usage_events` is partitioned on `occurred_at` (what usage reports filter on). A unique
 *   constraint on a partitioned table must contain the partition key, so SPEC §8's "eventId is
 *   unique per buyer" is now the primary key of a small unpartitioned table, `usage_event_keys`,
 *   filled by a statement-level trigger on every insert into usage_events: a duplicate still fails
 *   the whole statement with a unique violation, in any month, and the key outlives a detached or
 *   dropped month (an event id is never charged twice, even after retention). The INSERT
 *   statements that write events are unchanged.
 * - usage_events loses its primary key (nothing reads an event by `id`; `id` stays, an identity,
 *   the insertion order) and its foreign key to organizations: organizations are never deleted,
 *   every insert is made after the buyer was checked ACTIVE under its lock, and the check cost
 *   ~8 ms per 500-event batch. The CHECK constraints stay.
 * - `inference_requests` is partitioned on `created_at`; its primary key becomes (id, created_at)
 *   (ids are server-made UUIDs); its four indexes become partitioned indexes; its foreign key to
 *   organizations goes for the same reasons (the organization is the authenticated caller's).
 * - `ensure_monthly_partitions(parent, from, to)` creates the missing month partitions from the
 *   month of `from` to that of `to`; rows of those months already in the DEFAULT partition (the
 *   business clock can jump forward) are moved into the new partition in the same transaction. One
 *   maintainer at a time (an advisory transaction lock); idempotent. The app runs it at start and
 *   in each servicing run (apps/api/src/database/monthly-partitions.ts); here for the months that
 *   hold rows (within two years back, one ahead) and the maintenance window.
 */
export class MonthlyPartitions1763700000017 implements MigrationInterface {
  name = 'MonthlyPartitions1763700000017';

  async up(q: QueryRunner): Promise<void> {
    await q.query(ENSURE_MONTHLY_PARTITIONS);

    // usage_events ------------------------------------------------------------------------------
    await q.query(`
      ALTER TABLE usage_events RENAME TO usage_events_unpartitioned;
      ALTER INDEX usage_events_pkey RENAME TO usage_events_unpartitioned_pkey;
      ALTER INDEX usage_events_organization_id_event_id_key RENAME TO usage_events_unpartitioned_organization_id_event_id_key;
      ALTER INDEX usage_events_report_idx RENAME TO usage_events_unpartitioned_report_idx;
      ALTER SEQUENCE usage_events_id_seq RENAME TO usage_events_unpartitioned_id_seq;

      CREATE TABLE usage_events (
        id bigint GENERATED ALWAYS AS IDENTITY,
        organization_id uuid NOT NULL,
        event_id text NOT NULL CONSTRAINT usage_events_event_id_check CHECK (length(event_id) BETWEEN 1 AND 128),
        model text,
        input_tokens bigint CONSTRAINT usage_events_input_tokens_check CHECK (input_tokens >= 0),
        output_tokens bigint CONSTRAINT usage_events_output_tokens_check CHECK (output_tokens >= 0),
        gpu_type text,
        gpu_seconds numeric CONSTRAINT usage_events_gpu_seconds_check CHECK (gpu_seconds > 0),
        input_rate numeric,
        output_rate numeric,
        credits_per_gpu_hour numeric,
        credits numeric NOT NULL CONSTRAINT usage_events_credits_check CHECK (credits >= 0),
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        hold_id uuid,
        ledger_transaction_id bigint,
        CONSTRAINT usage_events_check CHECK ((model IS NULL) <> (gpu_type IS NULL))
      ) PARTITION BY RANGE (occurred_at);
      CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

      -- Exactly-once per buyer and event id (SPEC §8), across every month and beyond retention.
      CREATE TABLE usage_event_keys (
        organization_id uuid NOT NULL,
        event_id text NOT NULL,
        -- What the event was charged: a replay answers with it without reading usage_events.
        credits numeric NOT NULL,
        PRIMARY KEY (organization_id, event_id)
      );
      CREATE FUNCTION usage_event_keys_record() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO usage_event_keys (organization_id, event_id, credits) SELECT organization_id, event_id, credits FROM new_rows;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER usage_event_keys_record AFTER INSERT ON usage_events
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_event_keys_record();
    `);
    await ensureDataMonths(q, 'usage_events', 'usage_events_unpartitioned', 'occurred_at');
    await q.query(`
      INSERT INTO usage_events (id, organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
          input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, hold_id, ledger_transaction_id)
        OVERRIDING SYSTEM VALUE
        SELECT id, organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
          input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, hold_id, ledger_transaction_id
          FROM usage_events_unpartitioned ORDER BY id;
      SELECT setval(pg_get_serial_sequence('usage_events', 'id'), coalesce(max(id), 0) + 1, false) FROM usage_events;
      CREATE INDEX usage_events_report_idx ON usage_events (organization_id, occurred_at);
      DROP TABLE usage_events_unpartitioned;
    `);

    // inference_requests -------------------------------------------------------------------------
    await q.query(`
      ALTER TABLE inference_requests RENAME TO inference_requests_unpartitioned;
      ALTER INDEX inference_requests_pkey RENAME TO inference_requests_unpartitioned_pkey;
      ALTER INDEX inference_requests_org_idx RENAME TO inference_requests_unpartitioned_org_idx;
      ALTER INDEX inference_requests_seller_idx RENAME TO inference_requests_unpartitioned_seller_idx;
      ALTER INDEX inference_requests_all_idx RENAME TO inference_requests_unpartitioned_all_idx;
      ALTER INDEX inference_requests_running_key_idx RENAME TO inference_requests_unpartitioned_running_key_idx;

      CREATE TABLE inference_requests (
        id uuid NOT NULL,
        organization_id uuid NOT NULL,
        api_key_id uuid,
        model text NOT NULL,
        endpoint_id uuid,
        listing_id uuid,
        seller_id uuid,
        status text NOT NULL CONSTRAINT inference_requests_status_check
          CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'REFUSED', 'CANCELLED')),
        attempts integer NOT NULL DEFAULT 0,
        held_credits numeric NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        credits numeric NOT NULL DEFAULT 0 CONSTRAINT inference_requests_credits_check CHECK (credits >= 0),
        estimated boolean NOT NULL DEFAULT false,
        stream boolean NOT NULL DEFAULT false,
        latency_ms integer NOT NULL DEFAULT 0,
        ttft_ms integer,
        error_code text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz,
        PRIMARY KEY (id, created_at)
      ) PARTITION BY RANGE (created_at);
      CREATE TABLE inference_requests_default PARTITION OF inference_requests DEFAULT;
    `);
    await ensureDataMonths(q, 'inference_requests', 'inference_requests_unpartitioned', 'created_at');
    await q.query(`
      INSERT INTO inference_requests SELECT * FROM inference_requests_unpartitioned;
      CREATE INDEX inference_requests_org_idx ON inference_requests (organization_id, created_at DESC, id DESC);
      CREATE INDEX inference_requests_seller_idx ON inference_requests (seller_id, created_at DESC, id DESC) WHERE seller_id IS NOT NULL;
      CREATE INDEX inference_requests_all_idx ON inference_requests (created_at DESC, id DESC);
      CREATE INDEX inference_requests_running_key_idx ON inference_requests (api_key_id) WHERE status = 'RUNNING';
      DROP TABLE inference_requests_unpartitioned;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    // usage_events back to one table, with its primary key, foreign key and unique constraint (the
    // keys of events whose month was dropped by retention are lost with usage_event_keys).
    await q.query(`
      ALTER TABLE usage_events RENAME TO usage_events_partitioned;
      ALTER INDEX usage_events_report_idx RENAME TO usage_events_partitioned_report_idx;
      ALTER SEQUENCE usage_events_id_seq RENAME TO usage_events_partitioned_id_seq;
      CREATE TABLE usage_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
        model text,
        input_tokens bigint CHECK (input_tokens >= 0),
        output_tokens bigint CHECK (output_tokens >= 0),
        gpu_type text,
        gpu_seconds numeric CHECK (gpu_seconds > 0),
        input_rate numeric,
        output_rate numeric,
        credits_per_gpu_hour numeric,
        credits numeric NOT NULL CHECK (credits >= 0),
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        hold_id uuid,
        ledger_transaction_id bigint,
        UNIQUE (organization_id, event_id),
        CHECK ((model IS NULL) <> (gpu_type IS NULL))
      );
      INSERT INTO usage_events (id, organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
          input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, hold_id, ledger_transaction_id)
        OVERRIDING SYSTEM VALUE
        SELECT id, organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
          input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, hold_id, ledger_transaction_id
          FROM usage_events_partitioned ORDER BY id;
      SELECT setval(pg_get_serial_sequence('usage_events', 'id'), coalesce(max(id), 0) + 1, false) FROM usage_events;
      CREATE INDEX usage_events_report_idx ON usage_events (organization_id, occurred_at);
      DROP TABLE usage_events_partitioned;
      DROP TABLE usage_event_keys;
      DROP FUNCTION usage_event_keys_record();
    `);
    await q.query(`
      ALTER TABLE inference_requests RENAME TO inference_requests_partitioned;
      ALTER INDEX inference_requests_pkey RENAME TO inference_requests_partitioned_pkey;
      ALTER INDEX inference_requests_org_idx RENAME TO inference_requests_partitioned_org_idx;
      ALTER INDEX inference_requests_seller_idx RENAME TO inference_requests_partitioned_seller_idx;
      ALTER INDEX inference_requests_all_idx RENAME TO inference_requests_partitioned_all_idx;
      ALTER INDEX inference_requests_running_key_idx RENAME TO inference_requests_partitioned_running_key_idx;
      CREATE TABLE inference_requests (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        api_key_id uuid,
        model text NOT NULL,
        endpoint_id uuid,
        listing_id uuid,
        seller_id uuid,
        status text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'REFUSED', 'CANCELLED')),
        attempts integer NOT NULL DEFAULT 0,
        held_credits numeric NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        credits numeric NOT NULL DEFAULT 0 CHECK (credits >= 0),
        estimated boolean NOT NULL DEFAULT false,
        stream boolean NOT NULL DEFAULT false,
        latency_ms integer NOT NULL DEFAULT 0,
        ttft_ms integer,
        error_code text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz
      );
      INSERT INTO inference_requests SELECT * FROM inference_requests_partitioned;
      CREATE INDEX inference_requests_org_idx ON inference_requests (organization_id, created_at DESC, id DESC);
      CREATE INDEX inference_requests_seller_idx ON inference_requests (seller_id, created_at DESC, id DESC) WHERE seller_id IS NOT NULL;
      CREATE INDEX inference_requests_all_idx ON inference_requests (created_at DESC, id DESC);
      CREATE INDEX inference_requests_running_key_idx ON inference_requests (api_key_id) WHERE status = 'RUNNING';
      DROP TABLE inference_requests_partitioned;
      DROP FUNCTION ensure_monthly_partitions(regclass, timestamptz, timestamptz);
    `);
  }
}

/**
 * Month partitions for the months that hold rows of `source` (within two years before and one
 * after the business clock; rows outside go to DEFAULT), and for the maintenance window (the
 * month before the clock's to three months after, as the app's maintenance makes).
 */
async function ensureDataMonths(q: QueryRunner, parent: string, source: string, column: string): Promise<void> {
  await q.query(`
    WITH clock AS (SELECT coalesce((SELECT now FROM business_clock WHERE id = 1), now()) AS now),
    months AS (
      SELECT DISTINCT date_trunc('month', ${column}, 'UTC') AS m FROM ${source}, clock
       WHERE ${column} >= clock.now - interval '24 months' AND ${column} < clock.now + interval '12 months'
      UNION
      SELECT date_trunc('month', clock.now - interval '1 month', 'UTC') FROM clock
    )
    SELECT ensure_monthly_partitions('${parent}'::regclass, m, m) FROM months ORDER BY m;
    SELECT ensure_monthly_partitions('${parent}'::regclass, now - interval '1 month', now + interval '3 months')
      FROM (SELECT coalesce((SELECT now FROM business_clock WHERE id = 1), now()) AS now) clock;
  `);
}

/**
 * Creates the month partitions of `parent` (RANGE-partitioned on one timestamptz column) for every
 * UTC month from the month of `from_at` to the month of `to_at`, named `<parent>_pYYYY_MM`, that
 * does not exist yet. Rows of such a month already in the DEFAULT partition are moved into the new
 * partition before it is attached (PostgreSQL refuses to attach a range the DEFAULT partition holds
 * rows of). Returns how many partitions it created. Takes a transaction-level advisory lock: two
 * maintainers (two API processes) run one after the other, and the second finds nothing to do.
 * The new partition is created standalone and attached, which locks the parent in SHARE UPDATE
 * EXCLUSIVE mode only (writers and readers go on) and the DEFAULT partition in ACCESS EXCLUSIVE
 * mode for the move and the check.
 */
const ENSURE_MONTHLY_PARTITIONS = `
  CREATE FUNCTION ensure_monthly_partitions(parent regclass, from_at timestamptz, to_at timestamptz) RETURNS integer
  LANGUAGE plpgsql AS $fn$
  DECLARE
    key_column text;
    default_part regclass;
    parent_schema text;
    parent_name text;
    part_name text;
    -- UTC wall-clock months (timestamp arithmetic: the session's time zone plays no part).
    month_start timestamp := date_trunc('month', from_at AT TIME ZONE 'UTC');
    month_end timestamp;
    created integer := 0;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ccx:monthly-partitions'));
    SELECT a.attname, nullif(pt.partdefid, 0)::regclass INTO key_column, default_part
      FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = parent AND pt.partstrat = 'r' AND pt.partnatts = 1;
    IF key_column IS NULL THEN
      RAISE EXCEPTION '% is not partitioned by range on one column', parent;
    END IF;
    SELECT n.nspname, c.relname INTO parent_schema, parent_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
    WHILE month_start <= to_at AT TIME ZONE 'UTC' LOOP
      month_end := month_start + interval '1 month';
      part_name := parent_name || '_p' || to_char(month_start, 'YYYY_MM');
      IF to_regclass(format('%I.%I', parent_schema, part_name)) IS NULL THEN
        EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
          parent_schema, part_name, parent);
        IF default_part IS NOT NULL THEN
          EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', default_part);
          EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I.%I SELECT * FROM moved',
            default_part, key_column, key_column, parent_schema, part_name) USING month_start AT TIME ZONE 'UTC', month_end AT TIME ZONE 'UTC';
        END IF;
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', parent, parent_schema, part_name,
          to_char(month_start, 'YYYY-MM-DD"T"HH24:MI:SS"+00"'), to_char(month_end, 'YYYY-MM-DD"T"HH24:MI:SS"+00"'));
        created := created + 1;
      END IF;
      month_start := month_end;
    END LOOP;
    RETURN created;
  END
  $fn$;
`;
