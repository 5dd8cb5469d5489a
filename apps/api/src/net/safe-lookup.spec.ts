import type { LookupAddress, LookupOptions } from 'node:dns';
import { safeLookup } from './safe-lookup.js';
import { SsrfBlockedError } from './ssrf-blocked-error.js';

type Answer = { error: (Error & { code?: string }) | null; address: string | LookupAddress[]; family?: number };

function lookup(allowPrivate: boolean, answers: { address: string; family: number }[], options: LookupOptions = {}): Promise<Answer> {
  const fn = safeLookup({ allowPrivate, resolver: async () => answers });
  return new Promise((resolve) => fn('hooks.example.com', options, (error, address, family) => resolve({ error, address, family })));
}

const v4 = (address: string) => ({ address, family: 4 });
const v6 = (address: string) => ({ address, family: 6 });

describe('safeLookup', () => {
  it.each([
    ['a loopback address', [v4('127.0.0.1')], '127.0.0.1'],
    ['the metadata service', [v4('169.254.169.254')], '169.254.169.254'],
    ['a private address after a public one', [v4('93.184.215.14'), v4('10.0.0.5')], '10.0.0.5'],
    ['an IPv6 loopback', [v6('::1')], '::1'],
    ['an IPv4-mapped loopback', [v6('::ffff:127.0.0.1')], '::ffff:127.0.0.1'],
  ])('refuses a name that resolves to %s', async (_label, answers, blocked) => {
    for (const options of [{}, { all: true }]) {
      const { error } = await lookup(false, answers, options);
      expect(error).toBeInstanceOf(SsrfBlockedError);
      expect(error!.code).toBe('ERR_CCX_BLOCKED_ADDRESS');
      expect((error as SsrfBlockedError).address).toBe(blocked);
      expect(error!.message).toMatch(new RegExp(`^refused: hooks\\.example\\.com resolves to an? .+ address \\(${blocked.replace(/\./g, '\\.')}\\)$`));
    }
    expect((await lookup(true, answers)).error).toBeNull();
  });

  it('answers one address, or all of them with options.all', async () => {
    const answers = [v4('93.184.215.14'), v6('2606:2800:21f:cb07:6820:80da:af6b:8b2c')];
    expect(await lookup(false, answers)).toEqual({ error: null, address: '93.184.215.14', family: 4 });
    expect(await lookup(false, answers, { all: true })).toEqual({ error: null, address: answers, family: undefined });
  });

  it('honours options.family', async () => {
    const answers = [v4('93.184.215.14'), v6('2606:2800:21f:cb07:6820:80da:af6b:8b2c')];
    expect(await lookup(false, answers, { family: 6 })).toEqual({ error: null, address: answers[1].address, family: 6 });
    const none = await lookup(false, [v6('::1')], { family: 4 });
    expect(none.error?.code).toBe('ENOTFOUND');
  });

  it('passes a resolver failure on', async () => {
    const fn = safeLookup({
      allowPrivate: false,
      resolver: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
      },
    });
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => fn('nowhere.invalid', {}, (e) => resolve(e)));
    expect(error?.code).toBe('ENOTFOUND');
  });

  it('resolves through the system resolver by default', async () => {
    const fn = safeLookup({ allowPrivate: false });
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => fn('localhost', {}, (e) => resolve(e)));
    // localhost resolves to a loopback address on every machine.
    expect(error).toBeInstanceOf(SsrfBlockedError);
  });
});
