/** A startup's financing requests (SPEC §13): added when the API serves them. */
export function StartupFinancingRequests() {
  return null;
}
