import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { gql } from '../api';
import { BarChart } from '../chart';
import { sum, utc } from '../format';
import { graphql } from '../gql';
import type { ProviderListingsQuery } from '../gql/graphql';
import { ConfirmAction, Done, ErrorNote, Field, Loading, Section, Table, Tabs, useAction, useGql } from '../ui';
import { ApiKeysPage, StatusBadge, WalletCard } from './shared';
import { WalletHistory } from './wallet-history';
import { PayoutsPage } from './payouts';

export function ProviderPages() {
  return (
    <Tabs
      tabs={[
        { id: 'listings', label: 'Listings', render: () => <ListingsPage /> },
        { id: 'endpoints', label: 'Inference endpoints', render: () => <EndpointsPage /> },
        { id: 'proceeds', label: 'Sale proceeds', render: () => <ProceedsPage /> },
        { id: 'payouts', label: 'Payouts', render: () => <PayoutsPage /> },
        { id: 'wallet', label: 'Wallet & statements', render: () => <WalletHistory /> },
        { id: 'keys', label: 'API keys', render: () => <ApiKeysPage /> },
      ]}
    />
  );
}

const ListingsQuery = graphql(`
  query ProviderListings($after: String) {
    me {
      id
    }
    listings(first: 40, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          gpuType
          region
          gpuHours
          wholesalePricePerGpuHour
          wholesaleCostPerCredit
          totalCredits
          allocatedCredits
          availableCredits
          servedCredits
          status
          availableFrom
          availableUntil
          createdAt
          seller {
            id
          }
        }
      }
    }
  }
`);
type Listing = ProviderListingsQuery['listings']['edges'][number]['node'];

/** The seller's own listings: `listings` is the public market, so every page is read and filtered. */
function useMyListings() {
  return useQuery({
    queryKey: ['ProviderListings'],
    queryFn: async () => {
      const mine: Listing[] = [];
      let after: string | null = null;
      for (let page = 0; page < 50; page++) {
        const data: ProviderListingsQuery = await gql(ListingsQuery, { after });
        mine.push(...data.listings.edges.map((e) => e.node).filter((l) => l.seller.id === data.me.id));
        if (!data.listings.pageInfo.hasNextPage) break;
        after = data.listings.pageInfo.endCursor ?? null;
      }
      return mine;
    },
  });
}

const CreateListing = graphql(`
  mutation CreateListing($input: CreateListingInput!) {
    createListing(input: $input) {
      id
      totalCredits
      wholesaleCostPerCredit
      status
    }
  }
`);
const WithdrawListing = graphql(`
  mutation WithdrawListing($id: ID!) {
    withdrawListing(id: $id) {
      id
      status
    }
  }
`);
const GpuTypesQuery = graphql(`
  query GpuTypes {
    clock
    gpuTypes {
      name
      creditsPerGpuHour
    }
  }
`);

const shortId = (id: string) => id.slice(0, 8);
const listingLabel = (l: Listing) => `${l.gpuType} ${l.region} ${shortId(l.id)}`;

function ListingsPage() {
  const q = useMyListings();
  const withdraw = useAction(WithdrawListing);
  const listings = q.data ?? [];
  return (
    <>
      <NewListing />
      <Section title="Capacity: allocated versus total">
        <ErrorNote error={q.error} />
        {q.data ? (
          <BarChart
            title="Credits per listing"
            xLabel="Listing"
            x={listings.map(listingLabel)}
            series={[
              { label: 'Allocated', values: listings.map((l) => l.allocatedCredits) },
              { label: 'Not allocated', values: listings.map((l) => minusOrZero(l.totalCredits, l.allocatedCredits)) },
            ]}
            unit="credits"
          />
        ) : (
          !q.error && <Loading />
        )}
      </Section>
      <Section title="Your listings">
        <ErrorNote error={withdraw.error} />
        <Table
          columns={[
            { label: 'Listing' },
            { label: 'Status' },
            { label: 'GPU-hours', num: true },
            { label: 'Price / GPU-hour (USD)', num: true },
            { label: 'Cost / credit (USD)', num: true },
            { label: 'Total credits', num: true },
            { label: 'Allocated', num: true },
            { label: 'Available', num: true },
            { label: 'Served', num: true },
            { label: 'Window (UTC)' },
            { label: '' },
          ]}
          rows={listings.map((l) => [
            listingLabel(l),
            <StatusBadge status={l.status} />,
            l.gpuHours,
            l.wholesalePricePerGpuHour,
            l.wholesaleCostPerCredit,
            l.totalCredits,
            l.allocatedCredits,
            l.availableCredits,
            l.servedCredits,
            `${utc(l.availableFrom)} – ${utc(l.availableUntil)}`,
            l.status === 'OPEN' || l.status === 'SOLD_OUT' ? (
              <ConfirmAction
                label="Withdraw"
                warning={`Takes the unallocated ${l.availableCredits} credits off the market; what is allocated stays with its buyers.`}
                pending={withdraw.isPending}
                onConfirm={() => withdraw.mutate({ id: l.id })}
              />
            ) : (
              ''
            ),
          ])}
          footer={listings.length > 1 ? ['Total', '', '', '', '', sum(listings.map((l) => l.totalCredits)), sum(listings.map((l) => l.allocatedCredits)), sum(listings.map((l) => l.availableCredits)), sum(listings.map((l) => l.servedCredits)), '', ''] : undefined}
          empty="No listings yet."
        />
      </Section>
    </>
  );
}

