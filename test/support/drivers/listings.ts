import type { TestApp } from '../app.js';
import type { Org } from './organizations.js';

/** Listings through the API: sellers list capacity, anyone pages the listings connection. */
export interface ListingArgs {
  gpuType?: string;
  region?: string;
  gpuHours: string;
  wholesalePricePerGpuHour: string;
  availableFrom?: string;
  availableUntil?: string;
}

export async function createListing(t: TestApp, seller: Org, args: ListingArgs): Promise<any> {
  const res = await t.gql(
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id status totalCredits wholesaleCostPerCredit availableCredits allocatedCredits } }`,
    {
      input: {
        gpuType: args.gpuType ?? 'H100',
        region: args.region ?? 'us-east',
        gpuHours: args.gpuHours,
        wholesalePricePerGpuHour: args.wholesalePricePerGpuHour,
        availableFrom: args.availableFrom ?? '2026-01-01T00:00:00Z',
        availableUntil: args.availableUntil ?? '2027-12-31T00:00:00Z',
      },
    },
    seller.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createListing;
}

/** Every field of a Listing, for tests that compare listings before and after an action. */
export const LISTING_FIELDS = `id seller { id name role } gpuType region gpuHours wholesalePricePerGpuHour wholesaleCostPerCredit
  totalCredits allocatedCredits availableCredits availableFrom availableUntil status createdAt`;

/** Walks the whole `listings` connection (oldest first) and returns the nodes. */
export async function allListings(t: TestApp, filter: Record<string, string> = {}): Promise<any[]> {
  const nodes: any[] = [];
  let after: string | null = null;
  for (;;) {
    const res: any = await t.gql(
      `query($filter: ListingFilter, $after: String) { listings(filter: $filter, first: 100, after: $after) { edges { node { ${LISTING_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { filter, after },
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    nodes.push(...res.data.listings.edges.map((e: any) => e.node));
    if (!res.data.listings.pageInfo.hasNextPage) return nodes;
    after = res.data.listings.pageInfo.endCursor;
  }
}

export async function listingById(t: TestApp, id: string): Promise<any> {
  const found = (await allListings(t)).find((l) => l.id === id);
  if (!found) throw new Error(`listing ${id} is not in the listings connection`);
  return found;
}

export async function listingCount(t: TestApp, filter: Record<string, string> = {}): Promise<number> {
  const res = await t.gql(`query($filter: ListingFilter) { listings(filter: $filter, first: 1) { totalCount } }`, { filter });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.listings.totalCount;
}
