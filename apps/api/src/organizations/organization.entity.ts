import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { OrgStatus, Role } from '../auth/principal.js';

@Entity('organizations')
export class OrganizationEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  role: Role;

  @Column('text')
  status: OrgStatus;

  @Column('bigint', { name: 'wallet_account_id' })
  walletAccountId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
