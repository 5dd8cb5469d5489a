import { useMemo, useState, type FormEvent } from 'react';
import { Decimal, roundUsd } from '@ccx/core';
import { disclosure } from '@ccx/finance';
import { graphql } from '../gql';
import type { FacilityFieldsFragment, FinancingRequestsQuery } from '../gql/graphql';
import { utc, utcDay } from '../format';
import { AsOf, ConfirmAction, Done, ErrorNote, Field, Loading, Section, Table, Tabs, useAction, useGql } from '../ui';
import { ApiKeysPage, FacilityFigures, FreezeTrail, ScheduleTable, StatusBadge, WalletCard } from './shared';
import { FinancingRequestsQuery as RequestsQuery } from './financing-requests';
import { WalletHistory } from './wallet-history';
import { PayoutsPage } from './payouts';

export function LenderPages() {
  return (
    <Tabs
      tabs={[
        { id: 'requests', label: 'Financing requests', render: () => <RequestsPage /> },
        { id: 'facilities', label: 'Facilities', render: () => <FacilitiesPage /> },
        { id: 'payouts', label: 'Payouts', render: () => <PayoutsPage /> },
        { id: 'wallet', label: 'Wallet & statements', render: () => <WalletHistory /> },
        { id: 'keys', label: 'API keys', render: () => <ApiKeysPage /> },
      ]}
    />
  );
}

type FinancingRequest = FinancingRequestsQuery['financingRequests'][number];

const LenderClock = graphql(`
  query LenderClock {
    clock
  }
`);
const OfferFacility = graphql(`
  mutation OfferFacility($input: OfferFacilityInput!) {
    offerFacility(input: $input) {
      id
      status
      disclosedApr
    }
  }
`);

/** The platform's financing fee (SPEC §7): a prepaid finance charge in the disclosed APR. */
const FEE_RATE = '0.02';

function RequestsPage() {
  const q = useGql(RequestsQuery, { status: 'OPEN' });
  const [answering, setAnswering] = useState<FinancingRequest | null>(null);
  return (
    <>
      <WalletCard />
      <Section title="Open financing requests">
        <p className="muted">Each borrower's profile comes from CCX's own records; nothing else about the borrower is shown.</p>
        <ErrorNote error={q.error} />
        {q.data ? (
          <Table
            columns={[
              { label: 'Borrower' },
              { label: 'Asked (UTC)' },
              { label: 'Amount (USD)', num: true },
              { label: 'Term (months)', num: true },
              { label: 'Purpose' },
              { label: 'Member since (UTC)' },
              { label: 'Credits bought', num: true },
              { label: 'Credits used, last 90 days', num: true },
              { label: 'Facilities repaid', num: true },
              { label: 'Facilities defaulted', num: true },
              { label: '' },
            ]}
            rows={q.data.financingRequests.map((r) => [
              r.borrower.name,
              utc(r.createdAt),
              r.amount,
              r.termMonths,
              r.purpose,
              utcDay(r.borrowerProfile.memberSince),
              r.borrowerProfile.creditsPurchased,
              r.borrowerProfile.creditsUsedLast90Days,
              r.borrowerProfile.facilitiesRepaid,
              r.borrowerProfile.facilitiesDefaulted,
              <button onClick={() => setAnswering(r)} aria-label={`Offer a facility to ${r.borrower.name}`}>
                Offer a facility
              </button>,
            ])}
            empty="No open requests."
          />
        ) : (
          !q.error && <Loading />
        )}
      </Section>
      {answering && <OfferForm request={answering} onClose={() => setAnswering(null)} />}
    </>
  );
}

