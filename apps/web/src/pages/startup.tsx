import { useMemo, useState, type FormEvent } from 'react';
import { useQueries } from '@tanstack/react-query';
import { gql, idempotencyKey } from '../api';
import { BarChart } from '../chart';
import { addDays, download, sum, toCsv, utc, utcDay } from '../format';
import { graphql } from '../gql';
import { AsOf, ConfirmAction, Done, ErrorNote, Field, Loading, Section, Stat, Table, Tabs, useAction, useGql } from '../ui';
import { ApiKeysPage, FacilityFigures, ScheduleTable, StatusBadge, WalletCard } from './shared';
import { StartupFinancingRequests } from './financing-requests';
import { WalletHistory } from './wallet-history';

const BalanceQuery = graphql(`
  query StartupBalance {
    clock
    creditBalance {
      available
      held
      frozen
      blocks {
        id
        type
        status
        granted
        remaining
        held
        unitPrice
        expiresAt
        createdAt
        facilityId
      }
    }
  }
`);

export function StartupPages() {
  return (
    <Tabs
      tabs={[
        { id: 'balance', label: 'Balance', render: () => <BalancePage /> },
        { id: 'buy', label: 'Buy & reserve', render: () => <BuyPage /> },
        { id: 'usage', label: 'Usage', render: () => <UsagePage /> },
        { id: 'financing', label: 'Financing', render: () => <FinancingPage /> },
        { id: 'alerts', label: 'Alerts & settings', render: () => <AlertsPage /> },
        { id: 'keys', label: 'API keys', render: () => <ApiKeysPage /> },
        { id: 'wallet', label: 'Wallet & statements', render: () => <WalletHistory /> },
      ]}
    />
  );
}

function BalancePage() {
  const q = useGql(BalanceQuery);
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading what="your balance" />;
  const { creditBalance: b, clock } = q.data;
  const live = b.blocks.filter((k) => k.status === 'ACTIVE' && k.remaining !== '0.000000');
  const nextExpiry = live
    .map((k) => k.expiresAt)
    .filter((d): d is string => !!d)
    .sort()[0];
  const expiringNext = nextExpiry ? sum(live.filter((k) => k.expiresAt === nextExpiry).map((k) => k.remaining)) : null;
  // Remaining credits by expiry day, one series per credit type.
  const withRemaining = b.blocks.filter((k) => (k.status === 'ACTIVE' || k.status === 'FROZEN') && k.remaining !== '0.000000');
  const days = [...new Set(withRemaining.map((k) => (k.expiresAt ? utcDay(k.expiresAt) : 'no expiry')))].sort();
  const types = [...new Set(withRemaining.map((k) => k.type))].sort();
  const series = types.map((t) => ({
    label: t,
    values: days.map((d) => sum(['0.000000', ...withRemaining.filter((k) => k.type === t && (k.expiresAt ? utcDay(k.expiresAt) : 'no expiry') === d).map((k) => k.remaining)])),
  }));
  return (
    <>
      <Section title="Credit balance">
        <div className="stats" data-testid="credit-balance">
          <Stat label="Available" value={<span data-testid="credits-available">{b.available}</span>} unit="credits" />
          <Stat label="Held" value={b.held} unit="credits" />
          <Stat label="Frozen" value={b.frozen} unit="credits" />
          <Stat label="Next expiry" value={nextExpiry ? `${expiringNext} on ${utcDay(nextExpiry)}` : 'none'} unit={nextExpiry ? 'credits (UTC)' : undefined} />
        </div>
        <AsOf at={clock} />
      </Section>
      <WalletCard />
      <Section title="Credit blocks by expiry">
        <BarChart title="Remaining credits by expiry day (UTC)" xLabel="Expires (UTC)" x={days} series={series} unit="credits" />
        <Table
          caption="Credit blocks"
          columns={[
            { label: 'Type' },
            { label: 'Status' },
            { label: 'Granted', num: true },
            { label: 'Remaining', num: true },
            { label: 'Held', num: true },
            { label: 'Unit price (USD)', num: true },
            { label: 'Expires (UTC)' },
            { label: 'Created (UTC)' },
          ]}
          rows={b.blocks.map((k) => [k.type, k.status, k.granted, k.remaining, k.held, k.unitPrice, k.expiresAt ? utc(k.expiresAt) : 'never', utc(k.createdAt)])}
        />
      </Section>
    </>
  );
}

