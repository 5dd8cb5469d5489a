import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

/** A model's rate card (SPEC §8). Usage stores the rate it used, so later changes never alter the past. */
@Entity('models')
export class ModelEntity {
  @PrimaryColumn('text')
  id: string;

  @Column('numeric', { name: 'input_credits_per_million_tokens', transformer: numericTransformer })
  inputCreditsPerMillionTokens: Decimal;

  @Column('numeric', { name: 'output_credits_per_million_tokens', transformer: numericTransformer })
  outputCreditsPerMillionTokens: Decimal;

  /** Output tokens a call may produce when it sets no max_tokens: the gateway's hold bound (SPEC §12). */
  @Column('integer', { name: 'max_output_tokens' })
  maxOutputTokens: number;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
