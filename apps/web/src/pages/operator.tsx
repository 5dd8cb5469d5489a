import { useState, type FormEvent } from 'react';
import { graphql } from '../gql';
import type { OrganizationRole, OrganizationStatus } from '../gql/graphql';
import { utc } from '../format';
import { ConfirmAction, Done, ErrorNote, Field, Loading, Section, Table, Tabs, useAction, useGql } from '../ui';
import { ApiKeysPage, StatusBadge } from './shared';
import { OperatorPayouts } from './payouts';

export function OperatorPages() {
  return (
    <Tabs
      tabs={[
        { id: 'approvals', label: 'Approvals', render: () => <Organizations fixedStatus="PENDING" title="Approvals queue" /> },
        { id: 'organizations', label: 'Organizations', render: () => <Organizations title="Organizations" /> },
        { id: 'deposits', label: 'Deposits', render: () => <DepositForm /> },
        { id: 'payouts', label: 'Payouts', render: () => <OperatorPayouts /> },
        { id: 'catalog', label: 'GPU types & models', render: () => <Catalog /> },
        { id: 'integrity', label: 'Ledger integrity', render: () => <Integrity /> },
        { id: 'clock', label: 'Test clock', render: () => <TestClock /> },
        { id: 'keys', label: 'API keys', render: () => <ApiKeysPage /> },
      ]}
    />
  );
}

const OrganizationsQuery = graphql(`
  query Organizations($filter: OrganizationFilter, $first: Int, $after: String) {
    organizations(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          name
          role
          status
          createdAt
        }
      }
    }
  }
`);
const Approve = graphql(`
  mutation ApproveOrganization($id: ID!) {
    approveOrganization(id: $id) {
      id
      status
    }
  }
`);
const Suspend = graphql(`
  mutation SuspendOrganization($id: ID!) {
    suspendOrganization(id: $id) {
      id
      status
    }
  }
`);

const ROLES: OrganizationRole[] = ['BUYER', 'SELLER', 'LENDER', 'OPERATOR'];
const STATUSES: OrganizationStatus[] = ['PENDING', 'ACTIVE', 'SUSPENDED'];

function Organizations({ fixedStatus, title }: { fixedStatus?: OrganizationStatus; title: string }) {
  const [role, setRole] = useState<OrganizationRole | ''>('');
  const [status, setStatus] = useState<OrganizationStatus | ''>(fixedStatus ?? '');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const q = useGql(OrganizationsQuery, { filter: { role: role || null, status: status || null }, first: 50, after });
  const approve = useAction(Approve);
  const suspend = useAction(Suspend);
  const page = q.data?.organizations;
  return (
    <Section title={title}>
      <div className="row">
        <Field label="Role">
          <select value={role} onChange={(e) => (setRole(e.target.value as OrganizationRole | ''), setCursors([null]))}>
            <option value="">any</option>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
        {!fixedStatus && (
          <Field label="Status">
            <select value={status} onChange={(e) => (setStatus(e.target.value as OrganizationStatus | ''), setCursors([null]))}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </Field>
        )}
        {page && <p className="muted">{page.totalCount} organizations, newest first</p>}
      </div>
      <ErrorNote error={q.error ?? approve.error ?? suspend.error} />
      {page ? (
        <Table
          columns={[{ label: 'Name' }, { label: 'Role' }, { label: 'Status' }, { label: 'Joined (UTC)' }, { label: 'ID' }, { label: '' }]}
          rows={page.edges.map(({ node: o }) => [
            o.name,
            o.role,
            <StatusBadge status={o.status} />,
            utc(o.createdAt),
            <code className="id">{o.id}</code>,
            <span className="row tight">
              {o.status !== 'ACTIVE' && (
                <button disabled={approve.isPending} onClick={() => approve.mutate({ id: o.id })} aria-label={`Approve ${o.name}`}>
                  Approve
                </button>
              )}
              {o.status === 'ACTIVE' && o.role !== 'OPERATOR' && (
                <ConfirmAction label="Suspend" pending={suspend.isPending} onConfirm={() => suspend.mutate({ id: o.id })} />
              )}
            </span>,
          ])}
          empty={fixedStatus === 'PENDING' ? 'Nobody is waiting for approval.' : 'No organizations match.'}
        />
      ) : (
        !q.error && <Loading />
      )}
      <div className="row">
        {cursors.length > 1 && (
          <button className="link" onClick={() => setCursors(cursors.slice(0, -1))}>
            ← Newer
          </button>
        )}
        {page?.pageInfo.hasNextPage && (
          <button className="link" onClick={() => setCursors([...cursors, page.pageInfo.endCursor ?? null])}>
            Older →
          </button>
        )}
      </div>
    </Section>
  );
}

