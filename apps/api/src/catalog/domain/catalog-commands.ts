import { BadInputError, type Decimal } from '@ccx/core';
import { CREDIT_SCALE, inputAmount, intInput } from '../../common/amounts.js';

const GPU_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,99}$/;

export interface UpsertGpuTypeCommand {
  name: string;
  creditsPerGpuHour: Decimal;
}

export interface UpsertModelCommand {
  id: string;
  inputCreditsPerMillionTokens: Decimal;
  outputCreditsPerMillionTokens: Decimal;
  /** null: a new model gets the column default (4096), an existing one keeps its figure. */
  maxOutputTokens: number | null;
}

/** upsertGpuType's input, checked in the order its refusals have always come (name first). */
export function parseUpsertGpuType(input: { name?: unknown; creditsPerGpuHour?: unknown }): UpsertGpuTypeCommand {
  if (typeof input.name !== 'string' || !GPU_NAME.test(input.name)) {
    throw new BadInputError('name must be 1 to 32 letters, digits, ".", "_" or "-"', { field: 'name' });
  }
  return { name: input.name, creditsPerGpuHour: inputAmount(input.creditsPerGpuHour, 'creditsPerGpuHour', { scale: CREDIT_SCALE }) };
}

export function parseUpsertModel(input: {
  id?: unknown;
  inputCreditsPerMillionTokens?: unknown;
  outputCreditsPerMillionTokens?: unknown;
  maxOutputTokens?: unknown;
}): UpsertModelCommand {
  if (typeof input.id !== 'string' || !MODEL_ID.test(input.id)) {
    throw new BadInputError('id must be 1 to 100 characters: letters, digits and . _ : / @ -', { field: 'id' });
  }
  return {
    id: input.id,
    inputCreditsPerMillionTokens: inputAmount(input.inputCreditsPerMillionTokens, 'inputCreditsPerMillionTokens', { scale: CREDIT_SCALE, sign: 'nonNegative' }),
    outputCreditsPerMillionTokens: inputAmount(input.outputCreditsPerMillionTokens, 'outputCreditsPerMillionTokens', { scale: CREDIT_SCALE, sign: 'nonNegative' }),
    maxOutputTokens:
      input.maxOutputTokens === undefined || input.maxOutputTokens === null ? null : intInput(input.maxOutputTokens, 'maxOutputTokens', 1, 10_000_000),
  };
}
