import { Decimal } from '@ccx/core';
import type { ListingStatus } from './domain/listing-status.js';
import { effectiveStatus, type ListingEntity } from './listing.entity.js';

/** SPEC §4: time decides EXPIRED, whatever the stored status says, except a withdrawal. */
const until = new Date('2026-02-01T00:00:00Z');
const before = new Date('2026-01-31T23:59:59Z');

function listing(status: ListingStatus): ListingEntity {
  return { status, availableFrom: new Date('2026-01-01T00:00:00Z'), availableUntil: until, totalCredits: new Decimal(1) } as ListingEntity;
}

describe('effectiveStatus', () => {
  it.each<[ListingStatus, Date, ListingStatus]>([
    ['OPEN', before, 'OPEN'],
    ['SOLD_OUT', before, 'SOLD_OUT'],
    ['WITHDRAWN', before, 'WITHDRAWN'],
    ['OPEN', until, 'EXPIRED'],
    ['SOLD_OUT', until, 'EXPIRED'],
    ['EXPIRED', until, 'EXPIRED'],
    ['WITHDRAWN', until, 'WITHDRAWN'],
  ])('stored %s at %s is %s', (stored, now, expected) => {
    expect(effectiveStatus(listing(stored), now)).toBe(expected);
  });
});