const QuoteQuery = graphql(`
  query Quote($input: QuoteInput!) {
    market {
      totalCredits
      allocatedCredits
      utilization
      standardPricePerCredit
    }
    quote(input: $input) {
      type
      credits
      unitPrice
      totalPrice
      discountRate
    }
  }
`);
const Purchase = graphql(`
  mutation PurchaseCredits($input: PurchaseCreditsInput!) {
    purchaseCredits(input: $input) {
      id
      credits
      unitPrice
      totalPrice
    }
  }
`);
const Reserve = graphql(`
  mutation ReserveCredits($input: ReserveCreditsInput!) {
    reserveCredits(input: $input) {
      id
      creditsPerMonth
      termMonths
      monthlyCharge
    }
  }
`);
const ReservationsQuery = graphql(`
  query Reservations {
    reservations {
      id
      status
      creditsPerMonth
      termMonths
      unitPrice
      discountRate
      monthlyCharge
      monthsDelivered
      nextDeliveryAt
      earlyTerminationFee
      createdAt
    }
  }
`);
const CancelReservation = graphql(`
  mutation CancelReservation($id: ID!) {
    cancelReservation(id: $id) {
      id
      status
      earlyTerminationFee
    }
  }
`);

function BuyPage() {
  return (
    <>
      <WalletCard />
      <BuyStandard />
      <ReserveForm />
      <ReservationsList />
    </>
  );
}

function BuyStandard() {
  const [credits, setCredits] = useState('');
  const [asked, setAsked] = useState<string | null>(null);
  const [bought, setBought] = useState<string | null>(null);
  const quote = useGql(QuoteQuery, { input: { type: 'STANDARD', credits: asked ?? '0' } }, { enabled: asked !== null, staleTime: 0 });
  const buy = useAction(Purchase, (r) => {
    setBought(`Bought ${r.purchaseCredits.credits} credits at ${r.purchaseCredits.unitPrice} USD each: ${r.purchaseCredits.totalPrice} USD.`);
    setAsked(null);
  });
  const ask = (e: FormEvent) => {
    e.preventDefault();
    setBought(null);
    buy.reset();
    setAsked(credits.trim());
  };
  const q = quote.data?.quote;
  return (
    <Section title="Buy standard credits">
      <form onSubmit={ask} className="row">
        <Field label="Credits">
          <input name="credits" value={credits} onChange={(e) => setCredits(e.target.value)} inputMode="decimal" required placeholder="1000" />
        </Field>
        <button type="submit">Get a quote</button>
      </form>
      <ErrorNote error={quote.error} />
      {asked !== null && q && (
        <div className="quote" data-testid="quote">
          <dl className="figures">
            <dt>Credits</dt>
            <dd className="num">{q.credits}</dd>
            <dt>Unit price</dt>
            <dd className="num">{q.unitPrice} USD</dd>
            <dt>Total</dt>
            <dd className="num">{q.totalPrice} USD</dd>
            <dt>Market utilization</dt>
            <dd className="num">{quote.data!.market.utilization}</dd>
          </dl>
          <button
            disabled={buy.isPending}
            onClick={() => buy.mutate({ input: { credits: q.credits, maxUnitPrice: q.unitPrice, idempotencyKey: idempotencyKey() } })}
          >
            Buy {q.credits} credits for {q.totalPrice} USD
          </button>
          <p className="muted small">The purchase is refused if the price rose above this quote's unit price.</p>
        </div>
      )}
      <ErrorNote error={buy.error} />
      {bought && <Done>{bought}</Done>}
    </Section>
  );
}

function ReserveForm() {
  const [perMonth, setPerMonth] = useState('');
  const [term, setTerm] = useState('12');
  const [asked, setAsked] = useState<{ credits: string; termMonths: number } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const quote = useGql(QuoteQuery, { input: { type: 'RESERVED', credits: asked?.credits ?? '0', termMonths: asked?.termMonths } }, { enabled: asked !== null, staleTime: 0 });
  const reserve = useAction(Reserve, (r) => {
    setDone(`Reserved ${r.reserveCredits.creditsPerMonth} credits a month for ${r.reserveCredits.termMonths} months: ${r.reserveCredits.monthlyCharge} USD a month.`);
    setAsked(null);
  });
  return (
    <Section title="Reserve credits">
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setDone(null);
          reserve.reset();
          setAsked({ credits: perMonth.trim(), termMonths: Number.parseInt(term, 10) });
        }}
      >
        <Field label="Credits per month">
          <input value={perMonth} onChange={(e) => setPerMonth(e.target.value)} inputMode="decimal" required />
        </Field>
        <Field label="Term (months)">
          <input value={term} onChange={(e) => setTerm(e.target.value)} inputMode="numeric" required />
        </Field>
        <button type="submit">Get a quote</button>
      </form>
      <ErrorNote error={quote.error} />
      {asked && quote.data && (
        <div className="quote">
          <p>
            Unit price <span className="num">{quote.data.quote.unitPrice}</span> USD (discount <span className="num">{quote.data.quote.discountRate}</span>), per month{' '}
            <span className="num">{quote.data.quote.totalPrice}</span> USD.
          </p>
          <button disabled={reserve.isPending} onClick={() => reserve.mutate({ input: { creditsPerMonth: asked.credits, termMonths: asked.termMonths, idempotencyKey: idempotencyKey() } })}>
            Reserve
          </button>
        </div>
      )}
      <ErrorNote error={reserve.error} />
      {done && <Done>{done}</Done>}
    </Section>
  );
}

