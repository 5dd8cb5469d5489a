import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CatalogResolver } from './catalog.resolver.js';
import { CatalogService } from './catalog.service.js';
import { GpuTypeEntity } from './gpu-type.entity.js';
import { ModelEntity } from './model.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([GpuTypeEntity, ModelEntity])],
  providers: [CatalogService, CatalogResolver],
  exports: [CatalogService],
})
export class CatalogModule {}
