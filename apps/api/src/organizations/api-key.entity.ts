import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

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

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}
