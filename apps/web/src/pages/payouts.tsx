/** Payouts (SPEC §13): added when the API serves them. */
export function OperatorPayouts() {
  return <p className="muted">Payouts are not served by this API yet.</p>;
}

export function PayoutsPage() {
  return <p className="muted">Payouts are not served by this API yet.</p>;
}
