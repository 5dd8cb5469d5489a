import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/index.js';
import { WalletsResolver } from './wallets.resolver.js';
import { WalletsService } from './wallets.service.js';

@Module({ imports: [OrganizationsModule], providers: [WalletsService, WalletsResolver], exports: [WalletsService] })
export class WalletsModule {}
