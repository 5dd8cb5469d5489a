import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { ApiKeysResolver } from './api-keys.resolver.js';
import { ApiKeysService } from './api-keys.service.js';
import { OperatorBootstrap } from './operator-bootstrap.js';
import { OrganizationDirectory } from './organization-directory.js';
import { OrganizationDirectoryResolver } from './organization-directory.resolver.js';
import { OrganizationLoader } from './organization.loader.js';
import { OrganizationEntity } from './organization.entity.js';
import { OrganizationsResolver } from './organizations.resolver.js';
import { OrganizationsService } from './organizations.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([OrganizationEntity, ApiKeyEntity])],
  providers: [OrganizationsService, OrganizationsResolver, ApiKeysService, ApiKeysResolver, OperatorBootstrap, OrganizationLoader, OrganizationDirectory, OrganizationDirectoryResolver],
  exports: [OrganizationsService, ApiKeysService, OrganizationLoader],
})
export class OrganizationsModule {}