function minusOrZero(a: string, b: string): string {
  const scale = a.includes('.') ? a.length - a.indexOf('.') - 1 : 0;
  // Decimal strings of the same scale: exact through BigInt.
  const toInt = (v: string) => BigInt(v.replace('.', '').replace(/^-?0+(?=\d)/, '') || '0');
  const d = toInt(a) - toInt(b);
  const s = (d < 0n ? 0n : d).toString().padStart(scale + 1, '0');
  return scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}` : s;
}

function NewListing() {
  const types = useGql(GpuTypesQuery);
  const today = types.data?.clock.slice(0, 10) ?? '';
  const [form, setForm] = useState({ gpuType: '', region: '', gpuHours: '', price: '', from: '', until: '' });
  const [done, setDone] = useState<string | null>(null);
  const create = useAction(CreateListing, (r) => setDone(`Listed ${r.createListing.totalCredits} credits at ${r.createListing.wholesaleCostPerCredit} USD per credit.`));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    create.mutate({
      input: {
        gpuType: form.gpuType || types.data!.gpuTypes[0].name,
        region: form.region.trim(),
        gpuHours: form.gpuHours.trim(),
        wholesalePricePerGpuHour: form.price.trim(),
        availableFrom: `${form.from || today}T00:00:00Z`,
        availableUntil: `${form.until}T00:00:00Z`,
      },
    });
  };
  return (
    <Section title="List capacity">
      <form onSubmit={submit} className="grid-form">
        <Field label="GPU type">
          <select name="gpuType" value={form.gpuType} onChange={(e) => setForm({ ...form, gpuType: e.target.value })}>
            {types.data?.gpuTypes.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({t.creditsPerGpuHour} credits / GPU-hour)
              </option>
            ))}
          </select>
        </Field>
        <Field label="Region">
          <input name="region" value={form.region} onChange={(e) => setForm({ ...form, region: e.target.value })} required placeholder="us-east" />
        </Field>
        <Field label="GPU-hours">
          <input name="gpuHours" value={form.gpuHours} onChange={(e) => setForm({ ...form, gpuHours: e.target.value })} inputMode="decimal" required />
        </Field>
        <Field label="Wholesale price per GPU-hour (USD)">
          <input name="price" value={form.price} onChange={(e) => setForm({ ...form, price: e.target.value })} inputMode="decimal" required />
        </Field>
        <Field label="Available from (UTC day)">
          <input name="from" type="date" value={form.from || today} onChange={(e) => setForm({ ...form, from: e.target.value })} required />
        </Field>
        <Field label="Available until (UTC day, excluded)">
          <input name="until" type="date" value={form.until} onChange={(e) => setForm({ ...form, until: e.target.value })} required />
        </Field>
        <button type="submit" disabled={create.isPending || !types.data}>
          Create listing
        </button>
      </form>
      <ErrorNote error={types.error ?? create.error} />
      {done && <Done>{done}</Done>}
    </Section>
  );
}

const EndpointsQuery = graphql(`
  query InferenceEndpoints {
    inferenceEndpoints {
      id
      baseUrl
      apiKeyLastFour
      enabled
      circuitState
      requests
      failures
      createdAt
      models {
        model
        upstreamModel
      }
      listing {
        id
        gpuType
        region
        servedCredits
      }
    }
  }
`);
const CreateEndpoint = graphql(`
  mutation CreateInferenceEndpoint($input: CreateInferenceEndpointInput!) {
    createInferenceEndpoint(input: $input) {
      id
    }
  }
`);
const SetEndpointEnabled = graphql(`
  mutation SetInferenceEndpointEnabled($id: ID!, $enabled: Boolean!) {
    setInferenceEndpointEnabled(id: $id, enabled: $enabled) {
      id
      enabled
    }
  }
