import { useState } from 'react';
import { ApiError } from '../api';
import { addMonths, download, utc } from '../format';
import { graphql } from '../gql';
import { apiKey } from '../session';
import { ErrorNote, Field, Loading, Section, Table, useGql } from '../ui';
import { WalletCard } from './shared';

const EntriesQuery = graphql(`
  query WalletEntries($first: Int, $after: String) {
    walletEntries(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          createdAt
          kind
          amount
          balanceAfter
          reference
        }
      }
    }
  }
`);
const StatementQuery = graphql(`
  query Statement($month: String!) {
    statement(month: $month) {
      month
      openingBalance
      closingBalance
      entries {
        id
        createdAt
        kind
        amount
        balanceAfter
        reference
      }
    }
  }
`);
const ClockQuery = graphql(`
  query StatementClock {
    clock
  }
`);

const kindLabel = (kind: string) => kind.replace(/_/g, ' ');

/** Every movement of the USD wallet, newest first, and the monthly statements (SPEC §13). */
export function WalletHistory() {
  return (
    <>
      <WalletCard />
      <Statements />
      <Entries />
    </>
  );
}

function Entries() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const q = useGql(EntriesQuery, { first: 50, after: cursors[cursors.length - 1] });
  const page = q.data?.walletEntries;
  return (
    <Section title="Wallet entries">
      <ErrorNote error={q.error} />
      {page ? (
        <>
          <p className="muted">{page.totalCount} entries, newest first.</p>
          <Table
            columns={[{ label: 'When (UTC)' }, { label: 'Kind' }, { label: 'Amount (USD)', num: true }, { label: 'Balance after (USD)', num: true }, { label: 'Reference' }]}
            rows={page.edges.map(({ node: e }) => [utc(e.createdAt), kindLabel(e.kind), e.amount, e.balanceAfter, e.reference ?? '—'])}
            empty="No wallet movements yet."
          />
          <div className="row">
            {cursors.length > 1 && (
              <button className="link" onClick={() => setCursors(cursors.slice(0, -1))}>
                ← Newer
              </button>
            )}
            {page.pageInfo.hasNextPage && (
              <button className="link" onClick={() => setCursors([...cursors, page.pageInfo.endCursor ?? null])}>
                Older →
              </button>
            )}
          </div>
        </>
      ) : (
        !q.error && <Loading />
      )}
    </Section>
  );
}

function Statements() {
  const clock = useGql(ClockQuery);
  const [chosen, setChosen] = useState<string | null>(null);
  const [csvError, setCsvError] = useState<unknown>(null);
  const month = chosen ?? clock.data?.clock.slice(0, 7) ?? null;
  const q = useGql(StatementQuery, { month: month ?? '' }, { enabled: month !== null });
  // The CSV is a REST path that takes the key as a header: fetched here, never put in a link.
  const csv = async () => {
    setCsvError(null);
    try {
      const res = await fetch(`/v1/wallet/statement.csv?month=${encodeURIComponent(month!)}`, { headers: { authorization: `Bearer ${apiKey()}` } });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(body?.error?.code ?? 'INTERNAL_SERVER_ERROR', body?.error?.message ?? `HTTP ${res.status}`);
      }
      download(`ccx-statement-${month}.csv`, await res.text());
    } catch (e) {
      setCsvError(e);
    }
  };
  const s = q.data?.statement;
  return (
    <Section
      title="Monthly statement"
      actions={
        <button className="link" disabled={!s} onClick={csv}>
          Download CSV
        </button>
      }
    >
      <div className="row">
        {month && (
          <button className="link" onClick={() => setChosen(addMonths(month, -1))}>
            ← {addMonths(month, -1)}
          </button>
        )}
        <Field label="Month (UTC)">
          <input type="month" value={month ?? ''} onChange={(e) => e.target.value && setChosen(e.target.value)} />
        </Field>
        {month && (
          <button className="link" onClick={() => setChosen(addMonths(month, 1))}>
            {addMonths(month, 1)} →
          </button>
        )}
      </div>
      <ErrorNote error={clock.error ?? q.error ?? csvError} />
      {s ? (
        <Table
          caption={`Statement for ${s.month} (UTC)`}
          columns={[{ label: 'When (UTC)' }, { label: 'Kind' }, { label: 'Amount (USD)', num: true }, { label: 'Balance after (USD)', num: true }, { label: 'Reference' }]}
          rows={[
            ['', <strong>Opening balance</strong>, '', <strong>{s.openingBalance}</strong>, ''],
            ...s.entries.map((e) => [utc(e.createdAt), kindLabel(e.kind), e.amount, e.balanceAfter, e.reference ?? '—']),
          ]}
          footer={['', 'Closing balance', '', s.closingBalance, '']}
        />
      ) : (
        !q.error && !clock.error && <Loading />
      )}
    </Section>
  );
}

