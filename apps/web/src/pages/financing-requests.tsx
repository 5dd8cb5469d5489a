import { useState, type FormEvent } from 'react';
import { graphql } from '../gql';
import { utc } from '../format';
import { ConfirmAction, Done, ErrorNote, Field, Loading, Section, Table, useAction, useGql } from '../ui';
import { StatusBadge } from './shared';

export const FinancingRequestsQuery = graphql(`
  query FinancingRequests($status: FinancingRequestStatus) {
    financingRequests(status: $status) {
      id
      amount
      termMonths
      purpose
      status
      createdAt
      borrower {
        id
        name
      }
      borrowerProfile {
        memberSince
        creditsPurchased
        creditsUsedLast90Days
        facilitiesRepaid
        facilitiesDefaulted
      }
    }
  }
`);
const RequestFinancing = graphql(`
  mutation RequestFinancing($input: FinancingRequestInput!) {
    requestFinancing(input: $input) {
      id
      status
    }
  }
`);
const WithdrawFinancingRequest = graphql(`
  mutation WithdrawFinancingRequest($id: ID!) {
    withdrawFinancingRequest(id: $id) {
      id
      status
    }
  }
`);

/** A startup asks every active lender for financing and follows its requests (SPEC §13). */
export function StartupFinancingRequests() {
  const q = useGql(FinancingRequestsQuery, {});
  const [form, setForm] = useState({ amount: '', termMonths: '12', purpose: '' });
  const ask = useAction(RequestFinancing, () => setForm({ amount: '', termMonths: '12', purpose: '' }));
  const withdraw = useAction(WithdrawFinancingRequest);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    ask.mutate({ input: { amount: form.amount.trim(), termMonths: Number.parseInt(form.termMonths, 10), purpose: form.purpose.trim() } });
  };
  return (
    <Section title="Financing requests">
      <p className="muted">Lenders see the request with a profile built from CCX's own records (member since, credits bought and used, facilities repaid and defaulted) — nothing else about you.</p>
      <form onSubmit={submit} className="grid-form">
        <Field label="Amount (USD)">
          <input name="financingAmount" value={form.amount} onChange={(e) => setForm({ ...form, amount: e.target.value })} inputMode="decimal" required />
        </Field>
        <Field label="Term (months)">
          <input name="financingTerm" value={form.termMonths} onChange={(e) => setForm({ ...form, termMonths: e.target.value })} inputMode="numeric" required />
        </Field>
        <Field label="Purpose">
          <input name="financingPurpose" value={form.purpose} onChange={(e) => setForm({ ...form, purpose: e.target.value })} required />
        </Field>
        <button type="submit" disabled={ask.isPending}>
          Request financing
        </button>
      </form>
      <ErrorNote error={ask.error ?? withdraw.error ?? q.error} />
      {ask.isSuccess && <Done>Your request is published to lenders.</Done>}
      {q.data ? (
        <Table
          columns={[{ label: 'Asked (UTC)' }, { label: 'Amount (USD)', num: true }, { label: 'Term (months)', num: true }, { label: 'Purpose' }, { label: 'Status' }, { label: '' }]}
          rows={q.data.financingRequests.map((r) => [
            utc(r.createdAt),
            r.amount,
            r.termMonths,
            r.purpose,
            <StatusBadge status={r.status} />,
            r.status === 'OPEN' ? <ConfirmAction label="Withdraw" pending={withdraw.isPending} onConfirm={() => withdraw.mutate({ id: r.id })} /> : '',
          ])}
          empty="No financing requests."
        />
      ) : (
        !q.error && <Loading />
      )}
    </Section>
  );
}
