/**
 * The API key of the signed-in user lives in sessionStorage only: it is sent as a bearer header,
 * never put in a URL or logged, and is gone when the tab closes or the user signs out.
 */
const KEY = 'ccx.apiKey';

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}
