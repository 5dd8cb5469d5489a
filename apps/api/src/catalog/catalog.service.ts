import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { Decimal, NotFoundError } from '@ccx/core';
import { namedRows } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import type { UpsertGpuTypeCommand, UpsertModelCommand } from './domain/catalog-commands.js';
import { GpuTypeEntity } from './gpu-type.entity.js';
import { ModelEntity } from './model.entity.js';

const MODEL_RATES = {
  name: 'ccx_catalog_model_rates',
  text: `SELECT id, input_credits_per_million_tokens::text AS input, output_credits_per_million_tokens::text AS output FROM models WHERE id = ANY($1::text[])`,
};
const GPU_RATES = { name: 'ccx_catalog_gpu_rates', text: `SELECT name, credits_per_gpu_hour::text AS rate FROM gpu_types WHERE name = ANY($1::text[])` };

/** The GPU catalog (SPEC §1) and model rate cards (SPEC §8). */
@Injectable()
export class CatalogService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
  ) {}

  gpuTypes(): Promise<GpuTypeEntity[]> {
    return this.dataSource.manager.find(GpuTypeEntity, { order: { name: 'ASC' } });
  }

  async gpuType(name: string): Promise<GpuTypeEntity> {
    const found = typeof name === 'string' ? await this.dataSource.manager.findOneBy(GpuTypeEntity, { name }) : null;
    if (!found) throw new NotFoundError(`GPU type ${String(name).slice(0, 40)} is not in the catalog`, { field: 'gpuType' });
    return found;
  }

  /** Adds or changes a GPU type. Existing listings keep the figure they were listed with. */
  async upsertGpuType(cmd: UpsertGpuTypeCommand): Promise<GpuTypeEntity> {
    const entity = { name: cmd.name, creditsPerGpuHour: cmd.creditsPerGpuHour, updatedAt: this.clock.now() };
    await this.dataSource.manager.upsert(GpuTypeEntity, entity, ['name']);
    return entity;
  }

  models(): Promise<ModelEntity[]> {
    return this.dataSource.manager.find(ModelEntity, { order: { id: 'ASC' } });
  }

  /**
   * Rate cards of these models, as metering reads them on every charge: a named statement in the
   * caller's transaction, the figures only (no entity).
   */
  async modelRatesInTransaction(manager: EntityManager, ids: string[]): Promise<{ id: string; inputPerMillion: Decimal; outputPerMillion: Decimal }[]> {
    const rows = await namedRows<{ id: string; input: string; output: string }>(manager, MODEL_RATES, [ids]);
    return rows.map((r) => ({ id: r.id, inputPerMillion: new Decimal(r.input), outputPerMillion: new Decimal(r.output) }));
  }

  /** GPU types' rates, as metering reads them (see modelRatesInTransaction). */
  async gpuRatesInTransaction(manager: EntityManager, names: string[]): Promise<{ name: string; creditsPerGpuHour: Decimal }[]> {
    const rows = await namedRows<{ name: string; rate: string }>(manager, GPU_RATES, [names]);
    return rows.map((r) => ({ name: r.name, creditsPerGpuHour: new Decimal(r.rate) }));
  }

  /** Rate cards of these models and GPU types, read in the caller's transaction (metering). */
  modelsInTransaction(manager: EntityManager, ids: string[]): Promise<ModelEntity[]> {
    return manager.find(ModelEntity, { where: { id: In(ids) } });
  }

  gpuTypesInTransaction(manager: EntityManager, names: string[]): Promise<GpuTypeEntity[]> {
    return manager.find(GpuTypeEntity, { where: { name: In(names) } });
  }

  async upsertModel(cmd: UpsertModelCommand): Promise<ModelEntity> {
    const entity = {
      id: cmd.id,
      inputCreditsPerMillionTokens: cmd.inputCreditsPerMillionTokens,
      outputCreditsPerMillionTokens: cmd.outputCreditsPerMillionTokens,
      updatedAt: this.clock.now(),
      // Omitted: a new model gets the column default (4096), an existing one keeps its figure.
      ...(cmd.maxOutputTokens === null ? {} : { maxOutputTokens: cmd.maxOutputTokens }),
    };
    await this.dataSource.manager.upsert(ModelEntity, entity, ['id']);
    return this.dataSource.manager.findOneByOrFail(ModelEntity, { id: entity.id });
  }
}
