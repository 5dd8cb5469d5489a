import { useState, type FormEvent } from 'react';
import { graphql } from '../gql';
import type { FacilityFieldsFragment } from '../gql/graphql';
import { sum, utc, utcDay } from '../format';
import { AsOf, Done, ErrorNote, Field, Loading, Section, Stat, Table, useAction, useGql } from '../ui';

export const WalletQuery = graphql(`
  query Wallet {
    clock
    wallet {
      available
      held
      currency
    }
  }
`);

/** The USD wallet with the business time it was read at. */
export function WalletCard({ title = 'Wallet' }: { title?: string }) {
  const q = useGql(WalletQuery);
  return (
    <Section title={title}>
      {q.error && <ErrorNote error={q.error} />}
      {q.data ? (
        <>
          <div className="stats" data-testid="wallet">
            <Stat label="Available" value={q.data.wallet.available} unit={q.data.wallet.currency} />
            <Stat label="Held" value={q.data.wallet.held} unit={q.data.wallet.currency} />
          </div>
          <AsOf at={q.data.clock} />
        </>
      ) : (
        !q.error && <Loading />
      )}
    </Section>
  );
}

const ApiKeysQuery = graphql(`
  query ApiKeys {
    apiKeys {
      id
      name
      lastFour
      monthlyCreditLimit
      creditsUsedThisMonth
      lastUsedAt
      revokedAt
      createdAt
    }
  }
`);
const CreateApiKey = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      secret
      apiKey {
        id
        name
      }
    }
  }
`);
const RevokeApiKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      revokedAt
    }
  }
`);

export function ApiKeysPage() {
  const keys = useGql(ApiKeysQuery);
  const [name, setName] = useState('');
  const [limit, setLimit] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction(CreateApiKey, (r) => setSecret(r.createApiKey.secret));
  const revoke = useAction(RevokeApiKey);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ input: { name, monthlyCreditLimit: limit.trim() === '' ? null : limit.trim() } });
  };
  return (
    <>
      <Section title="New API key">
        <form onSubmit={submit} className="row">
          <Field label="Name">
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="production" />
          </Field>
          <Field label="Monthly credit limit (optional)">
            <input value={limit} onChange={(e) => setLimit(e.target.value)} inputMode="decimal" placeholder="5000" />
          </Field>
          <button type="submit" disabled={create.isPending}>
            Create key
          </button>
        </form>
        <ErrorNote error={create.error} />
        {secret && (
          <Done>
            New key (shown once — copy it now): <code className="secret">{secret}</code>{' '}
            <button className="link" onClick={() => setSecret(null)}>
              Hide
            </button>
          </Done>
        )}
      </Section>
      <Section title="API keys">
        <ErrorNote error={keys.error ?? revoke.error} />
        {keys.data ? (
          <Table
            columns={[
              { label: 'Name' },
              { label: 'Ends with' },
              { label: 'Monthly limit (credits)', num: true },
              { label: 'Used this month (credits)', num: true },
              { label: 'Last used (UTC)' },
              { label: 'Created (UTC)' },
              { label: 'Status' },
              { label: '' },
            ]}
            rows={keys.data.apiKeys.map((k) => [
              k.name,
              k.lastFour ? `…${k.lastFour}` : '—',
              k.monthlyCreditLimit ?? 'no limit',
              k.creditsUsedThisMonth,
              utc(k.lastUsedAt),
              utc(k.createdAt),
              k.revokedAt ? `revoked ${utc(k.revokedAt)}` : 'active',
              k.revokedAt ? '' : (
                <button className="link" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: k.id })}>
                  Revoke
                </button>
              ),
            ])}
          />
        ) : (
          <Loading />
        )}
      </Section>
    </>
  );
}

graphql(`
  fragment FacilityFields on Facility {
    id
    status
    principal
    apr
    disclosedApr
    termMonths
    graceDays
    defaultAfterDaysPastDue
    recoveryRate
    financingFee
    totalInterest
    outstandingPrincipal
    pastDueAmount
    payoffAmount
    daysPastDue
    frozen
    chargedOffAmount
    recoveredAmount
    creditsGranted
    acceptedAt
    maturityAt
    createdAt
    borrower {
      id
      name
    }
    lender {
      id
      name
    }
    schedule {
      number
      dueDate
      payment
      interest
      principal
      interestPaid
      principalPaid
      status
    }
    freezeEvents {
      action
      actorId
      at
      reason
    }
  }
`);