`);

function EndpointsPage() {
  const q = useGql(EndpointsQuery);
  const listings = useMyListings();
  const toggle = useAction(SetEndpointEnabled);
  const [form, setForm] = useState({ listingId: '', baseUrl: '', apiKey: '', models: '' });
  const create = useAction(CreateEndpoint, () => setForm({ listingId: '', baseUrl: '', apiKey: '', models: '' }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const models = form.models
      .split(/[\n,]/)
      .map((m) => m.trim())
      .filter(Boolean)
      .map((m) => {
        const [model, upstreamModel] = m.split('=').map((s) => s.trim());
        return upstreamModel ? { model, upstreamModel } : { model };
      });
    create.mutate({ input: { listingId: form.listingId || listings.data![0]?.id, baseUrl: form.baseUrl.trim(), apiKey: form.apiKey || null, models } });
  };
  return (
    <>
      <Section title="Attach an inference server">
        <form onSubmit={submit} className="grid-form">
          <Field label="Listing">
            <select value={form.listingId} onChange={(e) => setForm({ ...form, listingId: e.target.value })}>
              {listings.data?.map((l) => (
                <option key={l.id} value={l.id}>
                  {listingLabel(l)}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Base URL" hint="OpenAI-compatible, e.g. https://gpu-7.example.net/v1">
            <input value={form.baseUrl} onChange={(e) => setForm({ ...form, baseUrl: e.target.value })} required />
          </Field>
          <Field label="Upstream API key (optional, write-only)">
            <input type="password" autoComplete="off" value={form.apiKey} onChange={(e) => setForm({ ...form, apiKey: e.target.value })} />
          </Field>
          <Field label="Models" hint="Comma-separated; model=upstream-name where they differ.">
            <input value={form.models} onChange={(e) => setForm({ ...form, models: e.target.value })} required placeholder="llama-3-70b=meta-llama/Meta-Llama-3-70B-Instruct" />
          </Field>
          <button type="submit" disabled={create.isPending || !listings.data?.length}>
            Attach endpoint
          </button>
        </form>
        <ErrorNote error={create.error ?? listings.error} />
      </Section>
      <Section title="Inference endpoints">
        <ErrorNote error={q.error ?? toggle.error} />
        {q.data ? (
          <Table
            columns={[
              { label: 'Base URL' },
              { label: 'Listing' },
              { label: 'Models' },
              { label: 'Key' },
              { label: 'Circuit' },
              { label: 'Requests', num: true },
              { label: 'Failures', num: true },
              { label: 'Served credits (listing)', num: true },
              { label: '' },
            ]}
            rows={q.data.inferenceEndpoints.map((e) => [
              e.baseUrl,
              `${e.listing.gpuType} ${e.listing.region} ${shortId(e.listing.id)}`,
              e.models.map((m) => (m.model === m.upstreamModel ? m.model : `${m.model} → ${m.upstreamModel}`)).join(', '),
              e.apiKeyLastFour ? `…${e.apiKeyLastFour}` : '—',
              e.circuitState,
              e.requests,
              e.failures,
              e.listing.servedCredits,
              <button className="link" disabled={toggle.isPending} onClick={() => toggle.mutate({ id: e.id, enabled: !e.enabled })}>
                {e.enabled ? 'Disable' : 'Enable'}
              </button>,
            ])}
            empty="No endpoints attached."
          />
        ) : (
          !q.error && <Loading />
        )}
      </Section>
    </>
  );
}

const ProceedsQuery = graphql(`
  query SaleProceeds {
    walletEntries(first: 100) {
      totalCount
      edges {
        node {
          id
          createdAt
          kind
          amount
          reference
        }
      }
    }
  }
`);

const PROCEEDS = ['sale_proceeds', 'overflow_earnings'];

function ProceedsPage() {
  const q = useGql(ProceedsQuery);
  const entries = (q.data?.walletEntries.edges ?? []).map((e) => e.node).filter((e) => PROCEEDS.includes(e.kind));
  return (
    <>
      <WalletCard />
      <Section title="Sale proceeds (latest 100 wallet entries)">
        <p className="muted">Paid when credits are delivered to a buyer (sale proceeds) and for credits served beyond what was sold (overflow earnings).</p>
        <ErrorNote error={q.error} />
        {q.data ? (
          <Table
            columns={[{ label: 'When (UTC)' }, { label: 'Kind' }, { label: 'Amount (USD)', num: true }, { label: 'Reference' }]}
            rows={entries.map((e) => [utc(e.createdAt), e.kind.replace(/_/g, ' '), e.amount, e.reference ?? '—'])}
            footer={entries.length ? ['Total', '', sum(entries.map((e) => e.amount)), ''] : undefined}
            empty="No proceeds yet."
          />
        ) : (
          !q.error && <Loading />
        )}
      </Section>
    </>
  );
}
