import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { InvalidStateError, NotFoundError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { CatalogService } from '../catalog/index.js';
import { ListingsService } from '../listings/index.js';
import { newId } from '../common/ids.js';
import type { Principal } from '../auth/principal.js';
import type { CreateEndpointCommand, SetEndpointEnabledCommand } from './domain/endpoint-command.js';
import { EndpointStore, type EndpointRow } from './endpoint-store.js';
import { SecretBox } from './secret-box.js';

/** Sellers' inference endpoints (SPEC §12 "Supply"). */
@Injectable()
export class EndpointsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EndpointStore,
    private readonly secrets: SecretBox,
    private readonly clock: ClockService,
    private readonly listings: ListingsService,
    private readonly catalog: CatalogService,
  ) {}

  async create(cmd: CreateEndpointCommand): Promise<EndpointRow> {
    const { listingId, baseUrl, apiKey, models } = cmd;
    const id = newId();
    await withTransaction(this.dataSource, async (manager) => {
      // Share-locked: the listing cannot be withdrawn while its endpoint is being attached.
      const listing = await this.listings.shareLockInTransaction(manager, listingId);
      if (!listing || listing.sellerId !== cmd.sellerId) throw new NotFoundError(`listing ${listingId} not found`, { field: 'listingId' });
      if (listing.status === 'WITHDRAWN' || listing.status === 'EXPIRED' || listing.availableUntil <= this.clock.now()) {
        throw new InvalidStateError(`the listing is ${listing.status === 'OPEN' ? 'EXPIRED' : listing.status}: it can no longer serve`);
      }
      const known = await this.catalog.modelsInTransaction(manager, models.map((m) => m.model));
      const missing = models.find((m) => !known.some((k) => k.id === m.model));
      if (missing) throw new NotFoundError(`model ${missing.model} is not in the catalog`, { field: 'models' });
      await this.store.insertInTransaction(
        manager,
        {
          id,
          listingId,
          sellerId: cmd.sellerId,
          baseUrl,
          apiKeySealed: apiKey === null ? null : this.secrets.seal(apiKey),
          apiKeyLastFour: apiKey === null ? null : apiKey.slice(-4),
          createdAt: this.clock.now(),
        },
        models,
      );
    });
    // Committed: routing in this process sees the new endpoint at once (others within the cache's moment).
    this.store.invalidate();
    return (await this.store.get(id))!;
  }

  /** A seller turns its own endpoint on or off; the operator any endpoint. */
  async setEnabled(principal: Principal, cmd: SetEndpointEnabledCommand): Promise<EndpointRow> {
    const endpoint = await this.visible(principal, cmd.id);
    await this.store.setEnabled(endpoint.id, cmd.enabled);
    return (await this.store.get(endpoint.id))!;
  }

  list(principal: Principal): Promise<EndpointRow[]> {
    return this.store.list(principal.role === 'OPERATOR' ? null : principal.organizationId);
  }

  private async visible(principal: Principal, id: string): Promise<EndpointRow> {
    const endpoint = await this.store.get(id);
    // Another seller's endpoint is not found: its existence is not revealed.
    if (!endpoint || (principal.role !== 'OPERATOR' && endpoint.sellerId !== principal.organizationId)) {
      throw new NotFoundError(`inference endpoint ${id} not found`);
    }
    return endpoint;
  }
}