const RecordDeposit = graphql(`
  mutation RecordDeposit($input: RecordDepositInput!) {
    recordDeposit(input: $input) {
      available
      held
      currency
    }
  }
`);
const AllOrganizations = graphql(`
  query OrganizationChoices {
    organizations(first: 200) {
      edges {
        node {
          id
          name
          role
          status
        }
      }
    }
  }
`);

function DepositForm() {
  const orgs = useGql(AllOrganizations);
  const [organizationId, setOrganizationId] = useState('');
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const deposit = useAction(RecordDeposit, (r) => setDone(`Recorded. The wallet now holds ${r.recordDeposit.available} ${r.recordDeposit.currency} available.`));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    deposit.mutate({ input: { organizationId, amount: amount.trim(), reference: reference.trim() } });
  };
  return (
    <Section title="Record a deposit">
      <p className="muted">A confirmed bank or card payment into an organization's wallet. The same reference is applied once.</p>
      <form onSubmit={submit} className="grid-form">
        <Field label="Organization">
          <select value={organizationId} onChange={(e) => setOrganizationId(e.target.value)} required name="organization">
            <option value="">choose…</option>
            {orgs.data?.organizations.edges
              .filter(({ node }) => node.role !== 'OPERATOR')
              .map(({ node }) => (
                <option key={node.id} value={node.id}>
                  {node.name} ({node.role.toLowerCase()}, {node.status.toLowerCase()})
                </option>
              ))}
          </select>
        </Field>
        <Field label="Amount (USD)">
          <input value={amount} onChange={(e) => setAmount(e.target.value)} inputMode="decimal" required name="amount" placeholder="1000.00" />
        </Field>
        <Field label="Payment reference">
          <input value={reference} onChange={(e) => setReference(e.target.value)} required name="reference" />
        </Field>
        <button type="submit" disabled={deposit.isPending}>
          Record deposit
        </button>
      </form>
      <ErrorNote error={orgs.error ?? deposit.error} />
      {done && <Done>{done}</Done>}
    </Section>
  );
}

const CatalogQuery = graphql(`
  query Catalog {
    gpuTypes {
      name
      creditsPerGpuHour
    }
    models {
      id
      inputCreditsPerMillionTokens
      outputCreditsPerMillionTokens
      maxOutputTokens
    }
  }
`);
const UpsertGpuType = graphql(`
  mutation UpsertGpuType($input: GpuTypeInput!) {
    upsertGpuType(input: $input) {
      name
    }
  }
`);
const UpsertModel = graphql(`
  mutation UpsertModel($input: ModelInput!) {
    upsertModel(input: $input) {
      id
    }
  }
`);

