import { WalletCard } from './shared';

/** Wallet entries and monthly statements (SPEC §13): added when the API serves them. */
export function WalletHistory() {
  return <WalletCard />;
}
