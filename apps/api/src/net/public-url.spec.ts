import { DomainError } from '@ccx/core';
import { assertPublicUrl } from './public-url.js';

function refusal(raw: string, allowPrivate: boolean, field?: string): DomainError | null {
  try {
    assertPublicUrl(raw, { allowPrivate, field });
    return null;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
}

describe('assertPublicUrl', () => {
  describe('refused in any mode (syntax)', () => {
    it.each([
      ['', 'must be an http(s) URL of 1 to 2048 characters'],
      [`https://example.com/${'a'.repeat(2049 - 20)}`, 'must be an http(s) URL of 1 to 2048 characters'],
      [' https://example.com/', 'must not start or end with spaces'],
      ['https://example.com/\n', 'must not start or end with spaces'],
      ['example.com/hook', 'is not a valid URL'],
      ['http://', 'is not a valid URL'],
      ['http://exa mple.com', 'is not a valid URL'],
      ['ftp://example.com/', 'must start with https:// or http://'],
      ['file:///etc/passwd', 'must start with https:// or http://'],
      ['javascript:alert(1)', 'must start with https:// or http://'],
      ['gopher://example.com', 'must start with https:// or http://'],
      ['http://user:pw@example.com/', 'must not contain a user name or password'],
      ['https://user@example.com/', 'must not contain a user name or password'],
    ])('%j: %s', (raw, message) => {
      for (const allowPrivate of [false, true]) {
        const error = refusal(raw, allowPrivate, 'webhookUrl');
        expect(error?.code).toBe('BAD_USER_INPUT');
        expect(error?.message).toBe(`webhookUrl ${message}`);
        expect(error?.details).toEqual({ field: 'webhookUrl' });
      }
    });
  });

  describe('refused unless private URLs are allowed', () => {
    it.each([
      ['http://127.0.0.1:8080/internal-admin', '127.0.0.1 is a loopback address'],
      ['http://0x7f000001/', '127.0.0.1 is a loopback address'],
      ['http://2130706433/', '127.0.0.1 is a loopback address'],
      ['http://0177.0.0.1/', '127.0.0.1 is a loopback address'],
      ['http://127.1/', '127.0.0.1 is a loopback address'],
      ['http://127.0.0.1./', '127.0.0.1 is a loopback address'],
      ['http://%31%32%37.0.0.1/', '127.0.0.1 is a loopback address'],
      ['http://0/', '0.0.0.0 is an unspecified address'],
      ['http://0.0.0.0/', '0.0.0.0 is an unspecified address'],
      ['http://169.254.169.254/latest/meta-data', '169.254.169.254 is a link-local address'],
      ['http://10.0.0.5/', '10.0.0.5 is a private address'],
      ['http://172.16.0.1/', '172.16.0.1 is a private address'],
      ['https://192.168.1.1/', '192.168.1.1 is a private address'],
      ['http://100.64.0.1/', '100.64.0.1 is a carrier-grade NAT address'],
      ['http://[::1]/', '::1 is a loopback address'],
      ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is a loopback address'],
      ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is a unique-local (private) address'],
      ['http://[fe80::1]/', 'fe80::1 is a link-local address'],
      ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe is a link-local address'],
      ['http://localhost:3000/', 'localhost is a local or internal name'],
      ['http://LOCALHOST./', 'localhost. is a local or internal name'],
      ['http://admin.localhost/', 'admin.localhost is a local or internal name'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a local or internal name'],
      ['http://printer.local/', 'printer.local is a local or internal name'],
    ])('%s: %s', (raw, reason) => {
      const error = refusal(raw, false, 'baseUrl');
      expect(error?.code).toBe('BAD_USER_INPUT');
      expect(error?.message).toBe(`baseUrl must point at a public internet address: ${reason}`);
      expect(refusal(raw, true)).toBeNull();
    });
  });

  it.each([
    'https://hooks.example.com/ccx?x=1',
    'http://example.com',
    'https://8.8.8.8/',
    'https://[2606:4700:4700::1111]/',
    'https://localhost.example.com/',
    'https://internal.example.com/',
    'https://例え.テスト/🚀',
    `https://example.com/${'a'.repeat(2048 - 20)}`,
  ])('accepts %s, and returns the parsed URL', (raw) => {
    const url = assertPublicUrl(raw, { allowPrivate: false });
    expect(url).toBeInstanceOf(URL);
    expect(url.href.startsWith(raw.slice(0, 8))).toBe(true);
  });

  it('names "url" when no field is given', () => {
    expect(refusal('ftp://example.com', false)?.message).toBe('url must start with https:// or http://');
  });
});