function ReservationsList() {
  const q = useGql(ReservationsQuery);
  const cancel = useAction(CancelReservation);
  return (
    <Section title="Reservations">
      <ErrorNote error={q.error ?? cancel.error} />
      {q.data ? (
        <Table
          columns={[
            { label: 'Status' },
            { label: 'Credits / month', num: true },
            { label: 'Term', num: true },
            { label: 'Delivered (months)', num: true },
            { label: 'Unit price (USD)', num: true },
            { label: 'Monthly charge (USD)', num: true },
            { label: 'Next delivery (UTC)' },
            { label: 'Early termination fee (USD)', num: true },
            { label: '' },
          ]}
          rows={q.data.reservations.map((r) => [
            <StatusBadge status={r.status} />,
            r.creditsPerMonth,
            r.termMonths,
            r.monthsDelivered,
            r.unitPrice,
            r.monthlyCharge,
            utc(r.nextDeliveryAt),
            r.earlyTerminationFee,
            r.status === 'ACTIVE' || r.status === 'PAST_DUE' ? (
              <ConfirmAction label="Cancel" warning={`Cancelling now charges ${r.earlyTerminationFee} USD.`} pending={cancel.isPending} onConfirm={() => cancel.mutate({ id: r.id })} />
            ) : (
              ''
            ),
          ])}
        />
      ) : (
        <Loading />
      )}
    </Section>
  );
}

const ClockQuery = graphql(`
  query Clock {
    clock
  }
`);
const UsageQuery = graphql(`
  query UsageReport($input: UsageReportInput!) {
    usageReport(input: $input) {
      key
      events
      credits
    }
  }
`);
const RequestsQuery = graphql(`
  query InferenceRequests($first: Int) {
    inferenceRequests(first: $first) {
      totalCount
      edges {
        node {
          id
          createdAt
          model
          status
          stream
          attempts
          inputTokens
          outputTokens
          credits
          estimated
          latencyMs
          timeToFirstTokenMs
        }
      }
    }
  }
`);

const MAX_DAYS = 31;

function UsagePage() {
  const clock = useGql(ClockQuery);
  const today = clock.data ? utcDay(clock.data.clock) : null;
  const [range, setRange] = useState<{ from: string; to: string } | null>(null);
  const from = range?.from ?? (today ? addDays(today, -6) : null);
  const to = range?.to ?? today;
  if (!from || !to) return clock.error ? <ErrorNote error={clock.error} /> : <Loading />;
  return (
    <>
      <UsageChart from={from} to={to} onRange={setRange} />
      <GatewayRequests />
    </>
  );
}

