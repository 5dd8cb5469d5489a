import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { FreezeAction } from './domain/freeze-action.js';

/** The freeze controller's audit trail: who (null = the controller itself), when, why. */
@Entity('freeze_events')
export class FreezeEventEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'facility_id' })
  facilityId: string;

  @Column('uuid', { name: 'block_id' })
  blockId: string;

  @Column('text')
  action: FreezeAction;

  @Column('uuid', { name: 'actor_id', nullable: true })
  actorId: string | null;

  @Column('text')
  reason: string;

  @Column('timestamptz')
  at: Date;
}
