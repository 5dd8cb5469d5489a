import { Decimal } from '@ccx/core';
import { parseCreateListingCommand, type CreateListingFields } from './create-listing-command.js';

const seller = '00000000-0000-4000-8000-000000000002';
const h100 = { name: 'H100', creditsPerGpuHour: new Decimal(1) };
const valid: CreateListingFields = {
  region: 'us-east',
  gpuHours: '10',
  wholesalePricePerGpuHour: '1.50',
  availableFrom: new Date('2026-01-01T00:00:00Z'),
  availableUntil: new Date('2027-01-01T00:00:00Z'),
};

describe('parseCreateListingCommand', () => {
  it('parses amounts, trims the region and keeps the catalog figures', () => {
    const cmd = parseCreateListingCommand(seller, h100, { ...valid, region: ' eu-west ', gpuHours: '0.25' });
    expect([cmd.region, cmd.gpuHours.toFixed(), cmd.wholesalePricePerGpuHour.toFixed(), cmd.gpu.name]).toEqual(['eu-west', '0.25', '1.5', 'H100']);
  });

  it.each<[string, Partial<CreateListingFields>, string]>([
    ['a blank region', { region: '  ' }, 'region'],
    ['a region of 65 characters', { region: 'r'.repeat(65) }, 'region'],
    ['gpuHours with 3 decimals', { gpuHours: '1.001' }, 'gpuHours'],
    ['gpuHours as a number', { gpuHours: 10 }, 'gpuHours'],
    ['a price with 7 decimals', { wholesalePricePerGpuHour: '1.0000001' }, 'wholesalePricePerGpuHour'],
    ['a window that ends as it starts', { availableUntil: valid.availableFrom }, 'availableUntil'],
    ['region before gpuHours', { region: '', gpuHours: 'x' }, 'region'],
  ])('%s: BAD_USER_INPUT on %s', (_name, over, field) => {
    expect(() => parseCreateListingCommand(seller, h100, { ...valid, ...over })).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT', details: expect.objectContaining({ field }) }),
    );
  });
});
