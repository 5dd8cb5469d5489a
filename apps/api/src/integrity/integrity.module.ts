import { Module } from '@nestjs/common';
import { IntegrityResolver } from './integrity.resolver.js';

@Module({ providers: [IntegrityResolver] })
export class IntegrityModule {}