function Catalog() {
  const q = useGql(CatalogQuery);
  const gpu = useAction(UpsertGpuType);
  const model = useAction(UpsertModel);
  const [g, setG] = useState({ name: '', creditsPerGpuHour: '' });
  const [m, setM] = useState({ id: '', inputCreditsPerMillionTokens: '', outputCreditsPerMillionTokens: '', maxOutputTokens: '' });
  return (
    <>
      <Section title="GPU types">
        <ErrorNote error={q.error ?? gpu.error} />
        <Table
          columns={[{ label: 'GPU type' }, { label: 'Credits per GPU-hour', num: true }]}
          rows={(q.data?.gpuTypes ?? []).map((t) => [t.name, t.creditsPerGpuHour])}
        />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            gpu.mutate({ input: g });
          }}
        >
          <Field label="Name">
            <input value={g.name} onChange={(e) => setG({ ...g, name: e.target.value })} required />
          </Field>
          <Field label="Credits per GPU-hour">
            <input value={g.creditsPerGpuHour} onChange={(e) => setG({ ...g, creditsPerGpuHour: e.target.value })} required inputMode="decimal" />
          </Field>
          <button type="submit" disabled={gpu.isPending}>
            Save GPU type
          </button>
        </form>
      </Section>
      <Section title="Model rate cards">
        <ErrorNote error={model.error} />
        <Table
          columns={[{ label: 'Model' }, { label: 'Input credits / 1M tokens', num: true }, { label: 'Output credits / 1M tokens', num: true }, { label: 'Max output tokens (hold)', num: true }]}
          rows={(q.data?.models ?? []).map((x) => [x.id, x.inputCreditsPerMillionTokens, x.outputCreditsPerMillionTokens, x.maxOutputTokens])}
        />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            model.mutate({
              input: {
                id: m.id,
                inputCreditsPerMillionTokens: m.inputCreditsPerMillionTokens,
                outputCreditsPerMillionTokens: m.outputCreditsPerMillionTokens,
                maxOutputTokens: m.maxOutputTokens.trim() === '' ? null : Number.parseInt(m.maxOutputTokens, 10),
              },
            });
          }}
        >
          <Field label="Model">
            <input value={m.id} onChange={(e) => setM({ ...m, id: e.target.value })} required />
          </Field>
          <Field label="Input / 1M">
            <input value={m.inputCreditsPerMillionTokens} onChange={(e) => setM({ ...m, inputCreditsPerMillionTokens: e.target.value })} required inputMode="decimal" />
          </Field>
          <Field label="Output / 1M">
            <input value={m.outputCreditsPerMillionTokens} onChange={(e) => setM({ ...m, outputCreditsPerMillionTokens: e.target.value })} required inputMode="decimal" />
          </Field>
          <Field label="Max output tokens">
            <input value={m.maxOutputTokens} onChange={(e) => setM({ ...m, maxOutputTokens: e.target.value })} inputMode="numeric" placeholder="4096" />
          </Field>
          <button type="submit" disabled={model.isPending}>
            Save model
          </button>
        </form>
      </Section>
    </>
  );
}

const IntegrityQuery = graphql(`
  query LedgerIntegrity {
    clock
    ledgerIntegrity {
      balanced
      accountsChecked
      transactionsChecked
      problems
    }
  }
`);

function Integrity() {
  const q = useGql(IntegrityQuery, undefined, { staleTime: 0 });
  return (
    <Section
      title="Ledger integrity"
      actions={
        <button className="link" onClick={() => q.refetch()}>
          Check again
        </button>
      }
    >
      <ErrorNote error={q.error} />
      {q.data ? (
        <>
          <p className={q.data.ledgerIntegrity.balanced ? 'ok' : 'error'} data-testid="integrity">
            {q.data.ledgerIntegrity.balanced ? 'Balanced' : 'NOT balanced'}: {q.data.ledgerIntegrity.accountsChecked} accounts and{' '}
            {q.data.ledgerIntegrity.transactionsChecked} transactions checked at {utc(q.data.clock)}.
          </p>
          {q.data.ledgerIntegrity.problems.length > 0 && (
            <ul>
              {q.data.ledgerIntegrity.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </>
      ) : (
        !q.error && <Loading />
      )}
    </Section>
  );
}

const ClockQuery = graphql(`
  query OperatorClock {
    clock
  }
`);
const AdvanceClock = graphql(`
  mutation AdvanceTestClock($to: DateTime!) {
    advanceTestClock(to: $to)
  }
`);

function TestClock() {
  const q = useGql(ClockQuery, undefined, { staleTime: 0 });
  const [to, setTo] = useState('');
  const advance = useAction(AdvanceClock);
  return (
    <Section title="Test clock">
      <p>
        Business time now: <strong data-testid="clock">{q.data ? utc(q.data.clock) : '…'}</strong>
      </p>
      <p className="muted">Only when the server runs with CCX_TEST_CLOCK=true (never in production). Moving it forward runs servicing.</p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          advance.mutate({ to: new Date(`${to}Z`).toISOString() });
        }}
      >
        <Field label="Move to (UTC)">
          <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} required name="clockTo" />
        </Field>
        <button type="submit" disabled={advance.isPending}>
          Advance the clock
        </button>
      </form>
      <ErrorNote error={q.error ?? advance.error} />
      {advance.data && <Done>The clock is now {utc(advance.data.advanceTestClock)}.</Done>}
    </Section>
  );
}
