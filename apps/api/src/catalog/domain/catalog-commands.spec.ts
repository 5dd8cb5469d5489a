import { parseUpsertGpuType, parseUpsertModel } from './catalog-commands.js';
import { refusalOf as refusal } from '../../../../../test/support/refusal.js';

describe('parseUpsertGpuType', () => {
  it('gives the name and credits per GPU-hour as a Decimal', () => {
    const cmd = parseUpsertGpuType({ name: 'H100', creditsPerGpuHour: '1.5' });
    expect([cmd.name, cmd.creditsPerGpuHour.toFixed()]).toEqual(['H100', '1.5']);
  });

  it.each([
    [{ name: '', creditsPerGpuHour: '1' }, 'name'],
    [{ name: 'H 100', creditsPerGpuHour: '1' }, 'name'],
    [{ name: 42, creditsPerGpuHour: '1' }, 'name'],
    [{ name: 'x'.repeat(33), creditsPerGpuHour: '1' }, 'name'],
    [{ name: 'bad name', creditsPerGpuHour: 'nope' }, 'name'],
    [{ name: 'A100', creditsPerGpuHour: '0' }, 'creditsPerGpuHour'],
    [{ name: 'A100', creditsPerGpuHour: '1.0000001' }, 'creditsPerGpuHour'],
    [{ name: 'A100', creditsPerGpuHour: 1 }, 'creditsPerGpuHour'],
  ])('refuses %j on %s', (input, field) => {
    expect(refusal(() => parseUpsertGpuType(input))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});

describe('parseUpsertModel', () => {
  const valid = { id: 'llama-3:8b', inputCreditsPerMillionTokens: '0', outputCreditsPerMillionTokens: '2.5' };

  it('keeps maxOutputTokens null when left out or null', () => {
    expect(parseUpsertModel(valid).maxOutputTokens).toBeNull();
    expect(parseUpsertModel({ ...valid, maxOutputTokens: null }).maxOutputTokens).toBeNull();
    expect(parseUpsertModel({ ...valid, maxOutputTokens: 8192 }).maxOutputTokens).toBe(8192);
  });

  it.each([
    [{ ...valid, id: '' }, 'id'],
    [{ ...valid, id: '-x' }, 'id'],
    [{ ...valid, inputCreditsPerMillionTokens: '-1' }, 'inputCreditsPerMillionTokens'],
    [{ ...valid, outputCreditsPerMillionTokens: '1e3' }, 'outputCreditsPerMillionTokens'],
    [{ ...valid, maxOutputTokens: 0 }, 'maxOutputTokens'],
    [{ ...valid, maxOutputTokens: 1.5 }, 'maxOutputTokens'],
    [{ ...valid, maxOutputTokens: 10_000_001 }, 'maxOutputTokens'],
  ])('refuses %j on %s', (input, field) => {
    expect(refusal(() => parseUpsertModel(input))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});
