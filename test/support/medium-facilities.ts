import { parseAcceptFacility, parseOfferFacility } from '../../apps/api/src/facilities/domain/facility-commands.js';
import { FacilitiesService } from '../../apps/api/src/facilities/facilities.service.js';
import { OrganizationsService } from '../../apps/api/src/organizations/organizations.service.js';
import { deposit, listing, organization, type MediumApp } from './medium.js';

/**
 * A financing world for the medium specs (SPEC §7) through the services: one deep listing at
 * 1.60 per credit, so a 1,000.00 facility (980.00 after the 2% fee) buys exactly 612.5 credits and
 * every figure stays exact; a lender with 10,000.00 and a borrower with 1,000.00.
 */
export interface FinancingParties {
  lender: string;
  borrower: string;
  seller: string;
  lenderWallet: string;
  borrowerWallet: string;
  sellerWallet: string;
}

export const WHOLESALE_PER_CREDIT = '1.60';

export async function financingParties(m: MediumApp, lenderMoney = '10000.00'): Promise<FinancingParties> {
  const organizations = m.get(OrganizationsService);
  const seller = await organization(m, 'SELLER');
  await listing(m, seller, '1000000', WHOLESALE_PER_CREDIT);
  const lender = await organization(m, 'LENDER');
  if (lenderMoney !== '0') await deposit(m, lender, lenderMoney);
  const borrower = await organization(m, 'BUYER');
  await deposit(m, borrower, '1000.00');
  const wallet = async (id: string) => (await organizations.get(id)).walletAccountId;
  return { lender, borrower, seller, lenderWallet: await wallet(lender), borrowerWallet: await wallet(borrower), sellerWallet: await wallet(seller) };
}

export interface Terms {
  principal: string;
  apr: string;
  termMonths: number;
}

export const TERMS: Terms = { principal: '1000.00', apr: '0.12', termMonths: 12 };

/** The lender offers `terms` to the borrower (the facility stays OFFERED). */
export function offer(m: MediumApp, p: FinancingParties, terms: Terms = TERMS) {
  return m.get(FacilitiesService).offer(parseOfferFacility(p.lender, { borrowerId: p.borrower, ...terms }, m.config.rules.financing));
}

/** Offered and accepted: an ACTIVE facility with its FINANCED block. */
export async function openFacility(m: MediumApp, p: FinancingParties, terms: Terms = TERMS) {
  const offered = await offer(m, p, terms);
  return m.get(FacilitiesService).accept(parseAcceptFacility(p.borrower, offered.id));
}