function OfferForm({ request, onClose }: { request: FinancingRequest; onClose: () => void }) {
  const clock = useGql(LenderClock);
  const [terms, setTerms] = useState({ principal: request.amount, apr: '0.18', termMonths: String(request.termMonths), graceDays: '5', defaultAfterDaysPastDue: '30', recoveryRate: '0.80' });
  const [sent, setSent] = useState<string | null>(null);
  const offer = useAction(OfferFacility, (r) => setSent(`Offer sent to ${request.borrower.name}: disclosed APR ${r.offerFacility.disclosedApr}. It becomes a facility when they accept.`));
  // The preview uses the server's own maths (libs/finance), assuming acceptance today: the
  // schedule's due dates follow the acceptance day, so they move if the borrower accepts later.
  const preview = useMemo(() => {
    if (!clock.data) return null;
    try {
      const principal = new Decimal(terms.principal);
      return disclosure({
        principal,
        apr: new Decimal(terms.apr),
        termMonths: Number.parseInt(terms.termMonths, 10),
        startDate: new Date(clock.data.clock),
        prepaidFinanceCharge: roundUsd(principal.times(FEE_RATE)),
      });
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }, [terms.principal, terms.apr, terms.termMonths, clock.data]);
  const send = (e: FormEvent) => {
    e.preventDefault();
    offer.mutate({
      input: {
        borrowerId: request.borrower.id,
        financingRequestId: request.id,
        principal: terms.principal.trim(),
        apr: terms.apr.trim(),
        termMonths: Number.parseInt(terms.termMonths, 10),
        graceDays: Number.parseInt(terms.graceDays, 10),
        defaultAfterDaysPastDue: Number.parseInt(terms.defaultAfterDaysPastDue, 10),
        recoveryRate: terms.recoveryRate.trim(),
      },
    });
  };
  const field = (key: keyof typeof terms, label: string) => (
    <Field label={label}>
      <input name={key} value={terms[key]} onChange={(e) => setTerms({ ...terms, [key]: e.target.value })} required />
    </Field>
  );
  return (
    <Section
      title={`Offer a facility to ${request.borrower.name}`}
      actions={
        <button className="link" onClick={onClose}>
          Close
        </button>
      }
    >
      <form onSubmit={send}>
        <div className="grid-form">
          {field('principal', 'Principal (USD)')}
          {field('apr', 'APR (note rate, e.g. 0.18)')}
          {field('termMonths', 'Term (months)')}
          {field('graceDays', 'Grace days')}
          {field('defaultAfterDaysPastDue', 'Default after days past due')}
          {field('recoveryRate', 'Recovery rate')}
        </div>
        <h3>Preview (if accepted today, {clock.data ? utcDay(clock.data.clock) : '…'} UTC)</h3>
        {preview instanceof Error && <div className="error">These terms cannot be offered: {preview.message}</div>}
        {preview && !(preview instanceof Error) && (
          <div data-testid="offer-preview">
            <dl className="figures">
              <dt>Disclosed APR (Regulation Z)</dt>
              <dd className="num" data-testid="preview-apr">
                {preview.disclosedApr.toFixed(4)}
              </dd>
              <dt>Financing fee (prepaid)</dt>
              <dd className="num">{new Decimal(preview.financeCharge).minus(preview.totalInterest).toFixed(2)} USD</dd>
              <dt>Amount financed</dt>
              <dd className="num">{preview.amountFinanced.toFixed(2)} USD</dd>
              <dt>Total interest</dt>
              <dd className="num">{preview.totalInterest.toFixed(2)} USD</dd>
              <dt>Total of payments</dt>
              <dd className="num">{preview.totalOfPayments.toFixed(2)} USD</dd>
            </dl>
            <ScheduleTable
              caption="Schedule preview"
              schedule={preview.schedule.map((i) => ({
                number: i.number,
                dueDate: i.dueDate.toISOString(),
                payment: i.payment.toFixed(2),
                interest: i.interest.toFixed(2),
                principal: i.principal.toFixed(2),
                interestPaid: '0.00',
                principalPaid: '0.00',
                status: 'DUE',
              }))}
            />
          </div>
        )}
        <button type="submit" disabled={offer.isPending || !preview || preview instanceof Error || !!sent}>
          Send offer
        </button>
      </form>
      <ErrorNote error={clock.error ?? offer.error} />
      {sent && <Done>{sent}</Done>}
    </Section>
  );
}

const LenderFacilities = graphql(`
  query LenderFacilities {
    clock
    facilities {
      ...FacilityFields
    }
  }
`);
const Freeze = graphql(`
  mutation FreezeFacilityCredits($id: ID!, $reason: String!) {
    freezeFacilityCredits(id: $id, reason: $reason) {
      id
      frozen
    }
  }
`);
const Unfreeze = graphql(`
  mutation UnfreezeFacilityCredits($id: ID!, $reason: String) {
    unfreezeFacilityCredits(id: $id, reason: $reason) {
      id
      frozen
    }
  }
`);
const Recover = graphql(`
  mutation RecoverFrozenCredits($id: ID!) {
    recoverFrozenCredits(id: $id) {
      id
      amountRecovered
      creditsRecovered
      chargedOffAmount
      surplus
    }
  }
`);

function FacilitiesPage() {
  const q = useGql(LenderFacilities);
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading what="facilities" />;
  const facilities = q.data.facilities;
  return (
    <>
      <Section title="Facilities">
        <Table
          columns={[
            { label: 'Borrower' },
            { label: 'Status' },
            { label: 'Days past due', num: true },
            { label: 'Principal (USD)', num: true },
            { label: 'Outstanding (USD)', num: true },
            { label: 'Past due (USD)', num: true },
            { label: 'Frozen' },
            { label: 'Maturity (UTC)' },
          ]}
          rows={facilities.map((f) => [f.borrower.name, <StatusBadge status={f.status} />, f.daysPastDue, f.principal, f.outstandingPrincipal, f.pastDueAmount, f.frozen ? 'yes' : 'no', utc(f.maturityAt)])}
          empty="No facilities yet: answer a financing request."
        />
        <AsOf at={q.data.clock} />
      </Section>
      {facilities.map((f) => (
        <LenderFacility key={f.id} f={f} />
      ))}
    </>
  );
}

function LenderFacility({ f }: { f: FacilityFieldsFragment }) {
  const [done, setDone] = useState<string | null>(null);
  const freeze = useAction(Freeze, () => setDone('Credits frozen.'));
  const unfreeze = useAction(Unfreeze, () => setDone('Credits unfrozen.'));
  const recover = useAction(Recover, (r) =>
    setDone(`Recovered ${r.recoverFrozenCredits.amountRecovered} USD for ${r.recoverFrozenCredits.creditsRecovered} credits; charged off ${r.recoverFrozenCredits.chargedOffAmount} USD; surplus to the borrower ${r.recoverFrozenCredits.surplus} USD.`),
  );
  // What SPEC §7 allows in each state: the buttons are enabled only there.
  const canFreeze = !f.frozen && (f.status === 'DELINQUENT' || f.status === 'DEFAULTED');
  const canUnfreeze = f.frozen;
  const canRecover = f.status === 'DEFAULTED';
  return (
    <Section title={`Facility for ${f.borrower.name}`} actions={<StatusBadge status={f.status} />}>
      <div className="facility" data-testid="lender-facility">
        <FacilityFigures f={f} />
        <div className="row">
          <ConfirmAction
            label="Freeze"
            needsReason
            disabled={!canFreeze}
            disabledReason={f.frozen ? 'Already frozen' : 'Only a DELINQUENT or DEFAULTED facility can be frozen'}
            warning="The borrower's unused financed credits stop being usable until you unfreeze them."
            pending={freeze.isPending}
            onConfirm={(reason) => freeze.mutate({ id: f.id, reason })}
          />
          <ConfirmAction
            label="Unfreeze"
            needsReason
            reasonOptional
            disabled={!canUnfreeze}
            disabledReason="The credits are not frozen"
            pending={unfreeze.isPending}
            onConfirm={(reason) => unfreeze.mutate({ id: f.id, reason: reason || null })}
          />
          <ConfirmAction
            label="Recover"
            disabled={!canRecover}
            disabledReason="Only a DEFAULTED facility can be recovered"
            warning="The platform buys back the frozen credits at the recovery rate; what is still owed is charged off. This cannot be undone."
            pending={recover.isPending}
            onConfirm={() => recover.mutate({ id: f.id })}
          />
        </div>
        <ErrorNote error={freeze.error ?? unfreeze.error ?? recover.error} />
        {done && <Done>{done}</Done>}
        <ScheduleTable schedule={f.schedule} caption="Schedule" />
        <FreezeTrail events={f.freezeEvents} />
      </div>
    </Section>
  );
}