/** The installments, overdue rows marked, with a totals row. */
export function ScheduleTable({ schedule, caption }: { schedule: FacilityFieldsFragment['schedule']; caption?: string }) {
  return (
    <Table
      caption={caption}
      columns={[
        { label: '#', num: true },
        { label: 'Due (UTC)' },
        { label: 'Payment (USD)', num: true },
        { label: 'Interest (USD)', num: true },
        { label: 'Principal (USD)', num: true },
        { label: 'Interest paid (USD)', num: true },
        { label: 'Principal paid (USD)', num: true },
        { label: 'Status' },
      ]}
      rows={schedule.map((i) => [
        i.number,
        utcDay(i.dueDate),
        i.payment,
        i.interest,
        i.principal,
        i.interestPaid,
        i.principalPaid,
        i.status === 'OVERDUE' ? <strong className="overdue-label">OVERDUE</strong> : i.status.replace('_', ' '),
      ])}
      rowClass={(n) => (schedule[n].status === 'OVERDUE' ? 'overdue' : undefined)}
      footer={[
        '',
        'Total',
        sum(schedule.map((i) => i.payment)),
        sum(schedule.map((i) => i.interest)),
        sum(schedule.map((i) => i.principal)),
        sum(schedule.map((i) => i.interestPaid)),
        sum(schedule.map((i) => i.principalPaid)),
        '',
      ]}
    />
  );
}

/** Key figures of one facility. */
export function FacilityFigures({ f }: { f: FacilityFieldsFragment }) {
  return (
    <dl className="figures">
      <dt>Principal</dt>
      <dd className="num">{f.principal} USD</dd>
      <dt>APR (note rate)</dt>
      <dd className="num">{f.apr}</dd>
      <dt>Disclosed APR</dt>
      <dd className="num">{f.disclosedApr}</dd>
      <dt>Term</dt>
      <dd className="num">{f.termMonths} months</dd>
      <dt>Financing fee</dt>
      <dd className="num">{f.financingFee} USD</dd>
      <dt>Total interest</dt>
      <dd className="num">{f.totalInterest} USD</dd>
      <dt>Outstanding principal</dt>
      <dd className="num">{f.outstandingPrincipal} USD</dd>
      <dt>Past due</dt>
      <dd className="num">{f.pastDueAmount} USD</dd>
      <dt>Payoff today</dt>
      <dd className="num">{f.payoffAmount} USD</dd>
      <dt>Days past due</dt>
      <dd className="num" data-testid="dpd">
        {f.daysPastDue}
      </dd>
      <dt>Credits granted</dt>
      <dd className="num">{f.creditsGranted ?? '—'}</dd>
      <dt>Frozen</dt>
      <dd>{f.frozen ? 'yes' : 'no'}</dd>
      {f.chargedOffAmount !== '0.00' && (
        <>
          <dt>Recovered / charged off</dt>
          <dd className="num">
            {f.recoveredAmount} / {f.chargedOffAmount} USD
          </dd>
        </>
      )}
      <dt>Accepted</dt>
      <dd>{utc(f.acceptedAt)}</dd>
      <dt>Maturity</dt>
      <dd>{utc(f.maturityAt)}</dd>
    </dl>
  );
}

export function FreezeTrail({ events }: { events: FacilityFieldsFragment['freezeEvents'] }) {
  return (
    <Table
      caption="Freeze audit trail"
      columns={[{ label: 'When (UTC)' }, { label: 'Action' }, { label: 'By' }, { label: 'Reason' }]}
      rows={(events ?? []).map((e) => [utc(e.at), e.action, e.actorId ?? 'freeze controller (default)', e.reason])}
      empty="No freeze or unfreeze yet."
    />
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${status.toLowerCase()}`}>{status.replace('_', ' ')}</span>;
}
