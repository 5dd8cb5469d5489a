import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

/** An API key, stored only as its SHA-256 (keys are 256-bit random, so a fast hash is enough). */
@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('bytea', { name: 'key_hash' })
  keyHash: Buffer;

  /** The first characters, to tell keys apart in logs and support without revealing them. */
  @Column('text')
  prefix: string;

  /** 'default' for the registration key, 'operator' for the key from CCX_OPERATOR_KEY. */
  @Column('text')
  name: string;

  /** Last 4 characters of the secret; NULL for keys issued before named keys existed. */
  @Column('text', { name: 'last_four', nullable: true })
  lastFour: string | null;

  /** Credits per UTC calendar month the gateway lets this key spend; NULL: no limit of its own. */
  @Column('numeric', { name: 'monthly_credit_limit', nullable: true, transformer: numericTransformer })
  monthlyCreditLimit: Decimal | null;

  /** Business-clock instant of the last authentication, kept to the minute (see ApiKeysService). */
  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}
