import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

@Entity('gpu_types')
export class GpuTypeEntity {
  @PrimaryColumn('text')
  name: string;

  @Column('numeric', { name: 'credits_per_gpu_hour', transformer: numericTransformer })
  creditsPerGpuHour: Decimal;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
