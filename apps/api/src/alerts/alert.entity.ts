import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { AlertKind } from './domain/alert-kind.js';

@Entity('alerts')
export class AlertEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Insertion order: breaks ties between alerts of the same (business) instant. */
  @Column({ type: 'bigint', insert: false, update: false })
  seq: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('text')
  kind: AlertKind;

  @Column('text')
  message: string;

  @Column('jsonb')
  data: Record<string, unknown>;

  /** Business time (the clock of SPEC §9): when the cause happened. */
  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
