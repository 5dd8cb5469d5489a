import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { BadInputError, NotFoundError } from '@ccx/core';
import { ClockService } from '../clock/clock.service.js';
import { CREDIT_SCALE, inputAmount, intInput } from '../common/amounts.js';
import { GpuTypeEntity } from './gpu-type.entity.js';
import { ModelEntity } from './model.entity.js';

const GPU_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,99}$/;

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
  async upsertGpuType(input: { name: unknown; creditsPerGpuHour: unknown }): Promise<GpuTypeEntity> {
    if (typeof input.name !== 'string' || !GPU_NAME.test(input.name)) {
      throw new BadInputError('name must be 1 to 32 letters, digits, ".", "_" or "-"', { field: 'name' });
    }
    const creditsPerGpuHour = inputAmount(input.creditsPerGpuHour, 'creditsPerGpuHour', { scale: CREDIT_SCALE });
    const entity = { name: input.name, creditsPerGpuHour, updatedAt: this.clock.now() };
    await this.dataSource.manager.upsert(GpuTypeEntity, entity, ['name']);
    return entity;
  }

  models(): Promise<ModelEntity[]> {
    return this.dataSource.manager.find(ModelEntity, { order: { id: 'ASC' } });
  }

  /** Rate cards of these models and GPU types, read in the caller's transaction (metering). */
  modelsInTransaction(manager: EntityManager, ids: string[]): Promise<ModelEntity[]> {
    return manager.find(ModelEntity, { where: { id: In(ids) } });
  }

  gpuTypesInTransaction(manager: EntityManager, names: string[]): Promise<GpuTypeEntity[]> {
    return manager.find(GpuTypeEntity, { where: { name: In(names) } });
  }

  async upsertModel(input: {
    id: unknown;
    inputCreditsPerMillionTokens: unknown;
    outputCreditsPerMillionTokens: unknown;
    maxOutputTokens?: unknown;
  }): Promise<ModelEntity> {
    if (typeof input.id !== 'string' || !MODEL_ID.test(input.id)) {
      throw new BadInputError('id must be 1 to 100 characters: letters, digits and . _ : / @ -', { field: 'id' });
    }
    const entity = {
      id: input.id,
      inputCreditsPerMillionTokens: inputAmount(input.inputCreditsPerMillionTokens, 'inputCreditsPerMillionTokens', { scale: CREDIT_SCALE, sign: 'nonNegative' }),
      outputCreditsPerMillionTokens: inputAmount(input.outputCreditsPerMillionTokens, 'outputCreditsPerMillionTokens', { scale: CREDIT_SCALE, sign: 'nonNegative' }),
      updatedAt: this.clock.now(),
      // Omitted: a new model gets the column default (4096), an existing one keeps its figure.
      ...(input.maxOutputTokens === undefined || input.maxOutputTokens === null
        ? {}
        : { maxOutputTokens: intInput(input.maxOutputTokens, 'maxOutputTokens', 1, 10_000_000) }),
    };
    await this.dataSource.manager.upsert(ModelEntity, entity, ['id']);
    return this.dataSource.manager.findOneByOrFail(ModelEntity, { id: entity.id });
  }
}
