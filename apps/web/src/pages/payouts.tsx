import { useState, type FormEvent } from 'react';
import { idempotencyKey } from '../api';
import { sum, utc } from '../format';
import { graphql } from '../gql';
import type { PayoutStatus } from '../gql/graphql';
import { ConfirmAction, Done, ErrorNote, Field, Loading, Section, Table, useAction, useGql } from '../ui';
import { StatusBadge, WalletCard } from './shared';

const PayoutsQuery = graphql(`
  query Payouts($status: PayoutStatus) {
    payouts(status: $status) {
      id
      amount
      status
      reference
      reason
      createdAt
      organization {
        id
        name
        role
      }
    }
  }
`);
const RequestPayout = graphql(`
  mutation RequestPayout($input: RequestPayoutInput!) {
    requestPayout(input: $input) {
      id
      amount
      status
    }
  }
`);
const MarkPaid = graphql(`
  mutation MarkPayoutPaid($id: ID!, $reference: String!) {
    markPayoutPaid(id: $id, reference: $reference) {
      id
      status
    }
  }
`);
const Reject = graphql(`
  mutation RejectPayout($id: ID!, $reason: String!) {
    rejectPayout(id: $id, reason: $reason) {
      id
      status
    }
  }
`);

/** A seller or lender takes money out of its wallet (SPEC §13). */
export function PayoutsPage() {
  const q = useGql(PayoutsQuery, {});
  const [amount, setAmount] = useState('');
  // One key per intended payout: a retried click sends the same key, so it pays once.
  const [key, setKey] = useState(idempotencyKey);
  const [done, setDone] = useState<string | null>(null);
  const request = useAction(RequestPayout, (r) => {
    setDone(`Payout of ${r.requestPayout.amount} USD requested: the operator pays it to your bank account.`);
    setAmount('');
    setKey(idempotencyKey());
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    request.mutate({ input: { amount: amount.trim(), idempotencyKey: key } });
  };
  return (
    <>
      <WalletCard />
      <Section title="Request a payout">
        <p className="muted">The amount leaves your available funds at once; a rejected payout returns it.</p>
        <form onSubmit={submit} className="row">
          <Field label="Amount (USD)">
            <input name="payoutAmount" value={amount} onChange={(e) => setAmount(e.target.value)} inputMode="decimal" required />
          </Field>
          <button type="submit" disabled={request.isPending}>
            Request payout
          </button>
        </form>
        <ErrorNote error={request.error} />
        {done && <Done>{done}</Done>}
      </Section>
      <Section title="Payouts">
        <ErrorNote error={q.error} />
        {q.data ? (
          <Table
            columns={[{ label: 'Asked (UTC)' }, { label: 'Amount (USD)', num: true }, { label: 'Status' }, { label: 'Bank reference / reason' }]}
            rows={q.data.payouts.map((p) => [utc(p.createdAt), p.amount, <StatusBadge status={p.status} />, p.reference ?? p.reason ?? '—'])}
            empty="No payouts yet."
          />
        ) : (
          !q.error && <Loading />
        )}
      </Section>
    </>
  );
}

/** The operator pays (marks PAID with the bank reference) or rejects payouts. */
export function OperatorPayouts() {
  const [status, setStatus] = useState<PayoutStatus | ''>('PENDING');
  const q = useGql(PayoutsQuery, { status: status || null });
  const [references, setReferences] = useState<Record<string, string>>({});
  const paid = useAction(MarkPaid);
  const reject = useAction(Reject);
  const payouts = q.data?.payouts ?? [];
  return (
    <Section title="Payouts">
      <div className="row">
        <Field label="Status">
          <select value={status} onChange={(e) => setStatus(e.target.value as PayoutStatus | '')}>
            <option value="PENDING">PENDING (to pay or reject)</option>
            <option value="PAID">PAID</option>
            <option value="REJECTED">REJECTED</option>
            <option value="">any</option>
          </select>
        </Field>
      </div>
      <ErrorNote error={q.error ?? paid.error ?? reject.error} />
      {q.data ? (
        <Table
          columns={[{ label: 'Asked (UTC)' }, { label: 'Organization' }, { label: 'Amount (USD)', num: true }, { label: 'Status' }, { label: 'Bank reference / reason' }, { label: '' }]}
          rows={payouts.map((p) => [
            utc(p.createdAt),
            `${p.organization.name} (${p.organization.role.toLowerCase()})`,
            p.amount,
            <StatusBadge status={p.status} />,
            p.reference ?? p.reason ?? '—',
            p.status === 'PENDING' ? (
              <span className="row tight">
                <input
                  aria-label={`Bank reference for ${p.organization.name}`}
                  placeholder="bank reference"
                  value={references[p.id] ?? ''}
                  onChange={(e) => setReferences({ ...references, [p.id]: e.target.value })}
                />
                <ConfirmAction
                  label="Mark paid"
                  disabled={!(references[p.id] ?? '').trim()}
                  disabledReason="Enter the bank reference first"
                  warning={`${p.amount} USD was paid to ${p.organization.name} with reference ${references[p.id] ?? ''}.`}
                  pending={paid.isPending}
                  onConfirm={() => paid.mutate({ id: p.id, reference: references[p.id].trim() })}
                />
                <ConfirmAction label="Reject" needsReason warning="The amount returns to their wallet." pending={reject.isPending} onConfirm={(reason) => reject.mutate({ id: p.id, reason })} />
              </span>
            ) : (
              ''
            ),
          ])}
          footer={payouts.length > 1 ? ['Total', '', sum(payouts.map((p) => p.amount)), '', '', ''] : undefined}
          empty={status === 'PENDING' ? 'No payouts waiting.' : 'No payouts.'}
        />
      ) : (
        !q.error && <Loading />
      )}
    </Section>
  );
}
