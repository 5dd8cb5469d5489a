import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { OperatorBootstrap } from './operator-bootstrap.js';
import { OrganizationLoader } from './organization.loader.js';
import { OrganizationEntity } from './organization.entity.js';
import { OrganizationsResolver } from './organizations.resolver.js';
import { OrganizationsService } from './organizations.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([OrganizationEntity, ApiKeyEntity])],
  providers: [OrganizationsService, OrganizationsResolver, OperatorBootstrap, OrganizationLoader],
  exports: [OrganizationsService, OrganizationLoader],
})
export class OrganizationsModule {}
