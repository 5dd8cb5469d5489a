export function ProviderPages() {
  return null;
}