function UsageChart({ from, to, onRange }: { from: string; to: string; onRange: (r: { from: string; to: string }) => void }) {
  const [draft, setDraft] = useState({ from, to });
  const days = useMemo(() => {
    const out: string[] = [];
    for (let d = from; d <= to && out.length < MAX_DAYS; d = addDays(d, 1)) out.push(d);
    return out;
  }, [from, to]);
  // The API groups by day or by model, not both: one by-model report per day of the range.
  const perDay = useQueries({
    queries: days.map((day) => ({
      queryKey: ['UsageReport', { day }],
      queryFn: () => gql(UsageQuery, { input: { from: `${day}T00:00:00Z`, to: `${addDays(day, 1)}T00:00:00Z`, groupBy: 'MODEL' } }),
    })),
  });
  const total = useGql(UsageQuery, { input: { from: `${from}T00:00:00Z`, to: `${addDays(days[days.length - 1] ?? to, 1)}T00:00:00Z`, groupBy: 'MODEL' } });
  const error = perDay.find((p) => p.error)?.error ?? total.error;
  const ready = perDay.every((p) => p.data) && total.data;
  const models = total.data ? total.data.usageReport.map((r) => r.key).sort() : [];
  const series = ready
    ? models.map((m) => ({ label: m, values: perDay.map((p) => p.data!.usageReport.find((r) => r.key === m)?.credits ?? '0.000000') }))
    : [];
  const csv = () => {
    const rows = days.flatMap((day, i) => perDay[i].data!.usageReport.map((r) => [day, r.key, String(r.events), r.credits]));
    download(`ccx-usage-${from}-to-${to}.csv`, toCsv(['day_utc', 'model', 'events', 'credits'], rows));
  };
  return (
    <Section
      title="Usage by day, stacked by model"
      actions={
        <button className="link" disabled={!ready} onClick={csv}>
          Download CSV
        </button>
      }
    >
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          onRange(draft);
        }}
      >
        <Field label="From (UTC day)">
          <input type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} required />
        </Field>
        <Field label="To (UTC day, included)" hint={`At most ${MAX_DAYS} days.`}>
          <input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} required />
        </Field>
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={error} />
      {ready ? (
        <>
          <BarChart title={`Credits used per day, ${from} to ${to} (UTC)`} xLabel="Day (UTC)" x={days} series={series} unit="credits" />
          <Table
            caption="By model over the range"
            columns={[{ label: 'Model' }, { label: 'Events', num: true }, { label: 'Credits', num: true }]}
            rows={total.data!.usageReport.map((r) => [r.key, r.events, r.credits])}
            footer={['Total', String(total.data!.usageReport.reduce((n, r) => n + r.events, 0)), sum(total.data!.usageReport.map((r) => r.credits))]}
            empty="No usage in this range."
          />
        </>
      ) : (
        !error && <Loading what="usage" />
      )}
    </Section>
  );
}

function GatewayRequests() {
  const q = useGql(RequestsQuery, { first: 50 });
  return (
    <Section title="Gateway requests (latest 50)">
      <ErrorNote error={q.error} />
      {q.data ? (
        <Table
          columns={[
            { label: 'When (UTC)' },
            { label: 'Model' },
            { label: 'Status' },
            { label: 'Input tokens', num: true },
            { label: 'Output tokens', num: true },
            { label: 'Credits', num: true },
            { label: 'Latency (ms)', num: true },
            { label: 'Attempts', num: true },
          ]}
          rows={q.data.inferenceRequests.edges.map(({ node: r }) => [
            utc(r.createdAt),
            r.model,
            r.status,
            r.inputTokens,
            r.outputTokens,
            `${r.credits}${r.estimated ? ' (est.)' : ''}`,
            r.latencyMs,
            r.attempts,
          ])}
          empty="No gateway requests yet."
        />
      ) : (
        <Loading />
      )}
    </Section>
  );
}

const BorrowerFacilities = graphql(`
  query BorrowerFacilities {
    clock
    facilities {
      ...FacilityFields
    }
  }
`);
const AcceptFacility = graphql(`
  mutation AcceptFacility($id: ID!) {
    acceptFacility(id: $id) {
      id
      status
    }
  }
`);
const DeclineFacility = graphql(`
  mutation DeclineFacility($id: ID!) {
    declineFacility(id: $id) {
      id
      status
    }
  }
`);
const RepayFacility = graphql(`
  mutation RepayFacility($input: RepayFacilityInput!) {
    repayFacility(input: $input) {
      id
      amount
      interestPaid
      principalPaid
    }
  }
`);

function FinancingPage() {
  const q = useGql(BorrowerFacilities);
  const accept = useAction(AcceptFacility);
  const decline = useAction(DeclineFacility);
  return (
    <>
      <StartupFinancingRequests />
      <Section title="Facilities">
        <ErrorNote error={q.error ?? accept.error ?? decline.error} />
        {!q.data && !q.error && <Loading />}
        {q.data && q.data.facilities.length === 0 && <p className="muted">No facility offered to you yet.</p>}
        {q.data?.facilities.map((f) => (
          <article key={f.id} className="facility" data-testid="facility">
            <h3>
              From {f.lender.name} <StatusBadge status={f.status} />
            </h3>
            <FacilityFigures f={f} />
            {f.status === 'OFFERED' && (
              <div className="row">
                <ConfirmAction label="Accept" warning={`Accepting commits you to the schedule below (disclosed APR ${f.disclosedApr}).`} pending={accept.isPending} onConfirm={() => accept.mutate({ id: f.id })} />
                <ConfirmAction label="Decline" pending={decline.isPending} onConfirm={() => decline.mutate({ id: f.id })} />
              </div>
            )}
            {['ACTIVE', 'DELINQUENT', 'DEFAULTED'].includes(f.status) && <RepayForm facilityId={f.id} payoff={f.payoffAmount} />}
            <ScheduleTable schedule={f.schedule} caption="Schedule" />
            <AsOf at={q.data!.clock} />
          </article>
        ))}
      </Section>
    </>
  );
}

