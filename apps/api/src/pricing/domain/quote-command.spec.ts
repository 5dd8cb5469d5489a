import { parseQuoteCommand } from './quote-command.js';

describe('parseQuoteCommand', () => {
  it.each<[string, Parameters<typeof parseQuoteCommand>[0], [string, number | null]]>([
    ['STANDARD ignores termMonths', { type: 'STANDARD', credits: '10', termMonths: 99 }, ['10', null]],
    ['FINANCED has no term', { type: 'FINANCED', credits: '10' }, ['10', null]],
    ['RESERVED: 10 over 4 months is 2.5 a month', { type: 'RESERVED', credits: '10', termMonths: 4 }, ['10', 4]],
    ['RESERVED: micro-credits split evenly', { type: 'RESERVED', credits: '0.000003', termMonths: 3 }, ['0.000003', 3]],
  ])('%s', (_name, input, [credits, term]) => {
    const cmd = parseQuoteCommand(input, 36);
    expect([cmd.credits.toFixed(), cmd.termMonths]).toEqual([credits, term]);
  });

  it.each<[string, Parameters<typeof parseQuoteCommand>[0], string]>([
    ['credits not a number', { type: 'STANDARD', credits: 'many' }, 'credits'],
    ['RESERVED without a term', { type: 'RESERVED', credits: '10' }, 'termMonths'],
    ['RESERVED past the longest term', { type: 'RESERVED', credits: '10', termMonths: 37 }, 'termMonths'],
    ['RESERVED not whole micro-credits a month', { type: 'RESERVED', credits: '0.000010', termMonths: 3 }, 'credits'],
  ])('%s: BAD_USER_INPUT on %s', (_name, input, field) => {
    expect(() => parseQuoteCommand(input, 36)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: expect.objectContaining({ field }) }));
  });
});
