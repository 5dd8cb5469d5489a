import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CatalogService } from './catalog.service.js';
import { parseUpsertGpuType, parseUpsertModel } from './domain/catalog-commands.js';
import { GpuTypeInput, GpuTypeModel, ModelInput, RateCardModel, toGpuTypeModel, toRateCardModel } from './models/catalog.models.js';

@Resolver()
export class CatalogResolver {
  constructor(private readonly catalog: CatalogService) {}

  @Query(() => [GpuTypeModel])
  @Access('PUBLIC')
  async gpuTypes(): Promise<GpuTypeModel[]> {
    return (await this.catalog.gpuTypes()).map(toGpuTypeModel);
  }

  @Query(() => [RateCardModel])
  @Access('PUBLIC')
  async models(): Promise<RateCardModel[]> {
    return (await this.catalog.models()).map(toRateCardModel);
  }

  @Mutation(() => GpuTypeModel)
  @Access('OPERATOR')
  async upsertGpuType(@Args('input') input: GpuTypeInput): Promise<GpuTypeModel> {
    return toGpuTypeModel(await this.catalog.upsertGpuType(parseUpsertGpuType(input)));
  }

  @Mutation(() => RateCardModel)
  @Access('OPERATOR')
  async upsertModel(@Args('input') input: ModelInput): Promise<RateCardModel> {
    return toRateCardModel(await this.catalog.upsertModel(parseUpsertModel(input)));
  }
}