function RepayForm({ facilityId, payoff }: { facilityId: string; payoff: string }) {
  const [amount, setAmount] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const repay = useAction(RepayFacility, (r) => setDone(`Paid ${r.repayFacility.amount} USD: ${r.repayFacility.interestPaid} interest, ${r.repayFacility.principalPaid} principal.`));
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        setDone(null);
        repay.mutate({ input: { facilityId, amount: amount.trim(), idempotencyKey: idempotencyKey() } });
      }}
    >
      <Field label="Repay (USD)" hint={`Payoff today: ${payoff} USD`}>
        <input value={amount} onChange={(e) => setAmount(e.target.value)} inputMode="decimal" required />
      </Field>
      <button type="button" className="link" onClick={() => setAmount(payoff)}>
        Pay off
      </button>
      <button type="submit" disabled={repay.isPending}>
        Repay
      </button>
      <ErrorNote error={repay.error} />
      {done && <Done>{done}</Done>}
    </form>
  );
}

const AlertsQuery = graphql(`
  query AlertsAndSettings {
    alerts(first: 50) {
      id
      kind
      message
      createdAt
    }
    balanceSettings {
      lowBalanceThreshold
      autoRefillThreshold
      autoRefillCredits
      autoRefillMaxUnitPrice
      webhookUrl
    }
  }
`);
const UpdateSettings = graphql(`
  mutation UpdateBalanceSettings($input: BalanceSettingsInput!) {
    updateBalanceSettings(input: $input) {
      lowBalanceThreshold
      autoRefillThreshold
      autoRefillCredits
      autoRefillMaxUnitPrice
      webhookUrl
      webhookSecret
    }
  }
`);

type SettingKey = 'lowBalanceThreshold' | 'autoRefillThreshold' | 'autoRefillCredits' | 'autoRefillMaxUnitPrice' | 'webhookUrl';
const SETTINGS: { key: SettingKey; label: string; hint: string }[] = [
  { key: 'lowBalanceThreshold', label: 'Low-balance alert below (credits)', hint: 'Empty: no alert.' },
  { key: 'autoRefillThreshold', label: 'Auto-refill when below (credits)', hint: 'Empty: no auto-refill.' },
  { key: 'autoRefillCredits', label: 'Auto-refill buys (credits)', hint: '' },
  { key: 'autoRefillMaxUnitPrice', label: 'Auto-refill max unit price (USD)', hint: '' },
  { key: 'webhookUrl', label: 'Webhook URL', hint: 'Alerts are POSTed here, signed with CCX-Signature.' },
];

function AlertsPage() {
  const q = useGql(AlertsQuery);
  const [draft, setDraft] = useState<Partial<Record<SettingKey, string>>>({});
  const [secret, setSecret] = useState<string | null>(null);
  const update = useAction(UpdateSettings, (r) => {
    setDraft({});
    setSecret(r.updateBalanceSettings.webhookSecret ?? null);
  });
  if (!q.data) return q.error ? <ErrorNote error={q.error} /> : <Loading />;
  const s = q.data.balanceSettings;
  const save = (e: FormEvent) => {
    e.preventDefault();
    const input: Partial<Record<SettingKey, string | null>> = {};
    for (const { key } of SETTINGS) {
      if (draft[key] === undefined) continue;
      input[key] = draft[key]!.trim() === '' ? null : draft[key]!.trim();
    }
    update.mutate({ input });
  };
  return (
    <>
      <Section title="Low balance, auto-refill and webhook">
        <form onSubmit={save} className="grid-form">
          {SETTINGS.map(({ key, label, hint }) => (
            <Field key={key} label={label} hint={hint || undefined}>
              <input value={draft[key] ?? s[key] ?? ''} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
            </Field>
          ))}
          <button type="submit" disabled={update.isPending}>
            Save settings
          </button>
        </form>
        <ErrorNote error={update.error} />
        {update.isSuccess && <Done>Settings saved.</Done>}
        {secret && (
          <Done>
            Webhook signing secret (shown once): <code className="secret">{secret}</code>
          </Done>
        )}
      </Section>
      <Section title="Alerts">
        <Table
          columns={[{ label: 'When (UTC)' }, { label: 'Kind' }, { label: 'Message' }]}
          rows={q.data.alerts.map((a) => [utc(a.createdAt), a.kind.replace('_', ' '), a.message])}
          empty="No alerts."
        />
      </Section>
    </>
  );
}
