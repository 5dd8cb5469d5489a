export function LenderPages() {
  return null;
}
