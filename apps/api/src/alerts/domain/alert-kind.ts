/** What an alert is about (the contract's `AlertKind`, exactly these values). */
export enum AlertKind {
  LOW_BALANCE = 'LOW_BALANCE',
  AUTO_REFILL = 'AUTO_REFILL',
  CREDITS_FROZEN = 'CREDITS_FROZEN',
  CREDITS_UNFROZEN = 'CREDITS_UNFROZEN',
  PAYMENT_OVERDUE = 'PAYMENT_OVERDUE',
}

export const ALERT_KINDS: readonly AlertKind[] = Object.values(AlertKind);
