import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { OrganizationsModule } from '../organizations/organizations.module.js';
import { AccessGuard } from './access.guard.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';

@Module({
  imports: [OrganizationsModule],
  providers: [ApiKeyAuthenticator, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [ApiKeyAuthenticator],
})
export class AuthModule {}
